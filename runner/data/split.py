"""In-memory splits: images and labels as tensors, standardized with the training images' statistics.

Small datasets live in memory and are indexed by a seeded permutation: faster than a DataLoader on a CPU and fully
reproducible. The loaders (runner/data/digits.py, runner/data/image_files.py) read the files and end here.

Three parts, each with its own job: training images (the only ones the optimizer and the standardization statistics
see), validation images (every evaluation during a run; what eval.csv, final_val_acc and best_val_acc report, and
what the range test measures) and test images (measured once, at the end of a completed run: summary.json's
test_acc; never used for a choice). Validation is held out of the training data and kept in its drawn, shuffled
order, so its first N images are themselves a seeded random sample: trainer.eval_size and range_test.eval_size
take those.
"""

from __future__ import annotations

import dataclasses
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
    # Last and optional, so a split built by hand (tests, benchmarks) needs none: a run then reports no test_acc.
    test_x: torch.Tensor | None = None
    test_y: torch.Tensor | None = None

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_x.shape[1:])  # type: ignore[return-value]

    @property
    def device(self) -> torch.device:
        return self.train_x.device

    def to(self, device: torch.device | str) -> DataSplit:
        """This split with every tensor on `device`, moved once for the whole run (itself when already there: on
        the CPU nothing is copied). Batches are then indexed where the model is, with no copy per step."""
        device = torch.device(device)
        if self.device == device:
            return self
        return dataclasses.replace(
            self,
            **{
                f.name: getattr(self, f.name).to(device)
                for f in dataclasses.fields(self)
                if isinstance(getattr(self, f.name), torch.Tensor)
            },
        )

    def inputs(self, images: torch.Tensor) -> torch.Tensor:
        """Model inputs for stored images (a batch of train_x, val_x or test_x): float32, standardized."""
        if self.mean is None:
            return images
        return images.to(torch.float32).div_(255.0).sub_(self.mean).div_(self.std)


def split_and_normalize(
    images: np.ndarray,
    labels: np.ndarray,
    val_fraction: float,
    split_seed: int,
    num_classes: int,
    test_fraction: float = 0.0,
) -> DataSplit:
    """Seeded train/validation/test split, then standardize with the training images' mean and std (no leak).

    The split has its own seed (dataset.split_seed), not the run's: runs with different seeds are then judged on
    the same validation and test images, so the seed spread measures training noise alone. One permutation gives
    all three parts: validation first (the same images as before a test part existed), then test, then training.
    """
    order = np.random.default_rng(split_seed).permutation(len(images))
    n_val = max(1, int(round(val_fraction * len(images))))
    n_test = int(round(test_fraction * len(images)))
    if test_fraction > 0:
        n_test = max(1, n_test)
    val_idx, test_idx, train_idx = order[:n_val], order[n_val : n_val + n_test], order[n_val + n_test :]
    if len(train_idx) == 0:
        from runner.errors import ConfigError

        raise ConfigError(
            f"dataset.val_fraction={val_fraction!r}: with dataset.test_fraction={test_fraction!r} it leaves none of "
            f"the {len(images):,} images to train on; choose fractions that add up to less than 1"
        )
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
        test_x=x[test_idx].contiguous() if n_test else None,
        test_y=y[test_idx].contiguous() if n_test else None,
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
    train: np.ndarray,
    val: np.ndarray,
    num_classes: int,
    train_y: np.ndarray,
    val_y: np.ndarray,
    test: np.ndarray | None = None,
    test_y: np.ndarray | None = None,
) -> DataSplit:
    """uint8 images kept as they are, with the training images' per-channel statistics (no validation or test
    leak). A contiguous array becomes a tensor without a copy."""
    mean, std = channel_stats(train)

    def pixels(a: np.ndarray | None) -> torch.Tensor | None:
        return None if a is None else torch.as_tensor(np.ascontiguousarray(a))

    def classes(a: np.ndarray | None) -> torch.Tensor | None:
        return None if a is None else torch.as_tensor(a, dtype=torch.int64)

    return DataSplit(
        pixels(train),
        classes(train_y),
        pixels(val),
        classes(val_y),
        num_classes,
        mean,
        std,
        test_x=pixels(test),
        test_y=classes(test_y),
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


def take_rows_in_place(images: np.ndarray, rows: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """images[rows] for strictly increasing `rows`, as a view of `images` whose leading rows now hold them.

    Fancy indexing would copy every kept image while the originals are still held: for Fashion-MNIST's 55,000
    training images that is a second 43 MB. Moving them forward a chunk at a time needs one chunk more. It is safe
    because rows[k] >= k: every source row lies at or after its destination and after every row already written,
    and each chunk is copied out (the fancy index) before it is written back. Arrays that cannot be written to
    are copied the ordinary way.
    """
    rows = np.asarray(rows)
    if not images.flags.writeable:
        return images[rows]
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        images[start : start + len(part)] = images[part]
    return images[: len(rows)]
