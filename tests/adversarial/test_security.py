"""The security boundary: no file and no config string makes clr-lab run code it does not ship.

A CIFAR-10 batch is a pickle, and a pickle can call anything; a `_target_` in a config makes Hydra import and call
anything. Both are refused before the code they name is imported, and the marker file their payload would write
never appears.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from runner.config import validate
from runner.data import load_dataset
from runner.errors import ConfigError
from support import compose, run_cli

BATCHES = [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]


class WritesMarker:
    """A pickle payload: unpickling it calls os.system, which creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def write_cifar10(root: Path, payload_in: str | None = None, marker: Path | None = None) -> Path:
    """A small cifar-10-batches-py/ in the official layout; `payload_in` names the batch that carries the payload."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in BATCHES:
        n = 30 if name == "test_batch" else 20
        batch = {
            "batch_label": name,
            "data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
            "labels": [i % 10 for i in range(n)],
            "filenames": [f"img{i}.png".encode() for i in range(n)],
        }
        if name == payload_in:
            batch["labels"] = WritesMarker(marker)
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"class{i}" for i in range(10)]}))
    return folder


def cifar_cfg(root: Path, verify: bool):
    return validate(
        compose("dataset=cifar10", f"dataset.root={root}", "dataset.val_size=20", f"dataset.verify={verify}")
    ).dataset


def test_plain_cifar_batches_still_load_through_the_restricted_unpickler(tmp_path):
    write_cifar10(tmp_path)
    data = load_dataset(cifar_cfg(tmp_path, verify=False))
    assert (len(data.train_x), len(data.val_x), len(data.test_x)) == (80, 20, 30)


@pytest.mark.parametrize("batch", ["data_batch_3", "test_batch"])
def test_a_crafted_cifar_batch_is_refused_with_verify_false_and_its_code_never_runs(tmp_path, batch):
    marker = tmp_path / "pwned"
    write_cifar10(tmp_path, payload_in=batch, marker=marker)
    with pytest.raises(ConfigError, match=rf"^dataset.root=.*{batch} is not a plain CIFAR-10 batch: it names "):
        load_dataset(cifar_cfg(tmp_path, verify=False))
    assert not marker.exists()


def test_the_command_refuses_a_crafted_cifar_batch_in_one_line(tmp_path):
    marker = tmp_path / "pwned"
    write_cifar10(tmp_path / "data", payload_in="data_batch_1", marker=marker)
    proc = run_cli(
        "dataset=cifar10",
        "dataset.verify=false",
        "dataset.val_size=20",
        "trainer.batch_size=16",
        "trainer.max_steps=2",
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "not a plain CIFAR-10 batch" in proc.stderr
    assert not marker.exists() and not (tmp_path / "outputs").exists()


@pytest.mark.parametrize(
    "override,key",
    [
        ("+hydra.callbacks.x._target_=shutil.copyfile", "hydra.callbacks.x._target_"),
        ("hydra.callbacks.validate._target_=os.system", "hydra.callbacks.validate._target_"),
        ("hydra.sweeper._target_=builtins.exec", "hydra.sweeper._target_"),
        ("++hydra.job_logging.handlers.console.class=os.system", "hydra.job_logging.handlers.console.class"),
    ],
)
def test_a_target_outside_the_project_is_refused_before_hydra_instantiates_it(tmp_path, override, key):
    proc = run_cli(override, "trainer.max_steps=2", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"error: {key}=") and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr and not (tmp_path / "outputs").exists()


def test_a_shared_experiment_yaml_naming_code_is_refused_and_never_runs(tmp_path):
    """An experiment preset from someone else, found through --config-dir, that asks Hydra to copy a file."""
    secret, copy = tmp_path / "secret.txt", tmp_path / "copied.txt"
    secret.write_text("private")
    shared = tmp_path / "shared" / "experiment"
    shared.mkdir(parents=True)
    (shared / "nice.yaml").write_text(
        "# @package _global_\n"
        "hydra:\n"
        "  callbacks:\n"
        "    steal:\n"
        "      _target_: shutil.copyfile\n"
        f"      src: {secret}\n"
        f"      dst: {copy}\n"
    )
    for args in (["experiment=nice"], ["-m", "experiment=nice", "seed=0,1"]):
        proc = run_cli("--config-dir", str(tmp_path / "shared"), *args, "trainer.max_steps=2", cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("error: hydra.callbacks.steal._target_='shutil.copyfile'"), proc.stderr
        assert not copy.exists() and not (tmp_path / "outputs").exists() and not (tmp_path / "multirun").exists()


def test_the_project_s_own_callbacks_and_hydra_s_launchers_pass():
    from runner.trust import foreign_targets

    composed = compose("hydra/launcher=joblib")
    assert foreign_targets({"hydra": {"callbacks": dict(composed.get("hydra", {}).get("callbacks", {}))}}) == []
    assert (
        foreign_targets(
            {
                "hydra": {
                    "callbacks": {"v": {"_target_": "runner.sweep.callbacks.ValidateConfig"}},
                    "launcher": {"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"},
                    "sweeper": {"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"},
                    "job_logging": {"formatters": {"c": {"()": "colorlog.ColoredFormatter"}}},
                }
            }
        )
        == []
    )
    assert foreign_targets({"model": {"_target_": "os.system"}}) == [("model._target_", "os.system")]


def test_the_target_check_finds_what_hydra_would_instantiate():
    """If Hydra stops building its callbacks through hydra._internal.callbacks.Callbacks, the hook would check
    nothing: this fails then."""
    from hydra._internal import hydra as hydra_main
    from hydra._internal.callbacks import Callbacks
    from omegaconf import OmegaConf

    from runner.hydra_compat import RejectedConfig, install_target_check

    install_target_check()
    assert hydra_main.Callbacks is Callbacks
    assert hydra_main.configure_log.__name__ == "checked_configure_log"  # the name compose_config calls
    with pytest.raises(RejectedConfig, match=r"hydra.hydra_logging.*\(\)='os.getcwd'"):
        hydra_main.configure_log(OmegaConf.create({"version": 1, "formatters": {"f": {"()": "os.getcwd"}}}))
    bad = OmegaConf.create({"hydra": {"callbacks": {"x": {"_target_": "os.getcwd"}}}})
    with pytest.raises(RejectedConfig, match="hydra.callbacks.x._target_='os.getcwd'"):
        Callbacks(bad)
