"""In-memory splits: images and labels as tensors, standardized with the training images' statistics.

Small datasets live in memory and are indexed by a seeded permutation: faster than a DataLoader on a CPU and fully
reproducible. The loaders (runner/data/digits.py, runner/data/image_files.py) read the files and end here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass
class DataSplit:
    """Images (N, C, H, W) and int64 labels, ready to index.

    Images are stored either as model inputs already (float32, standardized: digits, a few hundred KB) or as the
    dataset's uint8 pixels with per-channel `mean` and `std` (shape (1, C, 1, 1), on the 0-1 scale), which
    `inputs()` applies to each batch. Keeping Fashion-MNIST as uint8 holds 55 MB instead of 219 MB of float32,
    and a batch costs three elementwise ops more: the same ops, in the same order, as standardizing up front,
    so the numbers are the same either way.
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    num_classes: int
    mean: torch.Tensor | None = None
    std: torch.Tensor | None = None

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_x.shape[1:])  # type: ignore[return-value]

    def inputs(self, images: torch.Tensor) -> torch.Tensor:
        """Model inputs for stored images (a batch of train_x or val_x): float32, standardized."""
        if self.mean is None:
            return images
        return images.to(torch.float32).div_(255.0).sub_(self.mean).div_(self.std)


def split_and_normalize(
    images: np.ndarray, labels: np.ndarray, val_fraction: float, split_seed: int, num_classes: int
) -> DataSplit:
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
    return DataSplit(
        x[train_idx].contiguous(),
        y[train_idx].contiguous(),
        x[val_idx].contiguous(),
        y[val_idx].contiguous(),
        num_classes,
    )


def channel_stats(images: np.ndarray, chunk: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and (unbiased) std of uint8 images on the 0-1 scale, shaped (1, C, 1, 1).

    Summed in float64 a chunk at a time: sums of integer pixels and their squares are exact there (60,000 images
    reach about 3e12, far below 2**53), so the statistics keep float64 precision until the final rounding to
    float32, whatever the summation order. The chunks are
    small (1.6 MB of float64 for 28x28 images) because the allocator keeps what a run once held: 4,096-image
    chunks left 150 MB more resident for the rest of the run.
    """
    channels = images.shape[1]
    s1, s2 = torch.zeros(channels, dtype=torch.float64), torch.zeros(channels, dtype=torch.float64)
    for start in range(0, len(images), chunk):
        x = torch.as_tensor(images[start : start + chunk]).to(torch.float64)
        s1 += x.sum(dim=(0, 2, 3))
        s2 += x.square().sum(dim=(0, 2, 3))
    n = images.size // channels
    mean = s1 / n
    var = (s2 - s1 * mean) / max(n - 1, 1)
    std = var.clamp_min(0).sqrt() / 255.0
    shape = (1, channels, 1, 1)
    # A blank channel (std 0) stays finite.
    return (mean / 255.0).to(torch.float32).view(shape), std.to(torch.float32).clamp_min(1e-8).view(shape)


def standardized_uint8(
    train: np.ndarray, val: np.ndarray, num_classes: int, train_y: np.ndarray, val_y: np.ndarray
) -> DataSplit:
    """uint8 images kept as they are, with the training images' per-channel statistics (no validation leak)."""
    mean, std = channel_stats(train)
    return DataSplit(
        torch.as_tensor(np.ascontiguousarray(train)),
        torch.as_tensor(train_y, dtype=torch.int64),
        torch.as_tensor(np.ascontiguousarray(val)),
        torch.as_tensor(val_y, dtype=torch.int64),
        num_classes,
        mean,
        std,
    )


def seeded_subset(n: int, size: Any, seed: int, key: str) -> np.ndarray | slice:
    """Indices of `size` of `n` items drawn with `seed`; all of them, in order, as a slice for size=None (a view of
    the arrays, not a copy)."""
    from runner.errors import ConfigError

    if size is None:
        return slice(None)
    if size > n:
        raise ConfigError(f"{key}={size!r}: larger than the {n:,} images available; choose at most {n} or null")
    return np.sort(np.random.default_rng(seed).permutation(n)[:size])
