"""clr-lab's command line: `python -m runner [overrides]` (Hydra). Dispatches on `task`.

    python -m runner                                    # train small_cnn on digits with the triangular policy
    python -m runner schedule=triangular2 seed=1        # another policy, another seed
    python -m runner task=preview schedule=exp_range    # draw a schedule, no training
    python -m runner -m schedule=constant,triangular,triangular2 seed=0,1,2   # a sweep

Bad input exits with status 2 and one line `error: <key>=<value>: <what is allowed>`; set HYDRA_FULL_ERROR=1 for
the full traceback. A run whose training failed exits 1 after recording the failure in its folder.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from runner import cli_errors, outcome
from runner.callbacks import RejectedConfig
from runner.config import validate

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")
FAILED_STATUSES = ("failed", "diverged", "interrupted")


def _range_test(run_cfg, out_dir):
    from runner import range_test

    return range_test.run(run_cfg, out_dir)


def _train(run_cfg, out_dir):
    from runner import tasks

    return tasks.run_train(run_cfg, out_dir)


def _preview(run_cfg, out_dir):
    from runner import tasks

    return tasks.run_preview(run_cfg, out_dir)


# One entry per value of `task`; each takes the validated config and the run folder and returns a status.
TASKS = {"train": _train, "preview": _preview, "range_test": _range_test}


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def hydra_entry(cfg: DictConfig) -> str:
    from runner import tasks

    hydra_cfg = HydraConfig.get()
    out_dir = Path(hydra_cfg.runtime.output_dir)
    try:
        run_cfg = validate(cfg)
        status = TASKS[run_cfg.task](run_cfg, out_dir)
    except Exception as exc:
        if hydra_cfg.mode != RunMode.MULTIRUN:
            line = cli_errors.one_line(exc)
            if line is not None:  # a bad value found at run time (a missing dataset): one line, exit 2
                tasks.discard_unused_folder(out_dir)
                raise RejectedConfig(line) from None
            raise
        # In a sweep, one job's error must not stop the others: record it in the job's folder and go on.
        status = tasks.record_failure(out_dir, cfg, exc)
    if status in FAILED_STATUSES:
        outcome.mark_failed()
    return status


def main() -> int:
    show_traceback = os.environ.get("HYDRA_FULL_ERROR") == "1"
    # Hydra prints its own multi-line report unless this is set; we want the exception, to print one line.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        hydra_entry()
    except RejectedConfig as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:  # --help, --info and Hydra's own usage errors
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    except Exception as e:  # noqa: BLE001 - everything is reported, as one line or as a traceback
        line = cli_errors.one_line(e)
        if line is None or show_traceback:
            raise
        print(f"error: {line}", file=sys.stderr)
        return 2
    finally:
        if not show_traceback:
            os.environ.pop("HYDRA_FULL_ERROR", None)
    return outcome.exit_code()


def exit_without_teardown(code: int) -> None:
    """Exit with `code`, skipping the interpreter's teardown when no other thread is at work.

    Tearing down torch and torchvision (module cleanup and the CUDA build's library destructors) takes about 0.7 s
    of every command and faults in about 128 MiB of library pages the run never used, which is what a peak-memory
    measurement then reports. Everything the run writes is closed by now; the atexit handlers (logging's final
    flush, temporary folders, worker pools) still run. A live non-daemon thread gets the normal exit.
    """
    import atexit
    import threading

    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_without_teardown(main())
