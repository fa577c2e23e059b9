"""`dataset=mnist|fashion_mnist|cifar10`: image datasets read through torchvision.datasets, held in memory.

    from runner.data.image_files import fetch
    arrays = fetch(cfg)          # cfg: one of the configs below (name, root, download, ...)

torchvision parses the files (IDX for MNIST and Fashion-MNIST, pickled batches for CIFAR-10); nothing here parses a
format. What this module adds:

- Fashion-MNIST from Debian's `dataset-fashion-mnist` package (/usr/share/datasets/fashion-mnist, gzipped IDX):
  torchvision's FashionMNIST reads only the uncompressed files in `<root>/FashionMNIST/raw/`, so the .gz files are
  decompressed there once (gzip, to a temporary name, then renamed: a killed run leaves no half file).
- The same for .gz files a user copied into `<root>/<Class>/raw/` or straight into `<root>/`.
- CIFAR-10 with dataset.verify=false: torchvision checks the md5 of the official files on every load; files you
  re-packed yourself in the same format (and test fixtures) load with the checksums switched off, through the same
  class and the same reader.
- A missing dataset is one ConfigError line that names where it looked and the two ways to get the data.
"""

from __future__ import annotations

import gzip
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from runner.errors import ConfigError
from runner.files import atomic_file

# The four IDX files torchvision's MNIST-style classes read, without the .gz suffix.
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
DEBIAN_PACKAGE = {"fashion_mnist": "dataset-fashion-mnist"}


@dataclass
class ImageDatasetConfig:
    """A torchvision dataset: files under `root`; validation held out of the official training split, the official
    test split measured once at the end; optional seeded subsets for quick runs."""

    name: str = ""
    root: str = "data"
    download: bool = False
    val_size: int = 5000
    subset: int | None = None
    test_subset: int | None = None
    split_seed: int = 0

    def check(self, key: str) -> None:
        if not self.root.strip():
            raise ConfigError(f"{key}.root={self.root!r}: must name a folder, e.g. data")
        if self.val_size < 1:
            raise ConfigError(f"{key}.val_size={self.val_size!r}: must be an integer >= 1 (training images held out)")
        for name in ("subset", "test_subset"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{key}.{name}={value!r}: must be an integer >= 1 or null (all images)")
        if not 0 <= self.split_seed < 2**32:
            raise ConfigError(f"{key}.split_seed={self.split_seed!r}: must be an integer in [0, {2**32 - 1}]")

    def train_images(self) -> tuple[str, int] | None:
        """(the key that sizes it, how many images train) when known before loading: a subset; else None."""
        return None if self.subset is None else ("dataset.subset", self.subset)


@dataclass
class MNISTConfig(ImageDatasetConfig):
    name: str = "mnist"
    INPUT_SHAPE = (1, 28, 28)  # known before loading (not a config key: no annotation)


@dataclass
class FashionMNISTConfig(ImageDatasetConfig):
    name: str = "fashion_mnist"
    INPUT_SHAPE = (1, 28, 28)
    system_dir: str | None = "/usr/share/datasets/fashion-mnist"


@dataclass
class CIFAR10Config(ImageDatasetConfig):
    name: str = "cifar10"
    INPUT_SHAPE = (3, 32, 32)
    verify: bool = True


@dataclass
class RawArrays:
    """The official train and test splits as uint8 images (N, C, H, W) and int64 labels."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    classes: list[str]


def _gunzip(src: Path, dest: Path) -> None:
    """Decompress `src` into `dest` whole (a temporary name, then renamed): a damaged .gz leaves no half file, and
    is one line naming it."""
    import zlib

    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with gzip.open(src, "rb") as fin, atomic_file(dest, binary=True) as fout:
            shutil.copyfileobj(fin, fout, length=1 << 20)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ConfigError(
            f"dataset.root={str(src.parent)!r}: {src} is not a valid IDX/gzip file ({exc or type(exc).__name__}); "
            "replace it with the original download"
        ) from None


def prepare_idx(raw: Path, sources: list[Path]) -> bool:
    """Put the four uncompressed IDX files into `raw` (torchvision's layout); True when all four are there.

    A file already in `raw` is kept; otherwise the first `<name>` or `<name>.gz` found in `sources` is decompressed
    (or copied) into `raw`. Nothing is parsed here: torchvision reads the result.
    """
    for name in IDX_FILES:
        if (raw / name).is_file():
            continue
        for folder in sources:
            if (folder / f"{name}.gz").is_file():
                _gunzip(folder / f"{name}.gz", raw / name)
                break
            if folder != raw and (folder / name).is_file():
                raw.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(folder / name, raw / name)
                break
        else:
            return False
    return True


def _download_error(cfg: Any, exc: Exception) -> ConfigError:
    reason = " ".join(str(exc).split())[:200] or type(exc).__name__
    return ConfigError(
        f"dataset.download=true: downloading {cfg.name} into {cfg.root!r} failed ({reason}); "
        f"are you online? Otherwise copy the files into dataset.root"
    )


def _idx_dataset(cfg: Any, cls: type) -> RawArrays:
    """MNIST and Fashion-MNIST: torchvision's class over `<root>/<Class>/raw/`, filled from .gz files if needed."""
    root = Path(cfg.root).expanduser()
    raw = root / cls.__name__ / "raw"
    system_dir = getattr(cfg, "system_dir", None)
    sources = [raw, root] + ([Path(system_dir)] if system_dir else [])
    found = prepare_idx(raw, sources)
    if not found and not cfg.download:
        places = ", ".join(str(p) for p in sources)
        package = DEBIAN_PACKAGE.get(cfg.name)
        offline = (
            f"`apt-get install {package}`, or copy" if package else "copy"
        ) + f" the four IDX files (.gz or not) into {raw}"
        raise ConfigError(
            f"dataset.root={cfg.root!r}: {cfg.name} not found (looked in {places}); get it with "
            f"dataset.download=true (online) or {offline}"
        )
    if found:  # the files are there: a failure is in reading them, not in a download
        try:
            train = cls(str(root), train=True, download=False)
            test = cls(str(root), train=False, download=False)
        except Exception as exc:  # noqa: BLE001 - torchvision's reader fails with asserts and ValueErrors alike
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise ConfigError(
                f"dataset.root={cfg.root!r}: the files in {raw} are not valid IDX files ({reason}); replace them "
                f"({', '.join(IDX_FILES)}) with the original downloads"
            ) from None
    else:
        try:
            train = cls(str(root), train=True, download=bool(cfg.download))
            test = cls(str(root), train=False, download=False)
        except Exception as exc:  # noqa: BLE001 - a failed download is a user-facing condition, not a bug
            raise _download_error(cfg, exc) from None
    return RawArrays(
        train.data.numpy()[:, None],
        train.targets.numpy().astype(np.int64),
        test.data.numpy()[:, None],
        test.targets.numpy().astype(np.int64),
        list(train.classes),
    )


def fashion_mnist(cfg: Any) -> RawArrays:
    from torchvision.datasets import FashionMNIST

    return _idx_dataset(cfg, FashionMNIST)


def mnist(cfg: Any) -> RawArrays:
    from torchvision.datasets import MNIST

    return _idx_dataset(cfg, MNIST)


def _cifar10_class(verify: bool) -> type:
    """torchvision's CIFAR10, or the same class with its md5 checks off (verify=false).

    torchvision's check_integrity(path, md5=None) only tests that the file exists, so setting the checksums to
    None keeps every other line of torchvision's loader (its unpickling, its reshape, its meta file) as it is.
    """
    from torchvision.datasets import CIFAR10

    if verify:
        return CIFAR10

    class UncheckedCIFAR10(CIFAR10):
        train_list = [[name, None] for name, _ in CIFAR10.train_list]
        test_list = [[name, None] for name, _ in CIFAR10.test_list]
        meta = {**CIFAR10.meta, "md5": None}

    return UncheckedCIFAR10


# What a CIFAR-10 batch may hold: the official batches are dicts of numpy arrays, lists, bytes and strings. A pickle
# can name any callable, so every batch loads through this allow-list, whatever dataset.verify says (an md5 match only
# proves the file is the official one; with verify=false nothing else would stand between a crafted file and code).
PICKLE_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}


def restricted_load(file: Any, **kwargs: Any) -> Any:
    """pickle.load for CIFAR-10 batches: numpy arrays, lists, dicts, bytes and strings only; anything else that the
    pickle names is refused before it is imported, so nothing in the file runs."""
    import pickle

    class BatchUnpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            if (module, name) not in PICKLE_GLOBALS:
                path = getattr(file, "name", "?")
                raise ConfigError(
                    f"dataset.root={str(Path(path).parent.parent)!r}: {path} is not a plain CIFAR-10 batch: it names "
                    f"{module}.{name}, and only numpy arrays, lists, dicts, bytes and strings are loaded"
                )
            return super().find_class(module, name)

    return BatchUnpickler(file, **kwargs).load()


class _RestrictedPickle:
    """Stands in for the `pickle` module inside torchvision.datasets.cifar while a CIFAR-10 dataset loads."""

    load = staticmethod(restricted_load)


def _restricted_cifar_pickle() -> Any:
    """A context in which torchvision's CIFAR10 unpickles through restricted_load.

    torchvision 0.29 (datasets/cifar.py) reads every batch and the meta file with the module-level name
    `pickle.load(f, encoding="latin1")`; that name is swapped for the restricted loader for the duration, so the rest
    of torchvision's reader stays as it is. tests/adversarial/test_security.py fails if torchvision stops using
    that name.
    """
    import contextlib

    import torchvision.datasets.cifar as cifar_module

    @contextlib.contextmanager
    def swapped() -> Any:
        original = cifar_module.pickle
        cifar_module.pickle = _RestrictedPickle
        try:
            yield
        finally:
            cifar_module.pickle = original

    return swapped()


def cifar10(cfg: Any) -> RawArrays:
    root = Path(cfg.root).expanduser()
    folder = root / "cifar-10-batches-py"
    cls = _cifar10_class(cfg.verify)
    if not folder.is_dir() and not cfg.download:
        raise ConfigError(
            f"dataset.root={cfg.root!r}: cifar10 not found (looked in {folder}); get it with "
            f"dataset.download=true (online) or copy the extracted cifar-10-batches-py/ folder "
            f"(data_batch_1..5, test_batch, batches.meta) into {root}"
        )
    try:
        with _restricted_cifar_pickle():
            train = cls(str(root), train=True, download=bool(cfg.download))
            test = cls(str(root), train=False, download=False)
    except ConfigError:
        raise
    except RuntimeError as exc:
        if not cfg.download or "corrupted" in str(exc):
            raise ConfigError(
                f"dataset.root={cfg.root!r}: cifar10 files in {folder} are incomplete or fail "
                f"torchvision's md5 check ({' '.join(str(exc).split())}); re-download them, or set "
                f"dataset.verify=false for files you re-packed yourself"
            ) from None
        raise _download_error(cfg, exc) from None
    except Exception as exc:  # noqa: BLE001 - network errors from the download
        raise _download_error(cfg, exc) from None
    to_nchw = (0, 3, 1, 2)  # torchvision keeps CIFAR as (N, H, W, C)
    return RawArrays(
        train.data.transpose(to_nchw),
        np.asarray(train.targets, dtype=np.int64),
        test.data.transpose(to_nchw),
        np.asarray(test.targets, dtype=np.int64),
        list(train.classes),
    )


def fetch(cfg: Any) -> RawArrays:
    """The official splits of the dataset `cfg` names, as uint8 arrays."""
    readers = {"fashion_mnist": fashion_mnist, "mnist": mnist, "cifar10": cifar10}
    return readers[cfg.name](cfg)


def held_out_rows(n: int, cfg: Any) -> tuple[np.ndarray, np.ndarray]:
    """(validation rows, training rows) of the official training split's `n` images.

    dataset.val_size images are drawn with dataset.split_seed and kept in their drawn order (shuffled: their first
    N are a random sample too); dataset.subset is then drawn from the rest, with its own stream of the same seed,
    so the validation images stay the same whatever the subset. The training rows are sorted (file order).
    """
    if cfg.val_size >= n:
        raise ConfigError(
            f"dataset.val_size={cfg.val_size!r}: leaves none of the {n:,} training images to train on; "
            f"choose at most {n - 1}"
        )
    val = np.random.default_rng(cfg.split_seed).permutation(n)[: cfg.val_size]
    keep = np.ones(n, dtype=bool)
    keep[val] = False
    rest = np.flatnonzero(keep)
    if cfg.subset is not None:
        if cfg.subset > len(rest):
            raise ConfigError(
                f"dataset.subset={cfg.subset!r}: larger than the {len(rest):,} training images left after "
                f"dataset.val_size={cfg.val_size}; choose at most {len(rest)} or null"
            )
        rest = rest[np.sort(np.random.default_rng([cfg.split_seed, 1]).permutation(len(rest))[: cfg.subset])]
    return val, rest


def load(cfg: Any) -> Any:
    """Training images from the official training split less dataset.val_size held-out validation images (or a
    seeded dataset.subset of the rest), the official test split (or a seeded dataset.test_subset of it) as the
    test part, as a DataSplit standardized with training statistics.

    Every draw comes from dataset.split_seed, not from the run's seed, so every seed of a sweep trains, validates
    and tests on the same images and the seed spread measures training noise alone. Validation decides nothing
    inside a run but is what its curves, final_val_acc, best_val_acc and steps_to_target report, and what a user
    compares runs on; the official test split (the one published numbers such as Smith's CIFAR-10 tables and the
    Fashion-MNIST benchmark are measured on) is measured once, at the end, and kept out of every choice.
    """
    from runner.data.split import seeded_subset, standardized_uint8, take_rows_in_place

    raw = fetch(cfg)
    val, train = held_out_rows(len(raw.train_images), cfg)
    val_images, val_labels = raw.train_images[val], raw.train_labels[val]  # copied out before the move below
    train_images = take_rows_in_place(raw.train_images, train)
    test = seeded_subset(len(raw.test_images), cfg.test_subset, cfg.split_seed, "dataset.test_subset")
    return standardized_uint8(
        train_images,
        val_images,
        len(raw.classes),
        raw.train_labels[train],
        val_labels,
        raw.test_images[test],
        raw.test_labels[test],
    )
