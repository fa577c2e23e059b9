"""The throughput benchmark (experiments/throughput/bench.py) still runs: its --smoke mode trains the tiny case
with the runner, a bare loop and, when installed, Lightning, and prints the table and the ratio lines.
No timing is asserted here: timings belong to the benchmark's README, measured side by side."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "experiments" / "throughput" / "bench.py"


def test_throughput_smoke_prints_every_way_and_the_ratios(tmp_path):
    env = {**os.environ, "PYTHONHASHSEED": "0", "TMPDIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--smoke"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "| runner |" in out and "| bare |" in out, out
    assert "runner / bare throughput: median" in out, out
    assert "same losses, runner vs bare: 68 steps" in out, out  # 2 epochs of digits' 1,079 training images
    if importlib.util.find_spec("lightning") is not None:
        assert "| lightning |" in out, out
        assert "runner / Lightning throughput: median" in out, out
        assert "same losses, runner vs lightning: 68 steps" in out, out
    else:  # CI installs only .[dev]: the smoke says Lightning was skipped and still measures the other two
        assert "Lightning skipped" in out, out
        assert "runner / Lightning: skipped" in out, out


LOAD = ROOT / "experiments" / "throughput" / "load.py"


@pytest.mark.slow
def test_load_smoke_times_the_default_quiet_and_beside_a_busy_process(tmp_path):
    """experiments/throughput/load.py --smoke: the default command quiet and with one busy-loop process it starts
    itself, the table and the goal line."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, str(LOAD), "--smoke", "--variants", "default"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert out.startswith("machine: {") and '"cores": ' in out, out
    assert "| 0 | default |" in out and "| 1 | default |" in out, out
    assert "1 busy: " in out and "(goal <= 1.5x)" in out, out
