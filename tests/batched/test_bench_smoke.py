"""The launcher benchmark (experiments/sweep_launchers/bench.py) still runs: its --smoke mode times every case under
basic, joblib and batched, and prints the machine, the tables, the ratios and what the batched launcher grouped.
No timing is asserted here: timings belong to the benchmark's README, measured on a quiet machine."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from support import DEBIAN_DIR, ROOT

BENCH = ROOT / "experiments" / "sweep_launchers" / "bench.py"


@pytest.mark.slow
def test_launcher_benchmark_smoke_times_every_launcher_and_prints_the_ratios(tmp_path):
    env = {**os.environ, "PYTHONHASHSEED": "0", "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--smoke"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert out.startswith("Machine: ") and "cores usable" in out, out
    cases = ["digits-9", "digits-30"]
    if (DEBIAN_DIR / "train-images-idx3-ubyte.gz").is_file():
        cases += ["fashion-9-small_cnn", "fashion-9-lenet5"]
    for case in cases:
        assert f"### {case}:" in out, out
    for launcher in ("basic", "joblib", "batched"):
        assert out.count(f"| {launcher} |") == len(cases), out
    assert out.count("batched / basic wall-time ratio: median") == len(cases), out
    assert out.count("batched / joblib wall-time ratio: median") == len(cases), out
    # digits: every job in groups; Fashion-MNIST's 28x28 inputs fall back (README's batched launcher section).
    assert "batched grouped: 9 of 9 jobs in 1 group(s)" in out and "30 of 30 jobs in 1 group(s)" in out, out
    if len(cases) == 4:
        assert out.count("batched grouped: no group (every job ran the ordinary way)") == 2, out
