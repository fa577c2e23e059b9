"""hydra/launcher=batched from an installed wheel: the shim ships as hydra_plugins.clr_lab_batched, Hydra's plugin
scan finds it there, and a batched sweep runs from any folder. (This checkout's tests use the source shim, loaded by
runner/batched/register.py.)"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from support import install_wheel, read_csv


@pytest.mark.slow
def test_an_installed_wheel_ships_the_plugin_and_runs_a_batched_sweep(tmp_path):
    work = tmp_path / "elsewhere"
    work.mkdir()
    site = install_wheel(tmp_path)
    assert (site / "hydra_plugins" / "clr_lab_batched" / "batched_launcher.py").is_file()
    assert not (site / "runner" / "batched" / "plugin").exists()
    env = {**os.environ, "PYTHONPATH": str(site)}
    shim = subprocess.run(
        [sys.executable, "-c", "import runner.cli, sys; print(sys.modules['hydra_plugins.clr_lab_batched'].__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert shim.startswith(str(site))
    sweep_dir = tmp_path / "sweep"
    proc = subprocess.run(
        [sys.executable, "-m", "runner", "-m", "seed=0,1", "hydra/launcher=batched", "trainer.max_steps=20",
         "trainer.progress=false", f"hydra.sweep.dir={sweep_dir}"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "2 trained in 1 vectorized group(s)" in proc.stdout + proc.stderr
    assert [r["status"] for r in read_csv(sweep_dir / "runs.csv")] == ["completed", "completed"]
