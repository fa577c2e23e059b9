"""task=preview: schedule.csv and schedule.png, the LR (and momentum) of a policy over preview.steps iterations,
without training. `python -m runner task=preview schedule=triangular2` draws the policy the run would follow."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from runner.files import write_rows
from runner.status import Status

log = logging.getLogger("runner")


def needs_data_size(schedule: Any) -> bool:
    """Whether a length in epochs is in effect (not overruled by its twin in steps): only the data size turns it
    into steps."""
    ignored = set(schedule.ignored_keys("schedule"))
    return any(
        f.name.endswith("_epochs") and getattr(schedule, f.name) is not None and f"schedule.{f.name}" not in ignored
        for f in dataclasses.fields(schedule)
    )


def preview_iters_per_epoch(cfg: Any) -> int:
    from runner.data import load_dataset
    from runner.training.loop import iters_per_epoch

    return iters_per_epoch(len(load_dataset(cfg.dataset).train_x), cfg.trainer.batch_size)


def describe(schedule: Any) -> str:
    """A one-line title: the policy and its numbers."""
    parts = [
        f"{f.name}={getattr(schedule, f.name)!r}"
        for f in dataclasses.fields(schedule)
        if f.name != "name" and getattr(schedule, f.name) is not None
    ]
    return f"{schedule.name}: " + ", ".join(parts)


def run_preview(cfg: Any, out_dir: Path) -> Status:
    """schedule.csv and schedule.png: the LR over preview.steps iterations, no training."""
    from runner.plots import plot_schedule
    from runner.run_folder import finished

    if finished(Path(out_dir), "preview"):  # the same config: runner/run_folder.py refused any other
        log.info("%s: preview already drawn; nothing to do (a finished run is never redone)", out_dir)
        return Status.COMPLETED
    # Lengths given in epochs need the data size; one_cycle-like policies span the preview's steps.
    per_epoch = preview_iters_per_epoch(cfg) if needs_data_size(cfg.schedule) else 1
    schedule = cfg.schedule.resolve(per_epoch, cfg.preview.steps)
    steps = list(range(cfg.preview.steps))
    lrs = [schedule.lr_at(i) for i in steps]
    momenta = [schedule.momentum_at(i) for i in steps]
    write_rows(
        Path(out_dir) / "schedule.csv",
        ("step", "cycle", "lr", "momentum"),
        ((i, schedule.cycle(i), lr, m) for i, lr, m in zip(steps, lrs, momenta)),
    )
    plot_schedule(Path(out_dir) / "schedule.png", steps, lrs, title=describe(schedule), momenta=momenta)
    log.info("preview of %s over %d steps written to %s", schedule.name, len(steps), out_dir)
    return Status.COMPLETED
