"""task=train: build what the config names, train (or continue from the checkpoint), and leave the run folder.

A training failure is recorded in the run folder (summary.json status failed, with the error) and reported back as a
status instead of an exception, so a sweep goes on with its other jobs and its report can list the failure.
"""

from __future__ import annotations

import contextlib
import logging
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from runner import summary as summary_file
from runner.status import FINAL, OUTCOMES, Status
from runner.summary import RunSummary
from runner.sweep import stop
from runner.training.records import EVAL_COLUMNS, METRICS_COLUMNS, CsvLog

log = logging.getLogger("runner")


@contextlib.contextmanager
def stop_on_signals() -> Iterator[dict]:
    """SIGTERM and SIGINT set the process's stop flag (runner/sweep/stop.py), which the loop polls, so it can
    checkpoint and exit cleanly (a cluster's preemption notice, a Ctrl-C, a sweep being stopped). The previous
    handlers come back afterwards. Yields {"signal": the signal that stopped the run, or None}."""
    caught: dict[str, int | None] = {"signal": None}
    with stop.on_signals():
        try:
            yield caught
        finally:
            caught["signal"] = stop.stopped_by()


def train_with_records(
    out_dir: Path,
    model: Any,
    optimizer: Any,
    schedule: Any,
    data: Any,
    trainer: Any,
    *,
    steps: int,
    seed: int,
    save_checkpoint: Any = None,
    resume: dict | None = None,
    on_loss: Any = None,
    logger: str = "csv",
    smoothing: float = 0.98,
) -> tuple[Any, int | None]:
    """The loop with the run folder's metrics.csv and eval.csv open (cut back to a resumed checkpoint's rows) and
    SIGTERM/SIGINT caught; returns (result, the signal that stopped it or None). experiments/throughput times this
    same function against a bare loop. `logger="tensorboard"` also writes the flushed rows to event files, with
    the loss smoothed by `smoothing` (runner/training/logger.py)."""
    from runner.training.loop import Hooks, LoopPlan, train

    keep = (resume["metrics_rows"], resume["eval_rows"]) if resume else (None, None)
    plan = LoopPlan(
        steps=steps,
        batch_size=trainer.batch_size,
        seed=seed,
        eval_batch_size=trainer.eval_batch_size,
        checkpoint_every=trainer.checkpoint_every,
        eval_every=trainer.eval_every,
        eval_size=trainer.eval_size,
    )
    with (
        stop_on_signals() as caught,
        CsvLog(out_dir / "metrics.csv", METRICS_COLUMNS, trainer.flush_every, keep[0]) as metrics,
        CsvLog(out_dir / "eval.csv", EVAL_COLUMNS, trainer.flush_every, keep[1]) as evals,
        tensorboard_log(out_dir, logger, smoothing, resume) as board,
    ):
        if board is not None:
            metrics.on_flush, evals.on_flush = board.metrics_rows, board.eval_rows
        hooks = Hooks(
            metrics=metrics,
            evals=evals,
            save_checkpoint=save_checkpoint,
            should_stop=stop.requested,
            on_loss=on_loss,
            progress=trainer.progress,
        )
        result = train(model, optimizer, schedule, data, plan, hooks, resume=resume)
    return result, caught["signal"]


@contextlib.contextmanager
def tensorboard_log(out_dir: Path, logger: str, smoothing: float, resume: dict | None) -> Iterator[Any]:
    """The TensorBoard writer of a run (None with logger=csv), opened after the CSV files are cut back to the
    checkpoint, so the smoothed loss continues from the rows they kept."""
    if logger != "tensorboard":
        yield None
        return
    from runner.files import floats, read_csv_columns
    from runner.training.logger import TensorBoardLog

    losses = floats(read_csv_columns(out_dir / "metrics.csv").get("loss", [])) if resume else []
    board = TensorBoardLog(out_dir, smoothing, resume["step"] if resume else None, losses)
    try:
        yield board
    finally:
        board.close()


def run_train(cfg: Any, out_dir: Path) -> Status:
    """Train one run into `out_dir`, or continue it from its checkpoint; returns its status."""
    from runner.models import count_parameters
    from runner.run_folder import refuse_changed_config
    from runner.training import checkpoint as ckpt
    from runner.training.build import build_training
    from runner.training.device import describe as describe_device
    from runner.training.faults import fault_hook
    from runner.training.loop import iters_per_epoch, total_steps
    from runner.training.pins import choose

    out_dir = Path(out_dir)
    previous = summary_file.read(out_dir) or RunSummary()
    if previous.status in FINAL:
        # With or without its checkpoint: nothing runs, so the command succeeds; summary.json keeps the run's status.
        log.info("%s: already %s; nothing to do (a finished run is never re-run)", out_dir, previous.status)
        return Status.COMPLETED
    state = ckpt.load_latest(out_dir, resume=True)
    if state is not None:
        refuse_changed_config(f"hydra.run.dir={str(out_dir)!r}", state["config"], ckpt.config_dict(cfg))
    wall0 = time.perf_counter()
    pins = choose(cfg, state, previous.threads)  # a resume keeps the threads and device it started with
    threads, data, model, optimizer = build_training(cfg, threads=pins.threads, device=pins.device)
    if stop.requested() and not stop.in_sweep():
        raise KeyboardInterrupt  # Ctrl-C while the data loaded: stop before the folder gets its first record
    per_epoch = iters_per_epoch(len(data.train_x), cfg.trainer.batch_size)
    steps = total_steps(len(data.train_x), cfg.trainer.batch_size, cfg.trainer.epochs, cfg.trainer.max_steps)
    refuse_too_many_steps(cfg.trainer, steps, per_epoch)
    ignored = log_ignored_keys(cfg)
    if cfg.trainer.eval_size is not None and cfg.trainer.eval_every is None:
        # eval_size sizes the evaluations eval_every adds; every other evaluation uses the whole validation split.
        log.info("not used: trainer.eval_size (it applies to trainer.eval_every's evaluations, and that is null)")
    schedule = cfg.schedule.resolve(per_epoch, steps)
    note_cycle_end(schedule, steps)
    warn_half_cycle(schedule, per_epoch)
    base_lr, max_lr = lr_bounds(schedule)
    if base_lr is not None and max_lr is not None:
        source = getattr(schedule, "bounds_from", None)
        log.info("LR bounds: base_lr %g, max_lr %g%s", base_lr, max_lr, f" (range test {source})" if source else "")
    log.info(
        "%s on %s: %d train / %d val / %d test images, %d steps (%d per epoch), %d params, %d threads (%s), "
        "device %s%s",
        schedule.name,
        cfg.dataset.name,
        len(data.train_x),
        len(data.val_x),
        0 if data.test_x is None else len(data.test_x),
        steps,
        per_epoch,
        count_parameters(model),
        threads,
        pins.threads_from,
        describe_device(pins.device),
        f", resuming at step {state['step']}" if state else "",
    )
    summary = RunSummary(
        schedule=schedule.name,
        seed=cfg.seed,
        steps=state["step"] if state else 0,
        iters_per_epoch=per_epoch,
        step_size=getattr(schedule, "step_size", None),
        base_lr=base_lr,
        max_lr=max_lr,
        ignored_keys=ignored or None,
        threads=threads,
        device=(previous.device if state else None) or str(pins.device),  # the device the run started on
        device_changes=previous.device_changes if state else None,
        resumes=previous.resumes + (1 if state else 0),
    )
    if pins.moved_from:
        move = {"step": state["step"], "from": pins.moved_from, "to": str(pins.device)}
        summary.device_changes = [*(summary.device_changes or []), move]
    summary.write(out_dir)
    config = ckpt.config_dict(cfg)

    def save_checkpoint(loop_state: dict) -> None:
        final = loop_state["result"]["status"] != Status.COMPLETED or loop_state["step"] >= steps
        pinned = {"threads": threads, "device": str(pins.device)}  # what a resume keeps (runner/training/pins.py)
        ckpt.save(out_dir / ckpt.FILENAME, {**loop_state, "config": config, **pinned}, durable=final)

    result, error = None, None
    try:
        result, stopped_by = train_with_records(
            out_dir,
            model,
            optimizer,
            schedule,
            data,
            cfg.trainer,
            steps=steps,
            seed=cfg.seed,
            save_checkpoint=save_checkpoint,
            resume=state,
            on_loss=fault_hook(cfg.faults),
            logger=cfg.logger,
            smoothing=cfg.analysis.smoothing,
        )
        if result.status == Status.INTERRUPTED:
            OUTCOMES.note_signal(stopped_by)  # the command exits 143 after SIGTERM, 130 after SIGINT
            log.warning(
                "interrupted (%s) at step %d: checkpointed; rerun the same command to resume",
                stop.reason() or f"signal {stopped_by}",
                result.steps,
            )
    except Exception as exc:  # recorded, not swallowed: status failed with the error, then a non-zero exit
        error = f"{type(exc).__name__}: {exc}"
        log.error("training failed: %s\n%s", error, traceback.format_exc())
    finish_summary(summary, result, error, wall0)
    if state:  # time spent before the interruption counts too
        summary.wall_s += previous.wall_s or 0.0
    # The records are on disk whatever happens next: a bug in analysis or plotting must not hide them.
    for step_name, finish in (
        ("analysis", lambda: summary.update(**analyze_folder(out_dir, cfg.analysis))),
        ("curves.png", lambda: write_figures(out_dir, schedule, summary, cfg)),
    ):
        try:
            finish()
        except Exception as exc:  # noqa: BLE001 - recorded in summary.json and the log
            postprocess_failed(summary, step_name, exc)
    summary.write(out_dir)
    log.info(
        "%s: status %s, final val_acc %s, test_acc %s, %s",
        out_dir,
        summary.status,
        summary.final_val_acc,
        summary.test_acc,
        f"{summary.images_per_s:.0f} images/s" if summary.images_per_s else "",
    )
    return Status(summary.status)


def log_ignored_keys(cfg: Any) -> list[str]:
    """Log the schedule keys this run does not use and return them sorted (summary.json's ignored_keys): those a
    stronger form of the same length overrules, and other policies' keys given to a sweep over policies."""
    overruled = cfg.schedule.ignored_keys()
    if overruled:
        log.info("not used: %s (the same length is given in a stronger form)", ", ".join(overruled))
    if cfg.unused_keys:
        log.info("not used by %s: %s (keys of other policies)", cfg.schedule.name, ", ".join(cfg.unused_keys))
    return sorted(overruled + cfg.unused_keys)


def refuse_too_many_steps(trainer: Any, steps: int, per_epoch: int) -> None:
    """trainer.epochs is bounded alone in the config; in steps it is known only once the data says how many batches
    an epoch holds, so the bound of trainer.max_steps is applied here, before the folder gets any record."""
    from runner.errors import ConfigError
    from runner.training.settings import MAX_STEPS

    if steps > MAX_STEPS:
        raise ConfigError(
            f"trainer.epochs={trainer.epochs!r}: {steps:,} steps at {per_epoch:,} per epoch, more than {MAX_STEPS:,}; "
            "choose fewer epochs or set trainer.max_steps"
        )


def lr_bounds(schedule: Any) -> tuple[float | None, float | None]:
    """(base_lr, max_lr) of the policy as it runs: the configured ones, or a range test's (schedule.bounds_from);
    None where the policy has no such key."""
    return getattr(schedule, "base_lr", None), getattr(schedule, "max_lr", None)


def next_cycle_end(schedule: Any, steps: int) -> int:
    """The first cycle end after `steps`, looking ever further ahead (a run may stop inside its first cycle)."""
    horizon = max(2 * steps, 2)
    while True:
        later = [e for e in schedule.cycle_ends(horizon) if e > steps]
        if later:
            return later[0]
        horizon *= 2


def note_cycle_end(schedule: Any, steps: int) -> None:
    """Smith: stop training at the end of a cycle, where the LR is back at its minimum. Every policy with cycles
    (cycle number from 1) is checked, a run shorter than its first cycle included; constant LRs and decays have none.

    A note in the log (level INFO), not a warning: a short trial run (`trainer.max_steps=50`) is a deliberate choice,
    and a first run must print no warning (issue 13); the line names the step counts that would end at a cycle end."""
    if schedule.cycle(0) < 1:
        return
    ends = schedule.cycle_ends(steps)
    if steps in ends:
        return
    after = next_cycle_end(schedule, steps)
    before = f"trainer.max_steps={ends[-1]} or " if ends else ""
    log.info(
        "note: training stops mid-cycle after %d steps (%s); Smith advises ending at a cycle end: "
        "%strainer.max_steps=%d",
        steps,
        f"{len(ends)} whole cycles" if ends else "inside the first cycle",
        before,
        after,
    )


# Smith (2017): a half cycle (stepsize) of 2 to 10 times the iterations in an epoch; the defaults use 4 epochs.
HALF_CYCLE_EPOCHS = (1.0, 10.0)


def warn_half_cycle(schedule: Any, per_epoch: int) -> None:
    """Warn when a cyclical policy's rising half is under 1 or over 10 epochs: far outside Smith's advice."""
    if not schedule.cyclic:
        return
    epochs = schedule.step_size / per_epoch
    low, high = HALF_CYCLE_EPOCHS
    if not low <= epochs <= high:
        log.warning(
            "the half cycle is %d steps = %.2g epochs (%d steps per epoch); Smith advises 2-10 epochs, e.g. "
            "schedule.step_size=null schedule.step_size_epochs=4",
            schedule.step_size,
            epochs,
            per_epoch,
        )


def finish_summary(summary: RunSummary, result: Any, error: str | None, wall0: float) -> None:
    """The loop's result (or the error that stopped it) into the summary."""
    summary.wall_s = time.perf_counter() - wall0
    if result is None:
        summary.status, summary.error = Status.FAILED.value, error
        return
    summary.update(
        status=result.status,
        steps=result.steps,
        final_val_acc=result.final_val_acc,
        final_val_loss=result.final_val_loss,
        best_val_acc=result.best_val_acc,
        test_acc=result.test_acc,
        test_loss=result.test_loss,
        train_s=result.train_s,
        images_per_s=result.images / result.train_s if result.train_s > 0 else None,
        diverged_at=result.diverged,
    )


def analyze_folder(out_dir: Path, analysis_cfg: Any) -> dict:
    """Plateaus, escape and steps-to-target from the run's own records (what a later reader would compute)."""
    from runner.analysis.run import analyze_run
    from runner.files import floats, read_csv_columns
    from runner.training.records import accuracy_points

    metrics = read_csv_columns(out_dir / "metrics.csv")
    accuracy_at = accuracy_points(out_dir)
    plateau = analysis_cfg.plateau
    return analyze_run(
        floats(metrics.get("step", [])),
        floats(metrics.get("lr", [])),
        floats(metrics.get("loss", [])),
        list(accuracy_at),
        list(accuracy_at.values()),
        beta=analysis_cfg.smoothing,
        window=plateau.window,
        rel_drop=plateau.rel_drop,
        escape_drop=plateau.escape_drop,
        targets=analysis_cfg.targets,
    )


def postprocess_failed(summary: RunSummary, name: str, exc: Any, trace: str | None = None) -> None:
    """A failed analysis or figure, logged and kept in summary.json's postprocess_errors. `exc` is the exception, or
    its text with `trace` when it was raised in another process (runner/batched/figures.py)."""
    if trace is None:
        log.exception("%s failed", name)
        exc = f"{type(exc).__name__}: {exc}"
    else:
        log.error("%s failed\n%s", name, trace.rstrip())
    summary.postprocess_errors = [*(summary.postprocess_errors or []), f"{name}: {exc}"]


def write_figures(out_dir: Path, schedule: Any, summary: RunSummary, cfg: Any) -> None:
    from runner.plots import plot_curves

    plot_curves(**curves_arguments(out_dir, schedule, summary, cfg))


def curves_arguments(out_dir: Path, schedule: Any, summary: RunSummary, cfg: Any) -> dict[str, Any]:
    """plot_curves' arguments for a finished run, plain values only (the batched launcher hands them to workers)."""
    ends = schedule.cycle_ends(summary.steps or 0)
    title = f"{schedule.name}, seed {cfg.seed}: {summary.status}"
    if summary.final_val_acc is not None:
        title += f", final val_acc {summary.final_val_acc:.3f}"
    settings = {"smoothing": cfg.analysis.smoothing, **vars(cfg.analysis.plateau)}
    # The analysis step has just computed the plateaus for summary.json: draw those rather than detect them again.
    marks = None if summary.plateaus is None else dict(vars(summary))
    return {"run_dir": out_dir, "title": title, "cycle_ends": list(ends), "analysis": settings, "marks": marks}
