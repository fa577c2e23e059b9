"""The datasets, chosen with `dataset=NAME`: each name maps to its config (dataset.* keys) and its loader.

    digits         scikit-learn's 8x8 digits, no files needed (runner/data/digits.py)
    mnist          torchvision's MNIST, Fashion-MNIST and CIFAR-10 readers over files in dataset.root
    fashion_mnist  (runner/data/image_files.py)
    cifar10

Every loader returns a `runner.data.split.DataSplit`: the images and labels in memory, standardized with the
training images' statistics. The configs import neither torch nor torchvision; the loaders do, when called.
"""

from __future__ import annotations

from typing import Any

from runner.data import digits, image_files
from runner.registry import Registry

DATASETS = Registry("dataset")
DATASETS.add("digits", digits.DigitsConfig, digits.load)
DATASETS.add("mnist", image_files.MNISTConfig, image_files.load)
DATASETS.add("fashion_mnist", image_files.FashionMNISTConfig, image_files.load)
DATASETS.add("cifar10", image_files.CIFAR10Config, image_files.load)


def load_dataset(cfg: Any) -> Any:
    """The DataSplit of the dataset that `cfg` (a validated dataset config) names."""
    return DATASETS.entry(cfg.name).build(cfg)
