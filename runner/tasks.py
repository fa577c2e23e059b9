"""One function per task (train, preview): build the objects a validated config names, run, write the folder.

A training failure is recorded in the run folder (summary.json status failed, with the error) and reported back
as a status instead of an exception, so a sweep goes on with its other jobs and its report can list the failure.
"""
from __future__ import annotations

import contextlib
import logging
import random
import signal
import time
import traceback
from pathlib import Path
from typing import Iterator, Optional

from runner.config import RunConfig
from runner.errors import ConfigError
from runner.records import EVAL_COLUMNS, METRICS_COLUMNS, CsvLog, write_json_atomic, write_rows

log = logging.getLogger("runner")


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def set_threads(threads: Optional[int]) -> int:
    """trainer.threads, or this run's share of the cores (runner/threads.py)."""
    import torch

    from runner.threads import threads_for_run

    n = threads_for_run(threads)
    torch.set_num_threads(n)
    return n


def build_optimizer(cfg, params):
    import torch

    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=0.0, momentum=cfg.momentum, nesterov=cfg.nesterov,
                               weight_decay=cfg.weight_decay)
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=0.0, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps,
                                weight_decay=cfg.weight_decay)
    raise ConfigError(f"optimizer.name={cfg.name!r}: unknown optimizer")


def build_training(cfg: RunConfig):
    """What every task that trains builds from its config: the thread count, the data, then the model and the
    optimizer right after seeding, so a run and a range test with the same overrides start from the same weights.
    Returns (threads, data, model, optimizer)."""
    from runner import data as data_mod
    from runner import models

    threads = set_threads(cfg.trainer.threads)
    data = data_mod.load_dataset(cfg.dataset)
    seed_everything(cfg.seed)
    model = models.build_model(cfg.model, data.input_shape, data.num_classes)
    return threads, data, model, build_optimizer(cfg.optimizer, model.parameters())


def train_with_records(out_dir: Path, model, optimizer, schedule, data, trainer, *, steps: int, seed: int,
                       save_checkpoint=None, resume: Optional[dict] = None, faults=None):
    """runner.train.train with the run folder's metrics.csv and eval.csv open (cut back to a resumed checkpoint's
    rows) and SIGTERM/SIGINT caught; returns (result, the signal that stopped it or None). experiments/throughput
    times this same function against a bare loop."""
    from runner import train as train_mod

    keep = (resume["metrics_rows"], resume["eval_rows"]) if resume else (None, None)
    with stop_on_signals() as caught, \
            CsvLog(out_dir / "metrics.csv", METRICS_COLUMNS, trainer.flush_every, keep[0]) as metrics, \
            CsvLog(out_dir / "eval.csv", EVAL_COLUMNS, trainer.flush_every, keep[1]) as evals:
        result = train_mod.train(
            model, optimizer, schedule, data, steps=steps, batch_size=trainer.batch_size, seed=seed,
            metrics=metrics, evals=evals, eval_batch_size=trainer.eval_batch_size, progress=trainer.progress,
            checkpoint_every=trainer.checkpoint_every, save_checkpoint=save_checkpoint, resume=resume,
            should_stop=lambda: caught["signal"] is not None, faults=faults)
    return result, caught["signal"]


FINAL_STATUSES = ("completed", "diverged")  # a rerun of such a run changes nothing


@contextlib.contextmanager
def stop_on_signals() -> Iterator[dict]:
    """SIGTERM and SIGINT set a flag that the loop polls, so it can checkpoint and exit cleanly (a cluster's
    preemption notice, a Ctrl-C). The previous handlers come back afterwards."""
    caught: dict[str, Optional[int]] = {"signal": None}

    def handler(signum, frame):  # noqa: ARG001
        caught["signal"] = signum

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield caught
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_train(cfg: RunConfig, out_dir: Path) -> str:
    """Train one run into `out_dir`, or continue it from its checkpoint; returns its status."""
    from runner import checkpoint as ckpt
    from runner import models, train as train_mod
    from runner.records import read_json

    out_dir = Path(out_dir)
    previous = read_json(out_dir / "summary.json") or {}
    state = ckpt.load(out_dir / ckpt.FILENAME)
    if state is not None:
        ckpt.refuse_changed_config(out_dir, state["config"], ckpt.config_dict(cfg))
        if previous.get("status") in FINAL_STATUSES:
            log.info("%s: already %s; nothing to do (a finished run is never re-run)", out_dir, previous["status"])
            return previous["status"]
    wall0 = time.perf_counter()
    threads, data, model, optimizer = build_training(cfg)
    per_epoch = train_mod.iters_per_epoch(len(data.train_x), cfg.trainer.batch_size)
    steps = train_mod.total_steps(len(data.train_x), cfg.trainer.batch_size, cfg.trainer.epochs,
                                  cfg.trainer.max_steps)
    schedule = cfg.schedule.resolve(per_epoch, steps)
    warn_cycle_end(schedule, steps)
    log.info("%s on %s: %d train / %d val images, %d steps (%d per epoch), %d params, %d threads%s",
             schedule.name, cfg.dataset.name, len(data.train_x), len(data.val_x), steps, per_epoch,
             models.count_parameters(model), threads, f", resuming at step {state['step']}" if state else "")
    summary = {"status": "running", "schedule": schedule.name, "seed": cfg.seed, "steps": state["step"] if state else 0,
               "iters_per_epoch": per_epoch, "step_size": getattr(schedule, "step_size", None),
               # CPU kernels sum in a thread-count-dependent order: results repeat bit for bit per thread count.
               "threads": threads, "resumes": previous.get("resumes", 0) + (1 if state else 0)}
    write_json_atomic(out_dir / "summary.json", summary)
    config = ckpt.config_dict(cfg)

    def save_checkpoint(loop_state: dict) -> None:
        final = loop_state["result"]["status"] != "completed" or loop_state["step"] >= steps
        ckpt.save(out_dir / ckpt.FILENAME, {**loop_state, "config": config}, durable=final)

    result, error = None, None
    try:
        result, stopped_by = train_with_records(out_dir, model, optimizer, schedule, data, cfg.trainer, steps=steps,
                                                seed=cfg.seed, save_checkpoint=save_checkpoint, resume=state,
                                                faults=cfg.faults)
        if result.status == "interrupted":
            from runner import outcome

            outcome.set_exit_code(128 + int(stopped_by))  # 143 for SIGTERM, 130 for SIGINT
            log.warning("interrupted by signal %s at step %d: checkpointed; rerun the same command to resume",
                        stopped_by, result.steps)
    except Exception as exc:  # recorded, not swallowed: status failed with the error, then a non-zero exit
        error = f"{type(exc).__name__}: {exc}"
        log.error("training failed: %s\n%s", error, traceback.format_exc())
    summary.update(finish_summary(result, error, wall0))
    if state:  # time spent before the interruption counts too
        summary["wall_s"] += previous.get("wall_s") or 0.0
    # The records are on disk whatever happens next: a bug in analysis or plotting must not hide them.
    for step_name, finish in (("analysis", lambda: summary.update(analyze_folder(out_dir, cfg.analysis))),
                              ("curves.png", lambda: write_figures(out_dir, schedule, summary, cfg))):
        try:
            finish()
        except Exception as exc:  # noqa: BLE001 - recorded in summary.json and the log
            log.exception("%s failed", step_name)
            summary.setdefault("postprocess_errors", []).append(f"{step_name}: {type(exc).__name__}: {exc}")
    write_json_atomic(out_dir / "summary.json", summary)
    log.info("%s: status %s, final val_acc %s, %s", out_dir, summary["status"], summary.get("final_val_acc"),
             f"{summary['images_per_s']:.0f} images/s" if summary.get("images_per_s") else "")
    return summary["status"]


def discard_unused_folder(out_dir: Path) -> None:
    """Remove what Hydra wrote into a run folder (.hydra/, run.log) when the run was refused before producing
    anything, so no folder looks like a result. A folder that holds any record of a run is left alone."""
    import shutil

    out_dir = Path(out_dir)
    if any((out_dir / name).exists() for name in ("metrics.csv", "summary.json", "checkpoint.pt", "schedule.csv",
                                                  "range_test.json")):
        return
    shutil.rmtree(out_dir / ".hydra", ignore_errors=True)
    (out_dir / "run.log").unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        out_dir.rmdir()  # only if nothing else is in it


def record_failure(out_dir: Path, cfg, exc: BaseException) -> str:
    """summary.json with status failed and the error, for a job that raised before its loop could record it."""
    from runner.cli_errors import one_line
    from runner.records import read_json

    summary = read_json(Path(out_dir) / "summary.json") or {}
    line = one_line(exc)
    error = line or f"{type(exc).__name__}: {exc}"
    log.error("job failed: %s", error, exc_info=line is None)  # a traceback only for what is not a config error
    summary.update({"status": "failed", "error": error, "seed": cfg.get("seed"),
                    "schedule": (cfg.get("schedule") or {}).get("name")})
    write_json_atomic(Path(out_dir) / "summary.json", summary)
    return "failed"


def warn_cycle_end(schedule, steps: int) -> None:
    """Smith: stop training at the end of a cycle, where the LR is back at its minimum."""
    ends = schedule.cycle_ends(steps)
    if ends and steps not in ends:
        later = schedule.cycle_ends(2 * steps)
        nearest = min(later, key=lambda e: abs(e - steps))
        log.warning("training stops mid-cycle after %d steps; Smith advises ending at a cycle end, e.g. "
                    "trainer.max_steps=%d", steps, nearest)


def finish_summary(result, error: Optional[str], wall0: float) -> dict:
    if result is None:
        return {"status": "failed", "error": error, "wall_s": time.perf_counter() - wall0}
    out = {
        "status": result.status,
        "steps": result.steps,
        "final_val_acc": result.final_val_acc,
        "final_val_loss": result.final_val_loss,
        "best_val_acc": result.best_val_acc,
        "wall_s": time.perf_counter() - wall0,
        "train_s": result.train_s,
        "images_per_s": result.images / result.train_s if result.train_s > 0 else None,
    }
    if result.diverged:
        out["diverged_at"] = result.diverged
    return out


def analyze_folder(out_dir: Path, analysis_cfg) -> dict:
    """Plateaus, escape and steps-to-target from the run's own records (what a later reader would compute)."""
    from runner.analysis import analyze_run
    from runner.records import accuracy_points, floats, read_csv_columns

    metrics = read_csv_columns(out_dir / "metrics.csv")
    accuracy_at = accuracy_points(out_dir)
    plateau = analysis_cfg.plateau
    return analyze_run(floats(metrics.get("step", [])), floats(metrics.get("lr", [])),
                       floats(metrics.get("loss", [])), list(accuracy_at), list(accuracy_at.values()),
                       beta=analysis_cfg.smoothing, window=plateau.window, rel_drop=plateau.rel_drop,
                       escape_drop=plateau.escape_drop, targets=analysis_cfg.targets)


def write_figures(out_dir: Path, schedule, summary: dict, cfg: RunConfig) -> None:
    from runner.plots import plot_curves

    ends = schedule.cycle_ends(summary.get("steps", 0))
    title = f"{schedule.name}, seed {cfg.seed}: {summary['status']}"
    if summary.get("final_val_acc") is not None:
        title += f", final val_acc {summary['final_val_acc']:.3f}"
    plot_curves(out_dir, title=title, smoothing=cfg.analysis.smoothing, cycle_ends=ends)


def needs_data_size(schedule) -> bool:
    import dataclasses

    return any(f.name.endswith("_epochs") and getattr(schedule, f.name) is not None
               for f in dataclasses.fields(schedule))


def preview_iters_per_epoch(cfg: RunConfig) -> int:
    from runner import data as data_mod
    from runner.train import iters_per_epoch

    return iters_per_epoch(len(data_mod.load_dataset(cfg.dataset).train_x), cfg.trainer.batch_size)


def run_preview(cfg: RunConfig, out_dir: Path) -> str:
    """schedule.csv and schedule.png: the LR over preview.steps iterations, no training."""
    from runner.plots import plot_schedule

    # Lengths given in epochs need the data size; one_cycle-like policies span the preview's steps.
    per_epoch = preview_iters_per_epoch(cfg) if needs_data_size(cfg.schedule) else 1
    schedule = cfg.schedule.resolve(per_epoch, cfg.preview.steps)
    steps = list(range(cfg.preview.steps))
    lrs = [schedule.lr_at(i) for i in steps]
    momenta = [schedule.momentum_at(i) for i in steps]
    write_rows(Path(out_dir) / "schedule.csv", ("step", "cycle", "lr", "momentum"),
               ((i, schedule.cycle(i), lr, m) for i, lr, m in zip(steps, lrs, momenta)))
    plot_schedule(Path(out_dir) / "schedule.png", steps, lrs, title=describe(schedule), momenta=momenta)
    log.info("preview of %s over %d steps written to %s", schedule.name, len(steps), out_dir)
    return "completed"


def describe(schedule) -> str:
    """A one-line title: the policy and its numbers."""
    import dataclasses

    parts = [f"{f.name}={getattr(schedule, f.name)!r}" for f in dataclasses.fields(schedule)
             if f.name != "name" and getattr(schedule, f.name) is not None]
    return f"{schedule.name}: " + ", ".join(parts)
