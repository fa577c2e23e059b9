"""Helpers the tests share: run the real CLI in a subprocess, compose the real configs in-process, read records,
the CLR formula written out independently of runner.schedules, and the real Fashion-MNIST when installed."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "conf"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")


def run_cli(*args: str, cwd: Path, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """`python -m runner ARGS` as a user types it, with this checkout's runner (whatever else is installed)."""
    full_env = {**os.environ, "PYTHONHASHSEED": "0", **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), full_env.get("PYTHONPATH", "")) if p)
    full_env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(
        [sys.executable, "-m", "runner", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def install_wheel(tmp_path: Path) -> Path:
    """Build clr-lab's wheel and install it alone (no dependencies: this environment's serve) into a folder that
    goes first on PYTHONPATH; returns that folder."""
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(ROOT)], check=True)
    (wheel,) = wheels.glob("clr_lab-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True)
    return site


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def compose(*overrides: str):
    """The composed config for `overrides`, exactly as `python -m runner` would see it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=list(overrides), return_hydra_config=False)


def options(group: str) -> list[str]:
    """Every option of a config group: the YAML files in conf/<group>/."""
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def formula(it: int, base_lr: float, max_lr: float, step_size: int, mode: str, gamma: float = 1.0) -> float:
    """Smith's formula for the CLR family, written out independently of runner.schedules."""
    cycle = math.floor(1 + it / (2 * step_size))
    x = abs(it / step_size - 2 * cycle + 1)
    scale = {"triangular": 1.0, "triangular2": 1 / 2 ** (cycle - 1), "exp_range": gamma**it}[mode]
    return base_lr + (max_lr - base_lr) * max(0.0, 1 - x) * scale


def real_fashion_mnist_or_skip() -> None:
    """Debian's package is installed in CI (.ci/run): there, missing data is a failure, not a skip."""
    if (DEBIAN_DIR / "train-images-idx3-ubyte.gz").is_file():
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI: Debian's Fashion-MNIST is missing from {DEBIAN_DIR}; .ci/run installs dataset-fashion-mnist")
    pytest.skip(f"Fashion-MNIST not installed ({DEBIAN_DIR}); `apt-get install dataset-fashion-mnist`")


def folder_state(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, tuple[int, int, str]]:
    """Every file under `folder` (hidden ones and .hydra/ included) but those named in `skip`: relative path ->
    (size, mtime_ns, sha256), so a test can tell that a command left a folder exactly as it was, not even rewritten
    with the same bytes."""
    import hashlib

    state = {}
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file() and path.name not in skip:
            stat = path.stat()
            state[str(path.relative_to(folder))] = (
                stat.st_size,
                stat.st_mtime_ns,
                hashlib.sha256(path.read_bytes()).hexdigest(),
            )
    return state
