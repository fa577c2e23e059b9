"""The Hydra callbacks of every command (conf/config.yaml, hydra.callbacks), in the order they run.

ValidateConfig  checks every job's config before Hydra makes a folder: a bad value on the command line leaves
                nothing behind, and a typo in the third value of a sweep fails before the first job trains; it
                locks the run folder and refuses a rerun that would change what a folder holds, before any write
ThreadShare     gives each job of a parallel sweep its share of the cores
SweepReport     writes the sweep report when a multirun ends, then refreshes the output folder's index.html
ReleaseWorkers  stops the joblib launcher's idle workers when a multirun ends
SweepStop       makes a signal stop the whole sweep (runner/sweep/stop.py): running jobs checkpoint, no new job
                trains, workers follow the main process; listed last, so its on_multirun_end runs first
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.core.global_hydra import GlobalHydra
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from runner import folder_lock, run_folder
from runner.config import validate
from runner.errors import ConfigError, filesystem_line
from runner.hydra_compat import (
    RejectedConfig,
    expand_sweep,
    keep_hydra_record,
    launcher_kind,
    one_line,
    set_hydra_config,
    stop_joblib_workers,
)
from runner.training.device import require_available
from runner.trust import refuse_foreign_targets

# Every job's config as composed for the checks below, by its overrides: the batched launcher, which composes every
# job before it starts, takes them from here instead of composing each job once more (runner/batched/launcher.py).
COMPOSED: dict[tuple[str, ...], DictConfig] = {}


def sweep_job_overrides(config: DictConfig) -> list[list[str]]:
    """The override list of every job the sweeper (and the launchers behind it) will run."""
    task_overrides = OmegaConf.to_container(config.hydra.overrides.task, resolve=False)
    params = [f"{k}={v}" for k, v in (config.hydra.sweeper.get("params") or {}).items()]
    return expand_sweep(params + list(task_overrides), GlobalHydra.instance().config_loader())


def claim_run_folder(config: DictConfig, cfg: Any) -> None:
    """Lock the run folder for this process and refuse what would change or mix up the results it holds, before
    Hydra writes its .hydra/ record there (runner/folder_lock.py, runner/run_folder.py). A finished run keeps its
    .hydra/ record as it is: the command has nothing to do."""
    run_dir = str(OmegaConf.select(config, "hydra.run.dir"))
    where = f"hydra.run.dir={run_dir!r}"
    folder_lock.acquire(run_dir, where)
    try:
        done = run_folder.check(Path(run_dir), cfg, where)
    except ConfigError:
        folder_lock.release(run_dir, discard=True)
        raise
    if done:
        keep_hydra_record(config)


def claim_job_folders(config: DictConfig, jobs: list[tuple[list[str], Any, Path]]) -> None:
    """Every job folder that already exists (a sweep run again) is locked and checked before the first job starts,
    so a refused rerun touches no job's files. With the basic launcher the jobs run in this process, which keeps
    the locks; other launchers run them elsewhere, and each job locks its own folder when it starts."""
    claimed = []
    try:
        for overrides, cfg, folder in jobs:
            if not folder.exists():
                continue
            where = f"hydra.sweep.subdir={folder.name!r} (in {folder.parent})"
            folder_lock.acquire(folder, where)
            claimed.append(folder)
            try:
                run_folder.check(folder, cfg, where)
            except ConfigError as e:
                raise ConfigError(f"{e} (in sweep job: {' '.join(overrides)})") from None
    except ConfigError:
        for folder in claimed:
            folder_lock.release(folder, discard=True)
        raise
    if launcher_kind(config.hydra.get("launcher")) != "basic":
        for folder in claimed:
            folder_lock.release(folder)


def job_folder(job_cfg: DictConfig, num: int) -> Path:
    """The folder Hydra's launchers give job `num`: hydra.sweep.dir / hydra.sweep.subdir, resolved as they do."""
    with read_write(job_cfg.hydra), open_dict(job_cfg):  # set_hydra_config made it read-only
        job_cfg.hydra.job.id = num
        job_cfg.hydra.job.num = num
    set_hydra_config(job_cfg)  # the subdir names the schedule through ${hydra:...}
    return Path(str(job_cfg.hydra.sweep.dir)) / str(job_cfg.hydra.sweep.subdir)


def refuse_escaping_paths(config: DictConfig, keys: tuple[str, ...]) -> None:
    """Output locations, as written and after interpolation: hydra.run.dir and hydra.sweep.dir may be absolute, or
    relative and below the current folder; hydra.sweep.subdir must be relative and below the sweep folder. None may
    climb with `..` (a value composed from other keys, such as `${dataset.root}`, included) or be empty: an empty
    folder would put a run's files straight into the current folder."""
    raw_hydra = OmegaConf.to_container(config.hydra, resolve=False)
    for key in keys:
        value = OmegaConf.select(config, key, throw_on_resolution_failure=False)
        raw = raw_hydra
        for part in key.split(".")[1:]:
            raw = raw.get(part) if isinstance(raw, dict) else None
        check_output_path(key, raw, relative_only=key.endswith("subdir"))
        if value is not None and str(value) != str(raw):
            check_output_path(key, value, relative_only=key.endswith("subdir"), resolved_from=raw)


def check_output_path(key: str, value: Any, relative_only: bool, resolved_from: Any = None) -> None:
    """ConfigError unless `value` names a folder: not empty, no `..`, and (for a subdir) not absolute."""
    shown = f"{resolved_from!r} (= {str(value)!r})" if resolved_from is not None else repr(str(value))
    text = "" if value is None else str(value).strip()
    if not text or Path(text) == Path("."):
        into = "the sweep folder" if relative_only else "the current folder"
        raise ConfigError(f"{key}={shown}: must name a folder of its own; this would write into {into}")
    if relative_only and Path(text).is_absolute():
        raise ConfigError(f"{key}={shown}: must be a relative path, below hydra.sweep.dir")
    if ".." in Path(text).parts:
        where = "a path below hydra.sweep.dir" if relative_only else "an absolute path or one below the current folder"
        raise ConfigError(f"{key}={shown}: must not contain '..'; give {where}")


def job_subdir(config: DictConfig, job_config: DictConfig, num: int) -> None:
    """Check one sweep job's hydra.sweep.subdir after interpolation, with the job number the launcher will give it."""
    with read_write(job_config.hydra), open_dict(job_config):
        job_config.hydra.job.num = num
    set_hydra_config(job_config)
    try:
        refuse_escaping_paths(job_config, ("hydra.sweep.subdir",))
    finally:
        set_hydra_config(config)


class ValidateConfig(Callback):
    """Fail fast, with one line naming the key, before Hydra writes anything."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        set_hydra_config(config)  # hydra.run.dir's default names the schedule through ${hydra:...}
        try:
            refuse_escaping_paths(config, ("hydra.run.dir",))
            run_cfg = validate(config)
            require_available("trainer.device", run_cfg.trainer.device)  # torch is imported only for a GPU name
            claim_run_folder(config, run_cfg)
        except ConfigError as e:
            raise RejectedConfig(str(e)) from None
        except OSError as e:  # the folder cannot be made or locked: Hydra would only warn and go on
            where = f"hydra.run.dir={str(OmegaConf.select(config, 'hydra.run.dir'))!r}"
            raise RejectedConfig(filesystem_line(e, where) or f"{where}: {e}") from None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            refuse_escaping_paths(config, ("hydra.sweep.dir",))
        except ConfigError as e:
            raise RejectedConfig(str(e)) from None
        loader = GlobalHydra.instance().config_loader()
        jobs = []
        COMPOSED.clear()
        for num, overrides in enumerate(sweep_job_overrides(config)):
            try:
                job_cfg = loader.load_sweep_config(config, list(overrides))
                COMPOSED[tuple(overrides)] = job_cfg
                refuse_foreign_targets(job_cfg)
                job_subdir(config, job_cfg, num)
                run_cfg = validate(job_cfg)
                require_available("trainer.device", run_cfg.trainer.device)
                jobs.append((overrides, run_cfg, job_folder(job_cfg, num)))
            except Exception as e:  # composition errors of one job too: stop before any job starts
                line = one_line(e)
                if line is None:
                    raise
                raise RejectedConfig(f"{line} (in sweep job: {' '.join(overrides)})") from None
        set_hydra_config(config)
        try:
            claim_job_folders(config, jobs)
        except ConfigError as e:
            raise RejectedConfig(str(e)) from None
        except OSError as e:
            where = f"hydra.sweep.dir={str(OmegaConf.select(config, 'hydra.sweep.dir'))!r}"
            raise RejectedConfig(filesystem_line(e, where) or f"{where}: {e}") from None


class ThreadShare(Callback):
    """Hands each job of a parallel sweep an equal share of the cores as torch threads (runner/sweep/threads.py)."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        import os

        from runner.sweep.threads import share_for_sweep
        from runner.training.build import THREADS_ENV

        share = share_for_sweep(config.hydra.get("launcher"), len(sweep_job_overrides(config)))
        if share is not None:
            os.environ[THREADS_ENV] = str(share)  # parallel workers inherit the environment


class SweepReport(Callback):
    """Writes the sweep report when a multirun ends; the runs' statuses decide the command's exit status."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        import logging

        from runner.report.build import build_report
        from runner.report.index import refresh_index
        from runner.status import OUTCOMES

        sweep_dir = Path(str(config.hydra.sweep.dir))
        if config.get("task") != "train":
            refresh_index(sweep_dir)
            return  # previews and range tests leave figures per job, not runs to compare
        try:
            counts = build_report(sweep_dir)
        finally:
            refresh_index(sweep_dir)  # after the report, so the index links to it
        logging.getLogger("runner.report").info(
            "sweep report: %s (%s)", sweep_dir / "report.md", ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        )
        for status, n in counts.items():
            for _ in range(n):
                OUTCOMES.note(status)


class ReleaseWorkers(Callback):
    """Stops the joblib launcher's idle worker processes when a multirun ends.

    joblib keeps its loky workers alive for reuse, and at exit the main process waits while each one tears down
    its interpreter (with torch loaded, about 1 s at the end of every sweep). Every job has finished and closed its
    files by now, so the idle workers are stopped at once and the main process exits without waiting. Without the
    joblib launcher, or with a joblib that keeps its executor elsewhere, this does nothing.
    """

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        stop_joblib_workers()


class SweepStop(Callback):
    """SIGINT/SIGTERM to a sweep's command stop every job, wherever it runs (runner/sweep/stop.py)."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from runner.hydra_compat import cap_launcher_workers, launcher_kind
        from runner.sweep import stop
        from runner.sweep.threads import parallel_workers

        launcher = config.hydra.get("launcher")
        if launcher_kind(launcher) == "joblib":  # one worker per job at most: every worker gets a job
            cap_launcher_workers(config, parallel_workers(launcher, len(sweep_job_overrides(config))))
        stop.start_sweep(Path(str(config.hydra.sweep.dir)))

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        from hydra.types import RunMode

        from runner.sweep import stop

        if config.hydra.mode == RunMode.MULTIRUN:
            stop.join_sweep(Path(str(config.hydra.sweep.dir)))

    def on_job_end(self, config: DictConfig, **kwargs: Any) -> None:
        from runner.sweep import stop

        stop.leave_job()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from runner.sweep import stop

        stop.end_sweep()
