"""The launcher benchmark (experiments/sweep_launchers/bench.py) still runs: its --smoke mode times the 9-job digits
case under basic, joblib and batched, and prints the machine, the table, the ratios and what the batched launcher
grouped; a second smoke of a Fashion-MNIST case checks the fallback is reported.
No timing is asserted here: timings belong to the benchmark's README, measured on a quiet machine."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from support import ROOT, real_fashion_mnist_or_skip

BENCH = ROOT / "experiments" / "sweep_launchers" / "bench.py"


def run_smoke(tmp_path, *extra):
    env = {**os.environ, "PYTHONHASHSEED": "0", "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", *extra],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert out.startswith("Machine: ") and "cores usable" in out, out
    for launcher in ("basic", "joblib", "batched"):
        assert out.count(f"| {launcher} |") == 1, out
    assert "batched / basic wall-time ratio: median" in out and "batched / joblib wall-time ratio: median" in out, out
    return out


@pytest.mark.slow
def test_launcher_benchmark_smoke_times_every_launcher_and_prints_the_ratios(tmp_path):
    out = run_smoke(tmp_path)
    assert "### digits-9:" in out and "batched grouped: 9 of 9 jobs in 1 group(s)" in out, out
    assert "| batched, 4 steps |" in out and "batched, 4 steps / basic wall-time ratio: median" in out, out


@pytest.mark.slow
def test_launcher_benchmark_smoke_reports_the_fallback_on_fashion_mnist(tmp_path):
    real_fashion_mnist_or_skip()
    out = run_smoke(tmp_path, "--cases", "fashion-9-lenet5")
    # 28x28 inputs fall back (README's batched launcher section).
    assert "batched grouped: no group (every job ran the ordinary way)" in out, out


def run_script(tmp_path, name, *args):
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    script = ROOT / "experiments" / "sweep_launchers" / name
    proc = subprocess.run(
        [sys.executable, str(script), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_step_cost_prints_the_vectorized_over_separate_ratio_per_group_size(tmp_path):
    out = run_script(tmp_path, "step_cost.py", "--members", "2,3", "--steps", "3", "--repeats", "1", "--threads", "1")
    rows = [line for line in out.splitlines() if line.startswith("| 2 |") or line.startswith("| 3 |")]
    assert len(rows) == 2, out
    for row in rows:
        separate, vectorized, ratio = (float(cell) for cell in row.strip("|").split("|")[1:])
        assert separate > 0 and vectorized > 0 and ratio == pytest.approx(vectorized / separate, rel=0.5), row


@pytest.mark.slow
def test_tolerance_script_compares_batched_and_separate_runs_per_job(tmp_path):
    out = run_script(tmp_path, "tolerance.py")
    for pair in ("separate, 1 thread vs separate, 2 threads", "batched, 1 thread vs separate, 1 thread"):
        assert f"### {pair}: " in out, out
    assert out.count("| 4-triangular-seed1 |") == 3, out
