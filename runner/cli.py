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
import signal
import sys
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from runner import folder_lock, hydra_compat
from runner.batched.register import register_plugin
from runner.config import validate
from runner.errors import filesystem_line
from runner.folder_lock import FolderBusy
from runner.hydra_compat import RejectedConfig
from runner.paths import CONF_DIR
from runner.run_folder import FolderRefused
from runner.status import FINAL, OUTCOMES, ExitCode, Status
from runner.summary import RunSummary
from runner.sweep import stop
from runner.tasks import TASKS

log = logging.getLogger("runner")
register_plugin()  # hydra/launcher=batched, from a wheel or from this checkout (runner/batched/register.py)
# Files that make a folder a result: a refused command that left none of them leaves no folder behind.
RECORDS = ("metrics.csv", "summary.json", "checkpoint.pt", "schedule.csv", "range_test.json")


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def hydra_entry(cfg: DictConfig) -> str:
    hydra_cfg = HydraConfig.get()
    out_dir = Path(hydra_cfg.runtime.output_dir)
    if hydra_cfg.mode != RunMode.MULTIRUN and stop.requested():  # Ctrl-C while Hydra started: nothing to keep
        discard_unused_folder(out_dir)
        raise KeyboardInterrupt
    if hydra_cfg.mode == RunMode.MULTIRUN and stop.requested():
        # The sweep is stopping: this job starts nothing, and says so (the same command starts it later).
        status = record_not_started(out_dir, cfg)
        OUTCOMES.note(status)
        return str(status)
    try:
        # A single run holds its folder since on_run_start; a sweep job run elsewhere takes its own folder here.
        folder_lock.acquire(out_dir, f"hydra.run.dir={str(out_dir)!r}")
    except FolderBusy as e:
        if hydra_cfg.mode != RunMode.MULTIRUN:
            raise RejectedConfig(str(e)) from None
        log.error("job not run: %s", e)  # nothing is written into a folder another process holds
        OUTCOMES.note(Status.FAILED)
        return str(Status.FAILED)
    try:
        run_cfg = validate(cfg)
        status = TASKS.entry(run_cfg.task).build(run_cfg, out_dir)
    except KeyboardInterrupt:  # Ctrl-C while loading or building: no record yet, so no folder either
        discard_unused_folder(out_dir)
        raise
    except Exception as exc:
        if hydra_cfg.mode != RunMode.MULTIRUN:
            line = hydra_compat.one_line(exc)
            if line is not None:  # a bad value found at run time (a missing dataset): one line, exit 2
                discard_unused_folder(out_dir)
                raise RejectedConfig(line) from None
            raise
        if isinstance(exc, FolderRefused):  # the folder's results are another config's: leave them as they are
            log.error("job not run: %s", exc)
            status = Status.FAILED
        else:
            # In a sweep, one job's error must not stop the others: record it in the job's folder and go on.
            status = record_failure(out_dir, cfg, exc)
    OUTCOMES.note(status)
    if hydra_cfg.mode != RunMode.MULTIRUN:  # a sweep refreshes it once, at its end (runner/sweep/callbacks.py)
        from runner.report.index import refresh_index

        refresh_index(out_dir)
    return str(status)


def main() -> int:
    """Run the command; returns its exit status (runner/status.py)."""
    with stop.taken_for_the_command(), hydra_compat.exceptions_from_hydra() as show_traceback, _releasing_folders():
        try:
            refuse_malformed_overrides(sys.argv[1:])
            hydra_compat.install_target_check()
            hydra_entry()
        except RejectedConfig as e:
            print(f"error: {e}", file=sys.stderr)
            return ExitCode.BAD_INPUT
        except KeyboardInterrupt:  # Ctrl-C before the run's first record: no folder is left behind
            for folder in folder_lock.held():
                discard_unused_folder(folder)
            signum = stop.stopped_by() or signal.SIGINT
            name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
            print(f"error: interrupted ({name}) while starting; nothing was run", file=sys.stderr)
            return 128 + signum  # 130 for Ctrl-C, 143 for SIGTERM, as shells report them
        except SystemExit as e:  # --help, --info and Hydra's own usage errors
            return e.code if isinstance(e.code, int) else (0 if e.code is None else ExitCode.BAD_INPUT)
        except Exception as e:  # noqa: BLE001 - everything is reported, as one line or as a traceback
            line = hydra_compat.one_line(e) or filesystem_line(e)
            if line is None or show_traceback:
                raise
            print(f"error: {line}", file=sys.stderr)
            return ExitCode.BAD_INPUT
    if stop.stopped_by() is not None:  # a stopped sweep exits 130 or 143, like a stopped run
        OUTCOMES.note_signal(stop.stopped_by())
    return OUTCOMES.exit_code()


def refuse_malformed_overrides(args: list[str]) -> None:
    """Overrides Hydra accepts but then fails on with a traceback: a config group set to a non-name (`model=null`,
    `trainer=5`) and a value without a key (`=5`)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser = OverridesParser.create()
    for arg in args:
        if arg.startswith("-") or "=" not in arg:
            continue
        try:
            (override,) = parser.parse_overrides([arg])
        except HydraException:
            continue  # Hydra reports its own syntax errors in one line
        key = override.key_or_group
        if not key:
            raise RejectedConfig(f"{arg}: an override needs a key: KEY=VALUE, e.g. seed=1")
        is_group = "/" in key or (CONF_DIR / key).is_dir()
        value = override.value()
        names = value if isinstance(value, list) else [value]
        # A sweep (`schedule=constant,triangular`) parses into Hydra's sweep objects: those Hydra expands itself.
        if is_group and any(v is None or isinstance(v, (bool, int, float)) for v in names):
            options = sorted(p.stem for p in (CONF_DIR / key).glob("*.yaml")) if (CONF_DIR / key).is_dir() else []
            allowed = f"; allowed: {', '.join(options)}" if options else ""
            raise RejectedConfig(f"{arg}: {key} is a config group and takes an option's name{allowed}")


@contextlib.contextmanager
def _releasing_folders():
    """The run folders' locks end with the command (callers in one process, such as tests, run several)."""
    try:
        yield
    finally:
        folder_lock.release_all()


def discard_unused_folder(out_dir: Path) -> None:
    """Remove what Hydra wrote into a run folder (.hydra/, run.log) when the run was refused before producing
    anything, so no folder looks like a result. A folder that holds any record of a run is left alone."""
    out_dir = Path(out_dir)
    if any((out_dir / name).exists() for name in RECORDS):
        return
    shutil.rmtree(out_dir / ".hydra", ignore_errors=True)
    (out_dir / "run.log").unlink(missing_ok=True)
    folder_lock.release(out_dir, discard=True)  # removes the folder too when the lock made it
    with contextlib.suppress(OSError):
        out_dir.rmdir()  # only if nothing else is in it
    if out_dir.exists():
        return
    # The folders Hydra made above it (outputs/runs/<date>/) go too while empty, up to the current folder.
    cwd = Path.cwd().resolve()
    for parent in out_dir.resolve().parents:
        if parent == cwd or cwd not in parent.parents:
            break
        try:
            parent.rmdir()
        except OSError:
            break


def record_failure(out_dir: Path, cfg: Any, exc: BaseException) -> Status:
    """summary.json with status failed and the error, for a sweep job that raised before its loop could record it."""
    from runner import summary as summary_file

    summary = summary_file.read(out_dir) or RunSummary()
    line = hydra_compat.one_line(exc)
    if summary.status in FINAL:  # a finished run's record is never replaced by a later command's error
        log.error("job failed: %s (the folder's finished run is left as it was)", line or exc)
        return Status.FAILED
    error = line or f"{type(exc).__name__}: {exc}"
    log.error("job failed: %s", error, exc_info=line is None)  # a traceback only for what is not a config error
    summary.update(
        status=Status.FAILED.value, error=error, seed=cfg.get("seed"), schedule=(cfg.get("schedule") or {}).get("name")
    )
    summary.write(out_dir)
    return Status.FAILED


def record_not_started(out_dir: Path, cfg: Any) -> Status:
    """summary.json with status not_started, for a sweep job reached after the sweep was told to stop."""
    from runner import summary as summary_file

    summary = summary_file.read(out_dir)
    if summary is not None:  # a folder from an earlier attempt keeps what it recorded (its checkpoint resumes later)
        try:
            return Status(summary.status)
        except ValueError:
            return Status.RUNNING
    log.warning("not started: the sweep was stopped (%s); rerun the same command to start it", stop.reason())
    RunSummary(
        status=Status.NOT_STARTED.value, seed=cfg.get("seed"), schedule=(cfg.get("schedule") or {}).get("name")
    ).write(out_dir)
    return Status.NOT_STARTED
