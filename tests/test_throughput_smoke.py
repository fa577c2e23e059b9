"""The throughput benchmark (experiments/throughput/bench.py) still runs: its --smoke mode trains the tiny case
with the runner, a bare loop and, when installed, Lightning, and prints the table and the ratio lines.
No timing is asserted here: timings belong to the benchmark's README, measured side by side."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

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
