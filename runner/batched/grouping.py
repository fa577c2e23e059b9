"""Which jobs of a sweep can train together, and why the others cannot.

Members of one group share everything the vectorized model and the lockstep loop share: the model architecture, the
dataset (its subset and split), the batch size, the number of steps, the threads, the device, the optimizer kind
and the step they start from (a resumed sweep's members continue from their checkpoints). Everything else (seed,
schedule and its settings, optimizer settings, evaluation settings) is per member.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any


def why_not_batched(cfg: Any, input_shape: tuple[int, int, int], max_pixels: int | None) -> str | None:
    """None when the job can join a group, else the reason it runs the ordinary way."""
    if cfg.task != "train":
        return f"task={cfg.task} is not a training run"
    if getattr(cfg.model, "dropout", 0.0):
        # vmap draws one dropout mask stream for all members: no member would match its separate run.
        return "model.dropout > 0 (dropout masks cannot match a separate run's)"
    device = getattr(cfg.trainer, "device", None)
    if device == "auto":  # auto is the CPU on a machine without a GPU; the vectorized path is tested only there
        from runner.training.device import auto_choice

        if auto_choice() == "cpu":
            device = "cpu"
    if device not in (None, "cpu"):
        return f"trainer.device={device} (the batched launcher trains on the CPU)"
    if getattr(cfg, "logger", "csv") != "csv":
        return f"logger={cfg.logger} (event files are written by the ordinary loop only)"
    if cfg.faults.fail_at_step is not None:
        return "faults.fail_at_step is set (an injected failure belongs to one run)"
    return too_many_pixels(input_shape, max_pixels)


def too_many_pixels(input_shape: tuple[int, int, int], max_pixels: int | None) -> str | None:
    """The reason when the inputs are larger than the launcher vectorizes (hydra.launcher.max_pixels), else None."""
    if max_pixels is not None and input_shape[1] * input_shape[2] > max_pixels:
        return (
            f"{input_shape[1]}x{input_shape[2]} inputs exceed hydra.launcher.max_pixels={max_pixels} "
            "(vectorized convolutions lose to separate runs on large inputs)"
        )
    return None


def group_key(cfg: Any, steps: int, start_step: int) -> str:
    """Jobs with equal keys can share one vectorized model."""
    shared = {
        "model": dataclasses.asdict(cfg.model),
        "dataset": dataclasses.asdict(cfg.dataset),
        "batch_size": cfg.trainer.batch_size,
        "eval_batch_size": cfg.trainer.eval_batch_size,
        "steps": steps,
        "threads": cfg.trainer.threads,
        "device": getattr(cfg.trainer, "device", None),
        "optimizer": cfg.optimizer.name,
        "start_step": start_step,
    }
    return json.dumps(shared, sort_keys=True, default=str)


def split_groups(groups: dict[str, list[Any]], max_members: int | None) -> list[list[Any]]:
    """Groups of at most `max_members` each, as even as possible (9 jobs at a cap of 4: 3, 3, 3)."""
    out = []
    for jobs in groups.values():
        if not max_members or len(jobs) <= max_members:
            out.append(jobs)
            continue
        parts = -(-len(jobs) // max_members)
        size = -(-len(jobs) // parts)
        out += [jobs[i : i + size] for i in range(0, len(jobs), size)]
    return out
