"""clr-lab's command line: `python -m runner [overrides]` (Hydra), dispatched on `task` (runner/tasks.py).

    python -m runner                                    # train small_cnn on digits with the triangular policy
    python -m runner schedule=triangular2 seed=1        # another policy, another seed
    python -m runner task=preview schedule=exp_range    # draw a schedule, no training
    python -m runner -m schedule=constant,triangular,triangular2 seed=0,1,2   # a sweep

Bad input exits with status 2 and one line `error: <key>=<value>: <what is allowed>`; set HYDRA_FULL_ERROR=1 for
the full traceback. runner/status.py lists every exit status.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from runner import hydra_compat
from runner.batched.register import register_plugin
from runner.config import validate
from runner.hydra_compat import RejectedConfig
from runner.paths import CONF_DIR
from runner.status import OUTCOMES, ExitCode, Status
from runner.summary import RunSummary
from runner.tasks import TASKS

log = logging.getLogger("runner")
register_plugin()  # hydra/launcher=batched, from a wheel or from this checkout (runner/batched/register.py)
# Files that make a folder a result: a refused command that left none of them leaves no folder behind.
RECORDS = ("metrics.csv", "summary.json", "checkpoint.pt", "schedule.csv", "range_test.json")


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def hydra_entry(cfg: DictConfig) -> str:
    hydra_cfg = HydraConfig.get()
    out_dir = Path(hydra_cfg.runtime.output_dir)
    try:
        run_cfg = validate(cfg)
        status = TASKS.entry(run_cfg.task).build(run_cfg, out_dir)
    except Exception as exc:
        if hydra_cfg.mode != RunMode.MULTIRUN:
            line = hydra_compat.one_line(exc)
            if line is not None:  # a bad value found at run time (a missing dataset): one line, exit 2
                discard_unused_folder(out_dir)
                raise RejectedConfig(line) from None
            raise
        # In a sweep, one job's error must not stop the others: record it in the job's folder and go on.
        status = record_failure(out_dir, cfg, exc)
    OUTCOMES.note(status)
    return str(status)


def main() -> int:
    """Run the command; returns its exit status (runner/status.py)."""
    with hydra_compat.exceptions_from_hydra() as show_traceback:
        try:
            hydra_entry()
        except RejectedConfig as e:
            print(f"error: {e}", file=sys.stderr)
            return ExitCode.BAD_INPUT
        except SystemExit as e:  # --help, --info and Hydra's own usage errors
            return e.code if isinstance(e.code, int) else (0 if e.code is None else ExitCode.BAD_INPUT)
        except Exception as e:  # noqa: BLE001 - everything is reported, as one line or as a traceback
            line = hydra_compat.one_line(e)
            if line is None or show_traceback:
                raise
            print(f"error: {line}", file=sys.stderr)
            return ExitCode.BAD_INPUT
    return OUTCOMES.exit_code()


def discard_unused_folder(out_dir: Path) -> None:
    """Remove what Hydra wrote into a run folder (.hydra/, run.log) when the run was refused before producing
    anything, so no folder looks like a result. A folder that holds any record of a run is left alone."""
    out_dir = Path(out_dir)
    if any((out_dir / name).exists() for name in RECORDS):
        return
    shutil.rmtree(out_dir / ".hydra", ignore_errors=True)
    (out_dir / "run.log").unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        out_dir.rmdir()  # only if nothing else is in it


def record_failure(out_dir: Path, cfg: Any, exc: BaseException) -> Status:
    """summary.json with status failed and the error, for a sweep job that raised before its loop could record it."""
    from runner import summary as summary_file

    summary = summary_file.read(out_dir) or RunSummary()
    line = hydra_compat.one_line(exc)
    error = line or f"{type(exc).__name__}: {exc}"
    log.error("job failed: %s", error, exc_info=line is None)  # a traceback only for what is not a config error
    summary.update(
        status=Status.FAILED.value, error=error, seed=cfg.get("seed"), schedule=(cfg.get("schedule") or {}).get("name")
    )
    summary.write(out_dir)
    return Status.FAILED
