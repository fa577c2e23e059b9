"""What every task that trains builds from its config: the thread count, the data, then the model and the optimizer
right after seeding, so a run and a range test with the same overrides start from the same weights.
"""

from __future__ import annotations

import os
import random
from typing import Any

# A sweep's main process works out each parallel worker's share of the cores (runner/sweep/threads.py) and hands it
# to the workers in this variable (they inherit the environment); trainer.threads, when set, wins over it.
THREADS_ENV = "CLR_LAB_THREADS"


def available_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def threads_for_run(configured: int | None) -> int:
    """trainer.threads, or this run's share of the cores: all of them unless a sweep handed out a share."""
    if configured:
        return configured
    shared = os.environ.get(THREADS_ENV, "")
    return int(shared) if shared.isdigit() and int(shared) > 0 else available_cores()


def set_threads(configured: int | None) -> int:
    import torch

    n = threads_for_run(configured)
    torch.set_num_threads(n)
    return n


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_training(cfg: Any) -> tuple[int, Any, Any, Any]:
    """(threads, data, model, optimizer) for a validated RunConfig: data first, then seeding, then the model, so the
    initial weights depend on the seed and the model config only."""
    from runner.data import load_dataset
    from runner.models import build_model
    from runner.optimizers import build_optimizer

    threads = set_threads(cfg.trainer.threads)
    data = load_dataset(cfg.dataset)
    if len(data.train_x) < cfg.trainer.batch_size:  # counted only now for the image datasets (runner/config.py)
        from runner.errors import ConfigError

        raise ConfigError(
            f"trainer.batch_size={cfg.trainer.batch_size}: more than the {len(data.train_x)} training images "
            f"{cfg.dataset.name} leaves; lower it, or hold out fewer images (dataset.val_size)"
        )
    seed_everything(cfg.seed)
    model = build_model(cfg.model, data.input_shape, data.num_classes)
    return threads, data, model, build_optimizer(cfg.optimizer, model.parameters())
