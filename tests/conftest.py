"""Shared helpers: run the real CLI in a subprocess, compose the real configs in-process."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "conf"


def run_cli(*args: str, cwd: Path, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """`python -m runner ARGS` as a user types it; progress bars off to keep logs short."""
    full_env = {**os.environ, "PYTHONHASHSEED": "0", **(env or {})}
    full_env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run([sys.executable, "-m", "runner", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


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


@pytest.fixture
def cli(tmp_path):
    """Run the CLI with the temporary folder as working directory (outputs/ lands there)."""

    def _run(*args: str, **kw) -> subprocess.CompletedProcess:
        return run_cli(*args, "trainer.progress=false", cwd=tmp_path, **kw)

    return _run
