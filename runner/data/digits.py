"""`dataset=digits`: scikit-learn's 1,797 8x8 handwritten digits, shipped with scikit-learn, so no network is needed.

digits has no official test split, so one seeded permutation (dataset.split_seed) holds out a share for validation
(dataset.val_fraction) and a share for the test measured once at the end (dataset.test_fraction); the rest trains.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from runner.errors import ConfigError
from runner.files import atomic_file
from runner.typed import require_in

# scikit-learn's digits hold 1,797 images; the split below is counted from it before anything is loaded.
DIGITS_IMAGES = 1797


@dataclass
class DigitsConfig:
    name: str = "digits"
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    split_seed: int = 0

    def check(self, key: str) -> None:
        require_in(f"{key}.val_fraction", self.val_fraction, 0.0, 1.0, low_open=True, high_open=True)
        require_in(f"{key}.test_fraction", self.test_fraction, 0.0, 1.0, low_open=True, high_open=True)
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ConfigError(
                f"{key}.test_fraction={self.test_fraction!r}: with {key}.val_fraction={self.val_fraction!r} it "
                "leaves no images to train on; the two must add up to less than 1"
            )
        if not 0 <= self.split_seed < 2**32:
            raise ConfigError(f"{key}.split_seed={self.split_seed!r}: must be an integer in [0, {2**32 - 1}]")

    def train_images(self) -> tuple[str, int]:
        """(the key that sizes it, how many images train): counted as runner/data/split.py splits, before loading."""
        n_val = max(1, int(round(self.val_fraction * DIGITS_IMAGES)))
        n_test = max(1, int(round(self.test_fraction * DIGITS_IMAGES)))
        return "dataset.val_fraction", DIGITS_IMAGES - n_val - n_test


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as (images, labels), kept in a small cache after the first load.

    Importing sklearn.datasets costs about 0.9 s of every start; the cached copy (110 KB, plain arrays, keyed by the
    scikit-learn version) loads in milliseconds. A damaged or missing cache is simply rebuilt.
    """
    cache_root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "clr-lab"
    cache = cache_root / f"digits-sklearn-{version('scikit-learn')}.npz"
    try:
        with np.load(cache, allow_pickle=False) as saved:
            return saved["images"], saved["labels"]
    except (OSError, KeyError, ValueError):
        pass
    from sklearn.datasets import load_digits as sk_load_digits

    images, labels = sk_load_digits(return_X_y=True)
    try:
        cache_root.mkdir(parents=True, exist_ok=True)
        with atomic_file(cache, binary=True) as f:
            np.savez(f, images=images, labels=labels)
    except OSError:
        pass  # a read-only home: load from scikit-learn every time
    return images, labels


def load(cfg: DigitsConfig) -> Any:
    """The digits as a DataSplit (runner/data/split.py): a seeded train/validation/test split, standardized."""
    from runner.data.split import split_and_normalize

    images, labels = digits_arrays()
    images = images.reshape(-1, 1, 8, 8) / 16.0
    return split_and_normalize(
        images, labels, cfg.val_fraction, cfg.split_seed, num_classes=10, test_fraction=cfg.test_fraction
    )
