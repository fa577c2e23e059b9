"""Dataset registry -> in-memory tensors with a seeded train/validation split.

Small datasets live in memory and are indexed by a seeded permutation: faster than a DataLoader on a CPU and fully
reproducible. Loading goes through scikit-learn and torchvision, never a hand-written parser.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch


@dataclass
class DataSplit:
    """Normalized float images (N, C, H, W) and int64 labels, ready to index."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_x.shape[1:])  # type: ignore[return-value]


def split_and_normalize(images: np.ndarray, labels: np.ndarray, val_fraction: float, split_seed: int,
                        num_classes: int) -> DataSplit:
    """Seeded split, then standardize with the training images' mean and std (no validation leak).

    The split has its own seed (dataset.split_seed), not the run's: runs with different seeds are then judged on
    the same validation images, so the seed spread measures training noise alone.
    """
    order = np.random.default_rng(split_seed).permutation(len(images))
    n_val = max(1, int(round(val_fraction * len(images))))
    val_idx, train_idx = order[:n_val], order[n_val:]
    x = torch.as_tensor(images, dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.int64)
    mean, std = x[train_idx].mean(), x[train_idx].std()
    x = (x - mean) / std
    return DataSplit(x[train_idx].contiguous(), y[train_idx].contiguous(), x[val_idx].contiguous(),
                     y[val_idx].contiguous(), num_classes)


def load_digits(cfg: Any) -> DataSplit:
    """scikit-learn's 1,797 8x8 handwritten digits, shipped with the package: no network needed."""
    from sklearn.datasets import load_digits as sk_load_digits

    images, labels = sk_load_digits(return_X_y=True)
    images = images.reshape(-1, 1, 8, 8) / 16.0
    return split_and_normalize(images, labels, cfg.val_fraction, cfg.split_seed, num_classes=10)


LOADERS: dict[str, Callable[[Any], DataSplit]] = {"digits": load_digits}


def load_dataset(cfg: Any) -> DataSplit:
    return LOADERS[cfg.name](cfg)
