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
from support import DEBIAN_DIR, compose, read_csv, read_json, real_fashion_mnist_or_skip


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


def dataset_cfg(name: str, root: Path, *extra: str, **overrides):
    """The validated dataset config; the fixtures hold 100-120 training images, so 20 of them validate unless a
    test says otherwise (the default, 5,000, is for the real datasets)."""
    overrides.setdefault("val_size", 20)
    args = [f"dataset={name}", f"dataset.root={root}", *(f"dataset.{k}={v}" for k, v in overrides.items())]
    if not any(e.startswith("trainer.batch_size=") for e in extra):
        args.append("trainer.batch_size=16")  # the datasets' own trainers take 128 a batch, more than the fixtures
    return validate(compose(*args, *extra)).dataset


def row_ids(images: torch.Tensor, reference: np.ndarray) -> list[int]:
    """The index in `reference` (the file's images) of every stored image; the fixtures' images are random, so
    each is unique and names its row."""
    where = {np.ascontiguousarray(img).tobytes(): i for i, img in enumerate(reference)}
    return [where[np.ascontiguousarray(img.numpy()).reshape(reference.shape[1:]).tobytes()] for img in images]


# ---- MNIST and Fashion-MNIST --------------------------------------------------------------------------------
def test_mnist_holds_validation_out_of_the_training_files_and_tests_on_the_test_files(tmp_path):
    files = write_idx_gz(tmp_path / "MNIST" / "raw")
    data = load_dataset(dataset_cfg("mnist", tmp_path))
    assert data.input_shape == (1, 28, 28) and data.num_classes == 10
    assert (len(data.train_x), len(data.val_x), len(data.test_x)) == (100, 20, 40)
    # Validation is drawn from the official training images, none of them trained on; the test part is the
    # official test split, whole and in order.
    train_ids, val_ids = row_ids(data.train_x, files["train_x"]), row_ids(data.val_x, files["train_x"])
    assert not set(train_ids) & set(val_ids) and sorted(train_ids + val_ids) == list(range(120))
    assert train_ids == sorted(train_ids)  # the training images keep the files' order
    assert data.train_y.tolist() == files["train_y"][train_ids].tolist()
    assert data.val_y.tolist() == files["train_y"][val_ids].tolist()
    assert torch.equal(data.test_x[:, 0], torch.as_tensor(files["test_x"]))
    assert torch.equal(data.test_y, torch.as_tensor(files["test_y"], dtype=torch.int64))
    # Held as the files' uint8 pixels (a quarter of float32's memory), standardized per batch by inputs():
    # with the training part's statistics, so the training images have mean 0 and std 1 and nothing leaks.
    assert data.train_x.dtype == data.val_x.dtype == data.test_x.dtype == torch.uint8
    train_in = data.inputs(data.train_x)
    assert train_in.dtype == torch.float32
    assert abs(float(train_in.mean())) < 1e-5 and abs(float(train_in.std()) - 1) < 1e-5
    pixels = files["train_x"][train_ids].astype(np.float64) / 255
    for stored, raw in ((data.val_x, files["train_x"][val_ids]), (data.test_x, files["test_x"])):
        expected = ((torch.as_tensor(raw, dtype=torch.float64) / 255 - pixels.mean()) / pixels.std(ddof=1)).float()
        assert torch.allclose(data.inputs(stored)[:, 0], expected, atol=1e-6)
    # torchvision reads the uncompressed files: they now sit where it expects them.
    assert all((tmp_path / "MNIST" / "raw" / name).is_file() for name in IDX_FILES)


def test_idx_files_copied_flat_into_root_are_found(tmp_path):
    write_idx_gz(tmp_path, gz=False)
    assert len(load_dataset(dataset_cfg("mnist", tmp_path)).train_x) == 100


def test_fashion_mnist_is_prepared_from_a_debian_style_folder(tmp_path):
    system = tmp_path / "usr-share"
    write_idx_gz(system)
    root = tmp_path / "data"
    data = load_dataset(dataset_cfg("fashion_mnist", root, system_dir=system))
    assert len(data.train_x) == 100 and data.input_shape == (1, 28, 28)
    assert sorted(p.name for p in (root / "FashionMNIST" / "raw").iterdir()) == sorted(IDX_FILES)


def test_split_seed_alone_fixes_validation_subset_and_test_subset(tmp_path):
    files = write_idx_gz(tmp_path / "MNIST" / "raw")
    quick = {"subset": 50, "test_subset": 10}
    a = load_dataset(dataset_cfg("mnist", tmp_path, **quick))
    b = load_dataset(dataset_cfg("mnist", tmp_path, "seed=7", **quick))  # another run seed: the same images
    c = load_dataset(dataset_cfg("mnist", tmp_path, split_seed=1, **quick))
    assert (len(a.train_x), len(a.val_x), len(a.test_x)) == (50, 20, 10)
    for part in ("train_x", "val_x", "test_x"):
        assert torch.equal(getattr(a, part), getattr(b, part)), part
        assert not torch.equal(getattr(a, part), getattr(c, part)), part
    # The subset comes from the images validation left: never a validation image, and validation is the same
    # with or without a subset, so a quick run is judged on the images a full run is judged on.
    whole = load_dataset(dataset_cfg("mnist", tmp_path))
    assert torch.equal(a.val_x, whole.val_x)
    assert not set(row_ids(a.train_x, files["train_x"])) & set(row_ids(a.val_x, files["train_x"]))
    assert set(row_ids(a.test_x, files["test_x"])) < set(range(40))


def test_sizes_larger_than_the_data_are_one_error_naming_the_key(tmp_path):
    write_idx_gz(tmp_path / "MNIST" / "raw")
    cases = [
        ({"subset": 500}, r"^dataset.subset=500: larger than the 100 training images left after dataset.val_size=20"),
        ({"val_size": 120}, r"^dataset.val_size=120: leaves none of the 120 training images"),
        ({"test_subset": 41}, r"^dataset.test_subset=41: larger than the 40 images"),
    ]
    for overrides, message in cases:
        with pytest.raises(ConfigError, match=message):
            load_dataset(dataset_cfg("mnist", tmp_path, **overrides))
    with pytest.raises(ConfigError, match=r"^dataset.val_size=0: must be an integer >= 1"):
        dataset_cfg("mnist", tmp_path, val_size=0)


def test_val_subset_is_gone_and_says_so(cli, tmp_path):
    proc = cli("dataset=mnist", "dataset.val_subset=10", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: dataset.val_subset: no such key (check the spelling; a new key is added with +dataset.val_subset=VALUE)"
        "; did you mean 'dataset.subset'?"
    )


def test_a_run_measures_the_test_split_once_at_the_end(cli, tmp_path):
    files = write_idx_gz(tmp_path / "data" / "MNIST" / "raw")
    run_dir = tmp_path / "run"
    proc = cli(
        "dataset=mnist",
        f"dataset.root={tmp_path / 'data'}",
        "dataset.val_size=20",
        "trainer.max_steps=8",
        "trainer.batch_size=25",
        f"hydra.run.dir={run_dir}",
    )
    assert proc.returncode == 0, proc.stderr
    summary = read_json(run_dir / "summary.json")
    assert 0 <= summary["test_acc"] <= 1 and summary["test_loss"] > 0
    assert f"test_acc {summary['test_acc']}" in (run_dir / "run.log").read_text().splitlines()[-1]
    assert "100 train / 20 val / 40 test images" in (run_dir / "run.log").read_text()
    # Every evaluation row is on the validation images alone (none is a test measurement).
    assert {r["val_n"] for r in read_csv(run_dir / "eval.csv")} == {"20"}
    # The test numbers are those of the final weights on the official test images.
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    from runner.models import build_model

    cfg = validate(compose("dataset=mnist", f"dataset.root={tmp_path / 'data'}", "dataset.val_size=20"))
    data = load_dataset(cfg.dataset)
    model = build_model(cfg.model, data.input_shape, data.num_classes)
    model.load_state_dict(state["model"])
    model.eval()
    with torch.no_grad():
        logits = model(data.inputs(data.test_x))
    assert float((logits.argmax(1) == torch.as_tensor(files["test_y"])).double().mean()) == summary["test_acc"]


def test_take_rows_in_place_moves_instead_of_copying():
    from runner.data.split import take_rows_in_place

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(1000, 1, 4, 4), dtype=np.uint8)
    original = images.copy()
    rows = np.sort(rng.choice(1000, size=900, replace=False))
    kept = take_rows_in_place(images, rows, chunk=64)  # chunks that do not divide the count
    assert np.array_equal(kept, original[rows])
    assert np.shares_memory(kept, images) and kept.flags.c_contiguous  # a view: no second copy of the images
    frozen = original.copy()
    frozen.flags.writeable = False
    assert np.array_equal(take_rows_in_place(frozen, rows), original[rows])


# ---- digits: its own seeded three-way split -----------------------------------------------------------------
def test_digits_splits_into_disjoint_validation_test_and_training_parts():
    from runner.data.split import split_and_normalize

    n = 1797
    ids = np.repeat(np.arange(n, dtype=np.float64), 4).reshape(n, 1, 2, 2)  # image i: every pixel is i
    labels = np.arange(n) % 10

    def parts(**fractions) -> dict:
        data = split_and_normalize(ids, labels, split_seed=0, num_classes=10, **fractions)
        # Standardizing is increasing and the same for every part, so the smallest stored value names image 0
        # and the order of the ids survives: undo it with the training part's mean and std.
        x = torch.cat([data.train_x, data.val_x] + ([data.test_x] if data.test_x is not None else []))
        lo, hi = float(x.min()), float(x.max())
        return {
            part: [round((float(t[0, 0, 0]) - lo) / (hi - lo) * (n - 1)) for t in getattr(data, f"{part}_x")]
            for part in ("train", "val", "test")
            if getattr(data, f"{part}_x") is not None
        }

    three = parts(val_fraction=0.2, test_fraction=0.2)
    assert [len(three[p]) for p in ("train", "val", "test")] == [1079, 359, 359]
    assert sorted(three["train"] + three["val"] + three["test"]) == list(range(n))  # disjoint, and all of them
    # Adding the test part left validation as it was: the same 359 images, in the same order.
    assert parts(val_fraction=0.2)["val"] == three["val"]
    assert parts(val_fraction=0.2, test_fraction=0.2) == three  # split_seed alone decides
    other = split_and_normalize(ids, labels, 0.2, 1, 10, test_fraction=0.2)
    assert not torch.equal(other.val_x, split_and_normalize(ids, labels, 0.2, 0, 10, test_fraction=0.2).val_x)


def test_digits_loads_three_parts_standardized_with_the_training_part():
    data = load_dataset(validate(compose("dataset=digits")).dataset)
    assert (len(data.train_x), len(data.val_x), len(data.test_x)) == (1079, 359, 359)
    assert abs(float(data.train_x.mean())) < 1e-5 and abs(float(data.train_x.std()) - 1) < 1e-5
    with pytest.raises(ConfigError, match=r"^dataset.test_fraction=0.8: with dataset.val_fraction=0.2 it leaves"):
        validate(compose("dataset=digits", "dataset.test_fraction=0.8"))


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
    assert calls[0] is True and len(data.train_x) == 100


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
    assert (len(data.train_x), len(data.val_x), len(data.test_x)) == (80, 20, 30)
    # CHW order kept: torchvision's (N, H, W, C) pixels, channel by channel. Validation comes from the five
    # training batches, the test part is test_batch.
    pixels = np.concatenate([batches[f"data_batch_{k}"][0] for k in range(1, 6)])
    labels = np.concatenate([batches[f"data_batch_{k}"][1] for k in range(1, 6)])
    train_ids, val_ids = row_ids(data.train_x, pixels), row_ids(data.val_x, pixels)
    assert not set(train_ids) & set(val_ids) and sorted(train_ids + val_ids) == list(range(100))
    assert torch.equal(data.train_x, torch.as_tensor(pixels[train_ids])) and data.train_x.is_contiguous()
    assert data.train_y.tolist() == labels[train_ids].tolist() and data.val_y.tolist() == labels[val_ids].tolist()
    assert torch.equal(data.test_x, torch.as_tensor(batches["test_batch"][0]))
    # Per-channel statistics of the training part make each of its channels mean 0 and std 1.
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
    # The prepared files are reused; 5,000 training images validate, the 10,000 test images test.
    data = load_dataset(dataset_cfg("fashion_mnist", tmp_path, val_size=5000))
    assert (len(data.train_x), len(data.val_x), len(data.test_x)) == (55000, 5000, 10000)
    assert data.train_x.dtype == torch.uint8 and torch.equal(data.test_y, torch.as_tensor(raw.test_labels))
    # Validation is a seeded random sample: about 500 of each balanced class, and its first 1,000 (what
    # trainer.eval_size and range_test.eval_size take) hold every class too.
    assert all(400 < c < 600 for c in torch.bincount(data.val_y).tolist())
    assert torch.bincount(data.val_y[:1000], minlength=10).min() > 50
    quick = load_dataset(dataset_cfg("fashion_mnist", tmp_path, val_size=5000, subset=1000))
    assert len(quick.train_x) == 1000 and torch.equal(quick.val_x, data.val_x)
