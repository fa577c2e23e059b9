"""The default thread count: the cores no other process keeps busy at the start, at least 1; explicit
trainer.threads and a sweep's share (CLR_LAB_THREADS) win over it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from runner.training import build, cores
from support import read_json


def fake_stat(tmp_path, running: int):
    path = tmp_path / "stat"
    path.write_text(f"cpu  1 2 3 4\nctxt 99\nprocs_running {running}\nprocs_blocked 0\n")
    return str(path)


def test_busy_counts_runnable_tasks_less_the_reader(tmp_path):
    assert cores.busy_elsewhere(fake_stat(tmp_path, 1), gap_s=0) == 0  # only the reader runs: a quiet machine
    assert cores.busy_elsewhere(fake_stat(tmp_path, 4), gap_s=0) == 3
    assert cores.runnable_tasks(str(tmp_path / "missing")) is None


@pytest.mark.parametrize(
    "machine_cores, allowed, busy, threads",
    [(2, 2, 0, 2), (2, 2, 1, 1), (2, 2, 2, 1), (2, 2, 5, 1), (16, 16, 3, 13), (16, 4, 3, 4), (16, 4, 14, 2)],
)
def test_free_cores_leave_the_busy_ones_and_never_go_below_one(monkeypatch, machine_cores, allowed, busy, threads):
    monkeypatch.setattr(os, "cpu_count", lambda: machine_cores)
    monkeypatch.setattr(cores, "available_cores", lambda: allowed)
    assert cores.free_cores(busy) == threads


def test_explicit_threads_and_a_sweep_share_win_over_the_free_cores(monkeypatch):
    monkeypatch.setattr(build, "free_cores", lambda: 7)
    monkeypatch.delenv(build.THREADS_ENV, raising=False)
    assert (build.threads_for_run(None), build.threads_source(None)) == (7, "free_cores")
    assert (build.threads_for_run(3), build.threads_source(3)) == (3, "trainer.threads")
    monkeypatch.setenv(build.THREADS_ENV, "2")
    assert (build.threads_for_run(None), build.threads_source(None)) == (2, "sweep_share")
    assert build.threads_for_run(5) == 5


@pytest.fixture
def every_core_busy():
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
    time.sleep(1.0)  # until each of them is running
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


@pytest.mark.slow
def test_with_every_core_taken_the_default_run_takes_one_thread(every_core_busy, cli, tmp_path):
    assert cores.busy_elsewhere() >= (os.cpu_count() or 1)
    assert cores.free_cores() == 1
    proc = cli("trainer.max_steps=5", "hydra.run.dir=run", env={build.THREADS_ENV: ""})
    assert proc.returncode == 0, proc.stderr
    assert read_json(tmp_path / "run" / "summary.json")["threads"] == 1
    assert "1 threads (free_cores)" in (tmp_path / "run" / "run.log").read_text()
