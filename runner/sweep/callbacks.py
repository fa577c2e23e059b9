"""The Hydra callbacks of every command (conf/config.yaml, hydra.callbacks), in the order they run.

ValidateConfig  checks every job's config before Hydra makes a folder: a bad value on the command line leaves
                nothing behind, and a typo in the third value of a sweep fails before the first job trains
ThreadShare     gives each job of a parallel sweep its share of the cores
SweepReport     writes the sweep report when a multirun ends, then refreshes the output folder's index.html
ReleaseWorkers  stops the joblib launcher's idle workers when a multirun ends
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.core.global_hydra import GlobalHydra
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from runner.config import validate
from runner.errors import ConfigError
from runner.hydra_compat import RejectedConfig, expand_sweep, one_line, set_hydra_config, stop_joblib_workers


def sweep_job_overrides(config: DictConfig) -> list[list[str]]:
    """The override list of every job the sweeper (and the launchers behind it) will run."""
    task_overrides = OmegaConf.to_container(config.hydra.overrides.task, resolve=False)
    params = [f"{k}={v}" for k, v in (config.hydra.sweeper.get("params") or {}).items()]
    return expand_sweep(params + list(task_overrides), GlobalHydra.instance().config_loader())


def refuse_changed_resume(run_dir: Any, new_cfg: Any) -> None:
    """Rerunning a command in its run folder resumes it; a config that would change the results is refused here,
    before Hydra overwrites the folder's .hydra/ record of the original config."""
    from runner.training import checkpoint

    old_config = Path(str(run_dir)) / ".hydra" / "config.yaml"
    if not run_dir or not old_config.exists() or not (Path(str(run_dir)) / "metrics.csv").exists():
        return
    try:
        old_cfg = validate(OmegaConf.load(old_config))
    except ConfigError as e:
        raise ConfigError(
            f"hydra.run.dir={str(run_dir)!r}: its .hydra/config.yaml no longer validates ({e}); choose a new folder"
        ) from None
    checkpoint.refuse_changed_config(
        Path(str(run_dir)), checkpoint.config_dict(old_cfg), checkpoint.config_dict(new_cfg)
    )


def refuse_escaping_paths(config: DictConfig, keys: tuple[str, ...]) -> None:
    """Output locations may be absolute or relative, but never climb with `..`: a value composed from overrides
    (a sweep's subdir, a preset's dir) must not land its files outside the folder it names."""
    for key in keys:
        value = OmegaConf.select(config, key, throw_on_resolution_failure=False)
        raw = OmegaConf.to_container(config.hydra, resolve=False)
        for part in key.split(".")[1:]:
            raw = raw.get(part) if isinstance(raw, dict) else None
        for text in {str(value), str(raw)}:
            if ".." in Path(text).parts:
                raise ConfigError(
                    f"{key}={text!r}: must not contain '..'; give an absolute path or a path below the current folder"
                )


class ValidateConfig(Callback):
    """Fail fast, with one line naming the key, before Hydra writes anything."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        set_hydra_config(config)  # hydra.run.dir's default names the schedule through ${hydra:...}
        try:
            refuse_escaping_paths(config, ("hydra.run.dir",))
            refuse_changed_resume(OmegaConf.select(config, "hydra.run.dir"), validate(config))
        except ConfigError as e:
            raise RejectedConfig(str(e)) from None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            refuse_escaping_paths(config, ("hydra.sweep.dir", "hydra.sweep.subdir"))
        except ConfigError as e:
            raise RejectedConfig(str(e)) from None
        loader = GlobalHydra.instance().config_loader()
        for overrides in sweep_job_overrides(config):
            try:
                validate(loader.load_sweep_config(config, list(overrides)))
            except Exception as e:  # composition errors of one job too: stop before any job starts
                line = one_line(e)
                if line is None:
                    raise
                raise RejectedConfig(f"{line} (in sweep job: {' '.join(overrides)})") from None


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
