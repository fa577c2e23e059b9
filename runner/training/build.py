"""What every task that trains builds from its config: the thread count, the device, the data, then the model and
the optimizer right after seeding, so a run and a range test with the same overrides start from the same weights.
"""

from __future__ import annotations

import os
import random
from typing import Any

from runner.training.cores import available_cores, free_cores

# A sweep's main process works out each parallel worker's share of the cores (runner/sweep/threads.py) and hands it
# to the workers in this variable (they inherit the environment); trainer.threads, when set, wins over it.
THREADS_ENV = "CLR_LAB_THREADS"
__all__ = ["THREADS_ENV", "available_cores", "build_training", "set_threads", "threads_for_run", "threads_source"]


def threads_source(configured: int | None) -> str:
    """Where a run's thread count comes from: trainer.threads, a sweep's share, or the free cores."""
    if configured:
        return "trainer.threads"
    shared = os.environ.get(THREADS_ENV, "")
    return "sweep_share" if shared.isdigit() and int(shared) > 0 else "free_cores"


def threads_for_run(configured: int | None) -> int:
    """trainer.threads, or this run's share of a parallel sweep, or the cores no other process keeps busy
    (runner/training/cores.py)."""
    source = threads_source(configured)
    if source == "trainer.threads":
        return configured  # type: ignore[return-value]
    if source == "sweep_share":
        return int(os.environ[THREADS_ENV])
    return free_cores()


def set_threads(configured: int | None, pinned: int | None = None) -> int:
    """Set torch's thread count: `pinned` (a resumed run keeps the count it started with) or threads_for_run."""
    import torch

    n = pinned or threads_for_run(configured)
    torch.set_num_threads(n)
    return n


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_training(cfg: Any, *, threads: int | None = None, device: Any = None) -> tuple[int, Any, Any, Any]:
    """(threads, data, model, optimizer) for a validated RunConfig: data first, then seeding, then the model, so the
    initial weights depend on the seed and the model config only. The model is made on the CPU and then moved, so
    every device starts from the same weights; the data moves to the device once, here, not batch by batch.

    `threads` and `device` (a torch.device) are what a resumed run pins; by default trainer.threads and
    trainer.device decide (runner/training/device.py)."""
    from runner.data import load_dataset
    from runner.models import build_model
    from runner.optimizers import build_optimizer
    from runner.training.device import resolve

    n = set_threads(cfg.trainer.threads, threads)
    device = device if device is not None else resolve(cfg.trainer.device)
    data = load_dataset(cfg.dataset)
    if len(data.train_x) < cfg.trainer.batch_size:  # counted only now for the image datasets (runner/config.py)
        from runner.errors import ConfigError

        raise ConfigError(
            f"trainer.batch_size={cfg.trainer.batch_size}: more than the {len(data.train_x)} training images "
            f"{cfg.dataset.name} leaves; lower it, or hold out fewer images (dataset.val_size)"
        )
    data = data.to(device)
    seed_everything(cfg.seed)
    model = build_model(cfg.model, data.input_shape, data.num_classes).to(device)
    return n, data, model, build_optimizer(cfg.optimizer, model.parameters())
