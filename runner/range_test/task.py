"""task=range_test: build what a training run would build, run the LR range test, and write its three files.

    range_test.csv    step, lr, loss, smoothed_loss, val_acc (blank where not measured)
    range_test.json   suggested_base_lr, suggested_max_lr and how they were chosen (runner/range_test/bounds.py)
    range_test.png    loss and accuracy against the LR, the suggested bounds marked

Chain it into training without copying numbers: `python -m runner schedule.bounds_from=<this folder>`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from runner.errors import ConfigError
from runner.status import Status

log = logging.getLogger("runner")
CSV_COLUMNS = ("step", "lr", "loss", "smoothed_loss", "val_acc")


def run(cfg: Any, out_dir: Path) -> Status:
    """task=range_test: build what a training run would build, test, write the three files."""
    from runner.analysis.plateaus import ema
    from runner.files import write_json_atomic, write_rows
    from runner.range_test.bounds import suggest_bounds
    from runner.range_test.loop import lr_range_test, snapshot, unchanged
    from runner.range_test.plot import plot_range_test
    from runner.schedules.bounds_file import RESULT_FILE
    from runner.training.build import build_training

    out_dir = Path(out_dir)
    if (out_dir / RESULT_FILE).exists():
        raise ConfigError(f"hydra.run.dir={str(out_dir)!r}: already holds a range test; choose a new folder")
    wall0 = time.perf_counter()
    rt = cfg.range_test
    threads, data, model, optimizer = build_training(cfg)  # the weights `python -m runner` would start from
    before = snapshot(model, optimizer)
    log.info(
        "range test on %s/%s: LR %g -> %g over %d steps (%s), batch %d, %d train images",
        cfg.model.name,
        cfg.dataset.name,
        rt.min_lr,
        rt.max_lr,
        rt.steps,
        rt.mode,
        cfg.trainer.batch_size,
        len(data.train_x),
    )
    result = lr_range_test(
        model,
        optimizer,
        data,
        min_lr=rt.min_lr,
        max_lr=rt.max_lr,
        steps=rt.steps,
        mode=rt.mode,
        batch_size=cfg.trainer.batch_size,
        seed=cfg.seed,
        smoothing=rt.smoothing,
        diverge_factor=rt.diverge_factor,
        eval_every=rt.eval_every,
        eval_size=rt.eval_size,
        eval_batch_size=cfg.trainer.eval_batch_size,
    )
    smoothed = ema(result.losses, rt.smoothing)
    write_rows(
        out_dir / "range_test.csv",
        CSV_COLUMNS,
        zip(range(len(result.lrs)), result.lrs, result.losses, (float(s) for s in smoothed), result.accuracy),
    )
    try:
        bounds = suggest_bounds(result.lrs, smoothed, rt.smoothing, rt.improve_fraction)
    except ValueError:
        raise ConfigError(
            f"range_test.min_lr={rt.min_lr!r}: the loss was not finite from the first step; choose a smaller min_lr"
        ) from None
    measured = [(a, lr) for a, lr in zip(result.accuracy, result.lrs) if a is not None]
    best_acc, best_acc_lr = max(measured) if measured else (None, None)
    summary = {
        **bounds,
        "mode": rt.mode,
        "min_lr": rt.min_lr,
        "max_lr": rt.max_lr,
        "steps": rt.steps,
        "steps_run": len(result.lrs),
        "stopped": result.stopped,
        "last_lr": result.lrs[-1],
        "smoothing": rt.smoothing,
        "improve_fraction": rt.improve_fraction,
        "diverge_factor": rt.diverge_factor,
        "best_val_acc": best_acc,
        "best_val_acc_lr": best_acc_lr,
        "model": cfg.model.name,
        "dataset": cfg.dataset.name,
        "optimizer": cfg.optimizer.name,
        "batch_size": cfg.trainer.batch_size,
        "train_images": len(data.train_x),
        "seed": cfg.seed,
        "threads": threads,
        "model_unchanged": unchanged(before, model, optimizer),
        "wall_s": time.perf_counter() - wall0,
    }
    write_json_atomic(out_dir / RESULT_FILE, summary)
    plot_range_test(
        out_dir / "range_test.png",
        result.lrs,
        result.losses,
        smoothed,
        result.accuracy,
        bounds["suggested_base_lr"],
        bounds["suggested_max_lr"],
        log_x=rt.mode == "exponential",
        title=f"LR range test: {cfg.model.name} on {cfg.dataset.name}, {cfg.optimizer.name}, "
        f"batch {cfg.trainer.batch_size} ({result.stopped} after {len(result.lrs)} steps)",
    )
    log.info(
        "suggested base_lr %.4g, max_lr %.4g; train with schedule.bounds_from=%s",
        bounds["suggested_base_lr"],
        bounds["suggested_max_lr"],
        out_dir,
    )
    return Status.COMPLETED
