"""Datasets through torchvision: small files in the real formats (gzipped IDX, CIFAR-10 pickle batches) written
here, loaded through the same code as the real data; Debian's Fashion-MNIST when installed (required in CI)."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from runner.config import validate
from runner.data import load_dataset
from runner.data.image_files import IDX_FILES
from runner.errors import ConfigError
from support import DEBIAN_DIR, compose, real_fashion_mnist_or_skip


# ---- fixtures in the real formats ---------------------------------------------------------------------------
def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX format (LeCun): magic 0x0000 0x08 (uint8) <ndim>, big-endian int32 sizes, then the raw bytes."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def fake_images(n: int, shape: tuple, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images whose mean brightness encodes the label, so a model could learn them; labels cycle over 10."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    images = rng.integers(0, 60, size=(n, *shape)) + (labels * 19).reshape(-1, *[1] * len(shape))
    return images.astype(np.uint8), labels.astype(np.uint8)


def write_idx_gz(folder: Path, n_train: int = 120, n_test: int = 40, gz: bool = True) -> dict:
    """The four MNIST/Fashion-MNIST files (gzipped like the official downloads and Debian's package)."""
    folder.mkdir(parents=True, exist_ok=True)
    train_x, train_y = fake_images(n_train, (28, 28), seed=1)
    test_x, test_y = fake_images(n_test, (28, 28), seed=2)
    for name, array in zip(IDX_FILES, (train_x, train_y, test_x, test_y)):
        if gz:
            with gzip.open(folder / f"{name}.gz", "wb") as f:
                f.write(idx_bytes(array))
        else:
            (folder / name).write_bytes(idx_bytes(array))
    return {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}


def write_cifar10(root: Path, per_batch: int = 20, n_test: int = 30) -> dict:
    """cifar-10-batches-py/: data_batch_1..5 and test_batch (dicts with data (N, 3072) uint8 in CHW order and
    labels) and batches.meta (label_names), pickled as the official archive has them."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    batches = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        x, y = fake_images(n_test if name == "test_batch" else per_batch, (3, 32, 32), seed=10 + i)
        batches[name] = (x, y)
        with open(folder / name, "wb") as f:
            pickle.dump({"batch_label": name, "data": x.reshape(len(x), -1), "labels": [int(v) for v in y]}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump(
            {
                "label_names": [
                    "airplane",
                    "automobile",
                    "bird",
                    "cat",
                    "deer",
                    "dog",
                    "frog",
                    "horse",
                    "ship",
                    "truck",
                ],
                "num_vis": 3072,
            },
            f,
        )
    return batches


def dataset_cfg(name: str, root: Path, **overrides):
    args = [f"dataset={name}", f"dataset.root={root}", *(f"dataset.{k}={v}" for k, v in overrides.items())]
    return validate(compose(*args)).dataset


# ---- MNIST and Fashion-MNIST --------------------------------------------------------------------------------
def test_mnist_loads_gzipped_idx_through_torchvision_with_the_test_split_as_validation(tmp_path):
    files = write_idx_gz(tmp_path / "MNIST" / "raw")
    data = load_dataset(dataset_cfg("mnist", tmp_path))
    assert data.input_shape == (1, 28, 28) and data.num_classes == 10
    assert len(data.train_x) == 120 and len(data.val_x) == 40
    assert torch.equal(data.train_y, torch.as_tensor(files["train_y"], dtype=torch.int64))
    assert torch.equal(data.val_y, torch.as_tensor(files["test_y"], dtype=torch.int64))
    # Held as the files' uint8 pixels (a quarter of float32's memory), standardized per batch by inputs():
    # with training statistics, so the training images have mean 0 and std 1 and validation does not leak.
    assert data.train_x.dtype == torch.uint8 and torch.equal(data.train_x[:, 0], torch.as_tensor(files["train_x"]))
    train_in = data.inputs(data.train_x)
    assert train_in.dtype == torch.float32
    assert abs(float(train_in.mean())) < 1e-5 and abs(float(train_in.std()) - 1) < 1e-5
    pixels = files["train_x"].astype(np.float64) / 255
    raw = torch.as_tensor(files["test_x"], dtype=torch.float64) / 255
    expected = ((raw - pixels.mean()) / pixels.std(ddof=1)).float()
    assert torch.allclose(data.inputs(data.val_x)[:, 0], expected, atol=1e-6)
    # torchvision reads the uncompressed files: they now sit where it expects them.
    assert all((tmp_path / "MNIST" / "raw" / name).is_file() for name in IDX_FILES)


def test_idx_files_copied_flat_into_root_are_found(tmp_path):
    write_idx_gz(tmp_path, gz=False)
    assert len(load_dataset(dataset_cfg("mnist", tmp_path)).train_x) == 120


def test_fashion_mnist_is_prepared_from_a_debian_style_folder(tmp_path):
    system = tmp_path / "usr-share"
    write_idx_gz(system)
    root = tmp_path / "data"
    data = load_dataset(dataset_cfg("fashion_mnist", root, system_dir=system))
    assert len(data.train_x) == 120 and data.input_shape == (1, 28, 28)
    assert sorted(p.name for p in (root / "FashionMNIST" / "raw").iterdir()) == sorted(IDX_FILES)


def test_subsets_are_seeded_by_split_seed_and_too_large_is_one_error(tmp_path):
    write_idx_gz(tmp_path / "MNIST" / "raw")
    a = load_dataset(dataset_cfg("mnist", tmp_path, subset=50, val_subset=10))
    b = load_dataset(dataset_cfg("mnist", tmp_path, subset=50, val_subset=10))
    c = load_dataset(dataset_cfg("mnist", tmp_path, subset=50, val_subset=10, split_seed=1))
    assert len(a.train_x) == 50 and len(a.val_x) == 10
    assert torch.equal(a.train_x, b.train_x) and not torch.equal(a.train_x, c.train_x)
    with pytest.raises(ConfigError, match=r"^dataset.subset=500: larger than the 120"):
        load_dataset(dataset_cfg("mnist", tmp_path, subset=500))


def test_missing_data_is_one_line_naming_where_it_looked_and_how_to_get_it(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_dataset(dataset_cfg("fashion_mnist", tmp_path / "nowhere", system_dir=tmp_path / "no-debian"))
    message = str(err.value)
    assert "\n" not in message and message.startswith("dataset.root=")
    for part in (
        "dataset.download=true",
        "apt-get install dataset-fashion-mnist",
        "no-debian",
        str(tmp_path / "nowhere" / "FashionMNIST" / "raw"),
    ):
        assert part in message


def test_missing_data_on_the_command_line_exits_2_with_one_line(cli, tmp_path):
    proc = cli("dataset=mnist", f"dataset.root={tmp_path / 'nowhere'}", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    # Hydra adds its own "Error executing job with overrides" line for errors raised inside the job.
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert line.startswith("error: dataset.root=") and "dataset.download=true" in line


def test_download_true_asks_torchvision_to_download(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    calls = []

    class OfflineMNIST(tvd.MNIST):
        """torchvision's MNIST whose download writes the files a mirror would have sent."""

        def __init__(self, root, train=True, download=False, **kw):
            calls.append(download)
            super().__init__(root, train=train, download=download, **kw)

        def download(self):
            if not self._check_exists():
                write_idx_gz(Path(self.raw_folder), gz=False)

    monkeypatch.setattr(tvd, "MNIST", OfflineMNIST)
    data = load_dataset(dataset_cfg("mnist", tmp_path, download=True))
    assert calls[0] is True and len(data.train_x) == 120


def test_cifar10_download_true_and_a_failed_download_is_one_error(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    calls = []

    class OfflineCIFAR10(tvd.CIFAR10):
        def __init__(self, root, train=True, download=False, **kw):
            calls.append(download)
            super().__init__(root, train=train, download=download, **kw)

        def download(self):
            write_cifar10(Path(self.root))

    monkeypatch.setattr(tvd, "CIFAR10", OfflineCIFAR10)
    data = load_dataset(dataset_cfg("cifar10", tmp_path, download=True, verify=False))
    assert calls[0] is True and data.input_shape == (3, 32, 32)

    class NoNetwork(tvd.MNIST):
        def download(self):
            from urllib.error import URLError

            raise URLError("no route to host")

    monkeypatch.setattr(tvd, "MNIST", NoNetwork)
    with pytest.raises(ConfigError, match=r"^dataset.download=true: downloading mnist .*no route to host"):
        load_dataset(dataset_cfg("mnist", tmp_path / "empty", download=True))


# ---- CIFAR-10 -----------------------------------------------------------------------------------------------
def test_cifar10_pickle_batches_load_through_torchvision(tmp_path):
    batches = write_cifar10(tmp_path)
    data = load_dataset(dataset_cfg("cifar10", tmp_path, verify=False))
    assert data.input_shape == (3, 32, 32) and data.num_classes == 10
    assert len(data.train_x) == 100 and len(data.val_x) == 30
    expected = np.concatenate([batches[f"data_batch_{k}"][1] for k in range(1, 6)])
    assert data.train_y.tolist() == expected.tolist()
    # CHW order kept: torchvision's (N, H, W, C) pixels, channel by channel; per-channel statistics make each
    # channel of the training images mean 0 and std 1.
    pixels = np.concatenate([batches[f"data_batch_{k}"][0] for k in range(1, 6)])
    assert torch.equal(data.train_x, torch.as_tensor(pixels.reshape(-1, 3, 32, 32)))
    train_in = data.inputs(data.train_x)
    assert torch.allclose(train_in.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(train_in.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-5)


def test_per_batch_standardization_equals_standardizing_the_whole_split_up_front():
    """Batches standardized one at a time give bit for bit what standardizing everything at once gives, so
    keeping uint8 pixels changes memory, not results; the statistics are exact (float64) before rounding."""
    from runner.data.split import channel_stats, standardized_uint8

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(1000, 3, 5, 5), dtype=np.uint8)
    mean, std = channel_stats(images, chunk=64)  # chunks that do not divide the count
    as_float = images.astype(np.float64) / 255
    assert np.allclose(mean.flatten().numpy(), as_float.mean(axis=(0, 2, 3)), rtol=0, atol=1e-7)
    assert np.allclose(std.flatten().numpy(), as_float.std(axis=(0, 2, 3), ddof=1), rtol=0, atol=1e-7)
    data = standardized_uint8(images, images[:10], 10, np.zeros(1000, np.int64), np.zeros(10, np.int64))
    whole = torch.as_tensor(images).to(torch.float32).div_(255.0).sub_(mean).div_(std)
    batches = torch.cat([data.inputs(data.train_x[i : i + 32]) for i in range(0, 1000, 32)])
    assert torch.equal(batches, whole)
    assert torch.equal(data.train_x, torch.as_tensor(images))  # the stored pixels are untouched


def test_cifar10_checks_torchvision_md5_unless_verify_is_off(tmp_path):
    write_cifar10(tmp_path)
    with pytest.raises(ConfigError, match=r"^dataset.root=.*md5.*dataset.verify=false"):
        load_dataset(dataset_cfg("cifar10", tmp_path))
    with pytest.raises(ConfigError, match=r"^dataset.root=.*cifar10 not found.*dataset.download=true"):
        load_dataset(dataset_cfg("cifar10", tmp_path / "empty"))


# ---- the real Fashion-MNIST from Debian's package -----------------------------------------------------------
def test_real_fashion_mnist_from_the_debian_package(tmp_path):
    real_fashion_mnist_or_skip()
    from runner.data.image_files import fetch

    raw = fetch(SimpleNamespace(name="fashion_mnist", root=str(tmp_path), download=False, system_dir=str(DEBIAN_DIR)))
    assert raw.train_images.shape == (60000, 1, 28, 28) and raw.test_images.shape == (10000, 1, 28, 28)
    assert np.bincount(raw.train_labels).tolist() == [6000] * 10  # Fashion-MNIST is balanced
    assert raw.classes[0] == "T-shirt/top"
    data = load_dataset(dataset_cfg("fashion_mnist", tmp_path, subset=1000))  # the prepared files are reused
    assert len(data.train_x) == 1000 and len(data.val_x) == 10000
