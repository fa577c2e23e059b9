"""One process per run folder: a second command on a folder a live process holds is refused and writes nothing.

The first process is caught while it holds its folder and stopped (SIGSTOP), so the second one meets a live holder
at a known moment; then the first goes on and must finish with every row, as if nothing had happened.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from support import ROOT, folder_state, read_csv, read_json, run_cli

QUIET = ["trainer.threads=1", "trainer.progress=false"]
# One command per task, each long enough to be caught while it runs.
TASKS = {
    "train": ["trainer.max_steps=300", "trainer.checkpoint_every=50"],
    "preview": ["task=preview", "preview.steps=200000"],
    "range_test": ["task=range_test", "range_test.steps=60", "range_test.seeds=2"],
}


def start(*args: str, cwd) -> subprocess.Popen:
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT)}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.Popen(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop_while_holding(proc: subprocess.Popen, run_dir) -> None:
    """SIGSTOP `proc` as soon as its name is in the folder's lock file (it holds the folder from then on)."""
    lock, deadline = run_dir / ".lock", time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if lock.exists() and f"pid {proc.pid} " in lock.read_text():
            proc.send_signal(signal.SIGSTOP)
            return
        time.sleep(0.002)
    pytest.fail(f"the first process never held {run_dir} (exit {proc.poll()})")


def assert_finished_whole(task: str, run_dir) -> None:
    if task == "train":
        assert read_json(run_dir / "summary.json")["status"] == "completed"
        assert [int(r["step"]) for r in read_csv(run_dir / "metrics.csv")] == list(range(300))
        evals = read_csv(run_dir / "eval.csv")
        assert int(evals[-1]["step"]) == 300 and len(evals) == len({(r["step"], r["when"]) for r in evals})
    elif task == "preview":
        assert [int(r["step"]) for r in read_csv(run_dir / "schedule.csv")] == list(range(200000))
        assert (run_dir / "schedule.png").exists()
    else:
        result = read_json(run_dir / "range_test.json")
        assert result["seeds"] == [0, 1] and result["aggregate"] is not None
        assert {r["seed"] for r in read_csv(run_dir / "range_test.csv")} == {"0", "1"}


@pytest.mark.slow
@pytest.mark.parametrize("task", list(TASKS))
def test_a_second_process_on_a_held_folder_exits_2_and_touches_nothing(tmp_path, task):
    run_dir = tmp_path / "run"
    args = [*TASKS[task], *QUIET, f"hydra.run.dir={run_dir}"]
    first = start(*args, cwd=tmp_path)
    try:
        stop_while_holding(first, run_dir)
        before = folder_state(run_dir)
        second = run_cli(*args, cwd=tmp_path)
        assert second.returncode == 2, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: hydra.run.dir="), second.stderr
        assert f"pid {first.pid} on host {socket.gethostname()}" in lines[0]
        assert folder_state(run_dir) == before
    finally:
        first.send_signal(signal.SIGCONT)
    _, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    assert_finished_whole(task, run_dir)


def test_a_killed_holder_blocks_nothing_and_its_stale_temporary_files_are_removed(tmp_path):
    run_dir = tmp_path / "run"
    args = ["trainer.max_steps=60", "trainer.checkpoint_every=20", *QUIET, f"hydra.run.dir={run_dir}"]
    killed = run_cli(*args, "faults.kill_at_step=30", cwd=tmp_path)
    assert killed.returncode == -signal.SIGKILL
    # What writes cut short by a kill leave behind (runner/files.py names them .<name>.<pid>.tmp).
    stale = [run_dir / ".checkpoint.pt.4194000.tmp", run_dir / f".curves.png.{os.getpid()}.tmp"]
    for path in stale:
        path.write_bytes(b"\0" * 100_000)
    resumed = run_cli(*args, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming at step 20" in resumed.stderr + resumed.stdout
    assert not any(path.exists() for path in stale)
    assert read_json(run_dir / "summary.json")["status"] == "completed"
