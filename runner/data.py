"""Dataset registry -> in-memory tensors with a seeded train/validation split.

Small datasets live in memory and are indexed by a seeded permutation: faster than a DataLoader on a CPU and fully
reproducible. Loading goes through scikit-learn and torchvision (runner/datasets.py), never a hand-written parser.

digits has no official test split, so a seeded share of it is held out. The torchvision datasets (mnist,
fashion_mnist, cifar10) use their official test split as the validation set: it is the split every published
number (Smith's CIFAR-10 tables, the Fashion-MNIST benchmark) is measured on, so our accuracies compare with them,
and the 10,000 images give a standard error of about 0.3 points at 90% accuracy.
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


def standardize(train: np.ndarray, val: np.ndarray, num_classes: int, train_y: np.ndarray,
                val_y: np.ndarray) -> DataSplit:
    """Per-channel mean and std of the training images alone (no validation leak), applied to both splits."""
    # One float copy per split, scaled in place: 60,000 Fashion-MNIST images are 188 MB as float32, and
    # `(x - mean) / std` would hold three such copies at once at the peak.
    train_x = torch.as_tensor(train).to(torch.float32).div_(255.0)
    val_x = torch.as_tensor(val).to(torch.float32).div_(255.0)
    mean = train_x.mean(dim=(0, 2, 3), keepdim=True)
    std = train_x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-8)  # a blank channel stays finite
    for x in (train_x, val_x):
        x.sub_(mean).div_(std)
    return DataSplit(train_x.contiguous(), torch.as_tensor(train_y, dtype=torch.int64),
                     val_x.contiguous(), torch.as_tensor(val_y, dtype=torch.int64), num_classes)


def seeded_subset(n: int, size: Any, seed: int, key: str) -> np.ndarray:
    """Indices of `size` of `n` items drawn with `seed` (all of them, in order, for size=None)."""
    from runner.errors import ConfigError

    if size is None:
        return np.arange(n)
    if size > n:
        raise ConfigError(f"{key}={size!r}: larger than the {n:,} images available; choose at most {n} or null")
    return np.sort(np.random.default_rng(seed).permutation(n)[:size])


def load_torchvision(cfg: Any) -> DataSplit:
    """mnist, fashion_mnist, cifar10: official train split for training (or a seeded dataset.subset of it), the
    official test split (or a seeded dataset.val_subset of it) for validation, standardized with training statistics.

    The subsets come from dataset.split_seed, not from the run's seed, so every seed of a sweep trains and is judged
    on the same images and the seed spread measures training noise alone.
    """
    from runner.datasets import fetch

    raw = fetch(cfg)
    train = seeded_subset(len(raw.train_images), cfg.subset, cfg.split_seed, "dataset.subset")
    val = seeded_subset(len(raw.test_images), cfg.val_subset, cfg.split_seed + 1, "dataset.val_subset")
    return standardize(raw.train_images[train], raw.test_images[val], len(raw.classes), raw.train_labels[train],
                       raw.test_labels[val])


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as (images, labels), kept in a small cache after the first load.

    Importing sklearn.datasets costs about 0.9 s of every start; the cached copy (110 KB, plain arrays, keyed by the
    scikit-learn version) loads in milliseconds. A damaged or missing cache is simply rebuilt.
    """
    import os
    from importlib.metadata import version
    from pathlib import Path

    cache_root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "clr-lab"
    cache = cache_root / f"digits-sklearn-{version('scikit-learn')}.npz"
    try:
        with np.load(cache, allow_pickle=False) as saved:
            return saved["images"], saved["labels"]
    except (OSError, KeyError, ValueError):
        pass
    from sklearn.datasets import load_digits as sk_load_digits

    from runner.records import atomic_file

    images, labels = sk_load_digits(return_X_y=True)
    try:
        cache_root.mkdir(parents=True, exist_ok=True)
        with atomic_file(cache, binary=True) as f:
            np.savez(f, images=images, labels=labels)
    except OSError:
        pass  # a read-only home: load from scikit-learn every time
    return images, labels


def load_digits(cfg: Any) -> DataSplit:
    """scikit-learn's 1,797 8x8 handwritten digits, shipped with the package: no network needed."""
    images, labels = digits_arrays()
    images = images.reshape(-1, 1, 8, 8) / 16.0
    return split_and_normalize(images, labels, cfg.val_fraction, cfg.split_seed, num_classes=10)


LOADERS: dict[str, Callable[[Any], DataSplit]] = {"digits": load_digits, "mnist": load_torchvision,
                                                  "fashion_mnist": load_torchvision, "cifar10": load_torchvision}


def load_dataset(cfg: Any) -> DataSplit:
    return LOADERS[cfg.name](cfg)
