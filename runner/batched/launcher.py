"""The batched launcher's work (the Hydra plugin in runner/batched/plugin/ only forwards here).

1. Compose and validate every job of the sweep, and find its run folder and any checkpoint it left.
2. Group the jobs that can share one vectorized model (runner/batched/grouping.py), at most
   hydra.launcher.max_members to a group.
3. Per group: Hydra writes each member's folder (.hydra/, run.log) as for any job, then the members train together
   (runner/batched/group.py) and each member's folder is finished as a separate run finishes its own.
4. The jobs that fit no group run the ordinary way: in this process when one is left, else in parallel through
   hydra-joblib-launcher (hydra.launcher.fallback), with an equal share of the cores each.

SIGTERM or SIGINT during a group checkpoints its members and stops the sweep (exit 143 or 130); the same command
resumes every member from its checkpoint.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from runner.batched.grouping import group_key, split_groups, too_many_pixels, why_not_batched
from runner.batched.members import LAUNCHER, Member, member_log, read_previous

log = logging.getLogger("runner.batched")


@dataclasses.dataclass
class Job:
    index: int
    overrides: list[str]
    config: DictConfig
    member: Member | None = None
    reason: str | None = None  # why it runs the ordinary way


def compose(launcher: Any, job_overrides: Any, initial_job_idx: int) -> list[Job]:
    """Every job's config: the one the sweep's checks composed (runner/sweep/callbacks.py), else composed here."""
    from omegaconf import read_write

    from runner.sweep.callbacks import COMPOSED

    jobs = []
    for offset, overrides in enumerate(job_overrides):
        index = initial_job_idx + offset
        config = COMPOSED.pop(tuple(overrides), None)
        if config is None:
            config = launcher.hydra_context.config_loader.load_sweep_config(launcher.config, list(overrides))
        with read_write(config.hydra), open_dict(config):
            config.hydra.job.id = index
            config.hydra.job.num = index
        jobs.append(Job(index, list(overrides), config))
    return jobs


def job_folder(config: DictConfig) -> Path:
    """The folder Hydra's run_job will give this job: hydra.sweep.dir / hydra.sweep.subdir."""
    from hydra.core.hydra_config import HydraConfig

    HydraConfig.instance().set_config(config)  # the subdir names the schedule through ${hydra:...}
    return Path(str(config.hydra.sweep.dir)) / str(config.hydra.sweep.subdir)


class DataCache:
    """Each dataset config loaded once for the whole sweep (every member of a group trains on the same tensors)."""

    def __init__(self) -> None:
        self.loaded: dict[str, Any] = {}

    def get(self, dataset_cfg: Any) -> Any:
        from runner.data import load_dataset

        key = repr(dataclasses.asdict(dataset_cfg))
        if key not in self.loaded:
            self.loaded[key] = load_dataset(dataset_cfg)
        return self.loaded[key]


def plan_job(job: Job, settings: Any, data: DataCache) -> None:
    """Give `job` a Member to train in a group, or the reason it runs the ordinary way."""
    from runner import folder_lock
    from runner.config import validate
    from runner.run_folder import config_diff
    from runner.status import FINAL

    try:
        cfg = validate(job.config)
    except Exception:  # noqa: BLE001 - the ordinary path reports it exactly as the basic launcher would
        job.reason = "its config does not validate"
        return
    if cfg.task != "train":
        job.reason = f"task={cfg.task}"
        return
    known = getattr(cfg.dataset, "INPUT_SHAPE", None)  # the image datasets' shape, known without loading them
    if known is not None:
        job.reason = too_many_pixels(known, settings.max_pixels)
        if job.reason:
            return  # decided before torch or the data is loaded here: the fallback costs this process nothing
    from runner.training import checkpoint as ckpt  # imports torch
    from runner.training.loop import iters_per_epoch, total_steps

    if getattr(cfg.model, "dropout", 0.0) or cfg.faults.fail_at_step is not None:
        job.reason = why_not_batched(cfg, (1, 1, 1), None)
        return
    out_dir = job_folder(job.config)
    try:
        state = ckpt.load(out_dir / ckpt.FILENAME, ckpt.REQUIRED)
    except Exception:  # noqa: BLE001 - a damaged checkpoint: the ordinary path falls back or refuses, in one line
        job.reason = "its checkpoint does not prove itself"
        return
    if state is None and (out_dir / ckpt.PREVIOUS).exists():
        job.reason = "only its previous checkpoint is left (the ordinary path resumes from it, with a warning)"
        return
    previous = read_previous(out_dir)
    if previous.status in FINAL:  # with or without its checkpoint: the ordinary path says "already ..." and exits 0
        job.reason = f"its folder holds a {previous.status} run"
        return
    if state is not None and config_diff(state["config"], ckpt.config_dict(cfg)):
        job.reason = "its folder holds a run with another config"
        return
    if known is not None:  # the other reasons, still without loading data for a job this process will not train
        job.reason = why_not_batched(cfg, known, settings.max_pixels)
        if job.reason:
            return
    split = data.get(cfg.dataset)
    job.reason = why_not_batched(cfg, split.input_shape, settings.max_pixels)
    if job.reason:
        return
    n_train = len(split.train_x)
    steps = total_steps(n_train, cfg.trainer.batch_size, cfg.trainer.epochs, cfg.trainer.max_steps)
    per_epoch = iters_per_epoch(n_train, cfg.trainer.batch_size)
    try:  # a policy that refuses this run's length (one_cycle over 1 step): the ordinary path says so in one line
        schedule = cfg.schedule.resolve(per_epoch, steps)
    except Exception:  # noqa: BLE001
        job.reason = f"its schedule does not fit {steps} steps"
        return
    try:  # held until the command ends (runner/cli.py), as a separate run holds its folder
        folder_lock.acquire(out_dir, f"hydra.sweep.subdir={out_dir.name!r} (in {out_dir.parent})")
    except folder_lock.FolderBusy as e:
        job.reason = str(e)  # the ordinary path reports it and leaves the folder alone
        return
    job.member = Member(
        index=job.index,
        cfg=cfg,
        out_dir=out_dir,
        steps=steps,
        per_epoch=per_epoch,
        schedule=schedule,
        resume=state,
        previous=previous,
        n_train=n_train,
    )


def launch(launcher: Any, job_overrides: Any, initial_job_idx: int) -> list[Any]:
    from hydra.core.utils import configure_log, setup_globals

    from runner import folder_lock

    setup_globals()
    config = launcher.config
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    Path(str(config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
    settings = launcher.settings
    jobs = compose(launcher, job_overrides, initial_job_idx)
    data = DataCache()
    for job in jobs:
        plan_job(job, settings, data)
    keyed: dict[str, list[Job]] = {}
    for job in jobs:
        if job.member is not None:
            keyed.setdefault(group_key(job.member.cfg, job.member.steps, job.member.start_step), []).append(job)
    groups = [g for g in split_groups(keyed, settings.max_members) if len(g) > 1]
    grouped = {job.index for g in groups for job in g}
    ordinary = [job for job in jobs if job.index not in grouped]
    for job in ordinary:
        if job.member is not None:  # planned as a member, left alone: its own process takes the folder's lock
            folder_lock.release(job.member.out_dir)
    log.info(
        "batched launcher: %d jobs, %d trained in %d vectorized group(s) (%s), %d the ordinary way",
        len(jobs),
        len(grouped),
        len(groups),
        ", ".join(str(len(g)) for g in groups) or "none",
        len(ordinary),
    )
    for job in ordinary:
        log.info("\t#%d runs the ordinary way: %s", job.index, job.reason or "no other job shares its group")
    returns: dict[int, Any] = {}
    for group in groups:
        signal = run_group(launcher, group, data, returns)
        if signal is not None:
            log.warning("stopped by signal %s: the jobs not yet started were not run; rerun to resume", signal)
            return [returns[i] for i in sorted(returns)]
    run_ordinary(launcher, ordinary, settings, returns)
    return [returns[i] for i in sorted(returns)]


def run_group(launcher: Any, group: list[Job], data: DataCache, returns: dict[int, Any]) -> int | None:
    """Hydra writes each member's folder, then the members train together and each folder is finished."""
    from hydra.core.utils import JobStatus, run_job

    from runner import folder_lock
    from runner.batched.figures import draw_curves
    from runner.batched.group import train_group
    from runner.status import OUTCOMES
    from runner.sweep import stop
    from runner.training.build import set_threads
    from runner.training.run import stop_on_signals

    members = [job.member for job in group]
    threads = set_threads(members[0].cfg.trainer.threads)
    for job in group:

        def prepare(_cfg: Any, member: Member = job.member) -> str:
            member.start(threads)
            return LAUNCHER

        returns[job.index] = run_job(
            hydra_context=launcher.hydra_context,
            task_function=prepare,
            config=job.config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )
    detach_file_logs()
    # A member whose start raised (its folder could not be written): run_job recorded that job as failed, as it does
    # for any job; the others train without it.
    failed = [job for job in group if returns[job.index].status == JobStatus.FAILED]
    for job in failed:
        folder_lock.release(job.member.out_dir)
    group = [job for job in group if job not in failed]
    members = [job.member for job in group]
    if not members:
        return None
    split = data.get(members[0].cfg.dataset)
    for member in members:
        with member_log(member.out_dir):
            log.info(
                "%s on %s: %d train / %d val images, %d steps (%d per epoch), %d threads, in a vectorized group of "
                "%d (jobs %s)%s",
                member.schedule.name,
                member.cfg.dataset.name,
                len(split.train_x),
                len(split.val_x),
                member.steps,
                member.per_epoch,
                threads,
                len(members),
                ", ".join(str(m.index) for m in members),
                f", resuming at step {member.start_step}" if member.resume else "",
            )
    import contextlib

    with stop_on_signals(), contextlib.ExitStack() as stack:
        for member in members:
            member.open_records(stack)
        try:
            # The process's stop flag (runner/sweep/stop.py): a signal here or a stopped sweep's stop file.
            signal = train_group(members, split, stop.stopped_by, members[0].cfg.trainer.progress)
        except Exception as exc:  # recorded in every member's folder, as a separate run records its failure
            import traceback

            log.error("batched group failed: %s\n%s", exc, traceback.format_exc())
            for member in members:
                member.error = f"{type(exc).__name__}: {exc}"
            signal = None
    figures = [member.conclude() for member in members]
    drawn = iter(draw_curves([f for f in figures if f is not None], threads))
    for job, member, figure in zip(group, members, figures):
        status = member.finish(None if figure is None else next(drawn))
        returns[job.index].return_value = str(status)
        OUTCOMES.note(status)
    if signal is not None:
        OUTCOMES.note_signal(signal)
    return signal


def detach_file_logs() -> None:
    """Hydra leaves the last job's run.log attached to the root logger; each member's lines go to its own."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, logging.FileHandler)]:
        root.removeHandler(handler)
        handler.close()


def run_ordinary(launcher: Any, jobs: list[Job], settings: Any, returns: dict[int, Any]) -> None:
    """The jobs that fit no group: in this process when there is one (or fallback=basic), else in parallel."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import configure_log, run_job

    if not jobs:
        return
    if settings.fallback == "joblib" and len(jobs) > 1:
        run_in_parallel(launcher, jobs, settings, returns)
        return
    for job in jobs:
        HydraConfig.instance().set_config(job.config)
        returns[job.index] = run_job(
            hydra_context=launcher.hydra_context,
            task_function=launcher.task_function,
            config=job.config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )
        configure_log(launcher.config.hydra.hydra_logging, launcher.config.hydra.verbose)


def run_in_parallel(launcher: Any, jobs: list[Job], settings: Any, returns: dict[int, Any]) -> None:
    """hydra-joblib-launcher runs them, each worker with an equal share of the cores (runner/sweep/threads.py)."""
    from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher

    from runner.sweep.threads import share_for_sweep
    from runner.training.build import THREADS_ENV

    joblib_cfg = OmegaConf.create(
        {"_target_": f"{JoblibLauncher.__module__}.JoblibLauncher", "n_jobs": settings.n_jobs}
    )
    share = share_for_sweep(joblib_cfg, len(jobs))
    if share is not None:
        os.environ[THREADS_ENV] = str(share)
    parallel = JoblibLauncher(n_jobs=settings.n_jobs, prefer="processes", pre_dispatch="2*n_jobs", batch_size="auto")
    parallel.setup(hydra_context=launcher.hydra_context, task_function=launcher.task_function, config=launcher.config)
    log.info("%d jobs run in parallel through hydra-joblib-launcher (n_jobs=%s)", len(jobs), settings.n_jobs)
    # joblib numbers the jobs of one call consecutively: one call per run of consecutive job numbers.
    blocks: list[list[Job]] = []
    for job in jobs:
        if blocks and blocks[-1][-1].index + 1 == job.index:
            blocks[-1].append(job)
        else:
            blocks.append([job])
    for block in blocks:
        for job, ret in zip(block, parallel.launch([j.overrides for j in block], initial_job_idx=block[0].index)):
            returns[job.index] = ret
