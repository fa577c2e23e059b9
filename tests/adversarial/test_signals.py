"""A sweep stops as one: SIGINT or SIGTERM to a sweep's command checkpoints the running jobs, starts no new one,
writes the report (interrupted and not-started jobs) and exits 130/143; the same command then finishes the sweep
with records identical, byte for byte, to an uninterrupted sweep; and no worker outlives a SIGKILLed main process."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import ROOT, read_csv, read_json

SCHEDULES = ("constant", "triangular", "triangular2")
SWEEP = ["-m", f"schedule={','.join(SCHEDULES)}", "trainer.max_steps=250", "trainer.threads=1"]
JOBLIB = ["hydra/launcher=joblib"]
RECORDS = ("metrics.csv", "eval.csv")


def env() -> dict:
    full = {**os.environ, "PYTHONHASHSEED": "0"}
    full["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), full.get("PYTHONPATH", "")) if p)
    full.pop("HYDRA_FULL_ERROR", None)
    return full


def command(sweep_dir: Path, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "runner", *SWEEP, *extra, f"hydra.sweep.dir={sweep_dir}"]


def start(sweep_dir: Path, extra: list[str], cwd: Path) -> subprocess.Popen:
    # A session of its own: the process group is the sweep's alone, as a terminal's foreground job is.
    return subprocess.Popen(
        command(sweep_dir, extra),
        cwd=cwd,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


@pytest.fixture
def sessions():
    """Every sweep a test starts; whatever is left of them when the test ends (a failure) is killed, so a failing
    test leaves no worker behind."""
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        alive_leader = [proc.pid] if proc.poll() is None else []  # a reaped pid may belong to someone else now
        for pid in [*alive_leader, *session_members(proc.pid)]:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=10)


def session_members(sid: int) -> set[int]:
    """The processes of session `sid` (Linux /proc; orphaned workers keep their session)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[3]) == sid:
                found.add(int(stat.parent.name))
    return found


def wait_for_training(proc: subprocess.Popen, sweep_dir: Path, timeout: float = 240) -> None:
    """Until some job's metrics.csv holds rows (it is training), rather than a blind sleep."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sweep_dir.glob("*/metrics.csv"):
            if len(path.read_text().splitlines()) > 1:
                return
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended before training: {proc.returncode}\n{proc.stdout.read()}")
        time.sleep(0.05)
    pytest.fail("no job started training")


def statuses(sweep_dir: Path) -> dict[str, str]:
    return {p.parent.name.split("-")[1]: read_json(p)["status"] for p in sweep_dir.glob("*/summary.json")}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The same sweep, never interrupted."""
    root = tmp_path_factory.mktemp("reference")
    proc = subprocess.run(command(root / "sweep", []), cwd=root, env=env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root / "sweep"


@pytest.mark.parametrize(
    "launcher, signum, target",
    [
        ("basic", signal.SIGINT, "main"),  # the smoke that every CI run keeps; the joblib cases are slow
        pytest.param("joblib", signal.SIGINT, "main", marks=pytest.mark.slow),
        pytest.param("joblib", signal.SIGTERM, "main", marks=pytest.mark.slow),
        # a terminal's Ctrl-C: every process of the sweep gets it
        pytest.param("joblib", signal.SIGINT, "group", marks=pytest.mark.slow),
    ],
)
def test_a_signal_stops_the_whole_sweep_and_the_same_command_finishes_it(reference, tmp_path, launcher, signum, target):
    sweep = tmp_path / "sweep"
    extra = JOBLIB if launcher == "joblib" else []
    proc = start(sweep, extra, tmp_path)
    wait_for_training(proc, sweep)
    signalled = time.monotonic()
    if target == "group":
        os.killpg(proc.pid, signum)
    else:
        proc.send_signal(signum)
    out, _ = proc.communicate(timeout=120)
    stopped_in = time.monotonic() - signalled
    assert proc.returncode == 128 + signum, out[-3000:]
    assert stopped_in < 60, f"the sweep took {stopped_in:.0f} s to stop"
    found = statuses(sweep)
    # Every job is accounted for: the ones training were interrupted (checkpointed), the rest never started;
    # basic runs one job at a time, so the signal finds job 0 and keeps 1 and 2 from starting.
    assert set(found) == set(SCHEDULES) and "interrupted" in found.values(), found
    # With joblib, how many jobs train at once depends on the cores; one that finished before the signal stays so.
    assert set(found.values()) <= {"interrupted", "not_started", "completed"}, found
    if launcher == "basic":
        assert found == {"constant": "interrupted", "triangular": "not_started", "triangular2": "not_started"}
    for job in sweep.glob("*/"):
        if found.get(job.name.split("-")[1]) == "not_started":
            assert not (job / "metrics.csv").exists() and not (job / "checkpoint.pt").exists()
        elif (job / "metrics.csv").exists():
            assert (job / "checkpoint.pt").exists()
    runs = {r["schedule"]: r["status"] for r in read_csv(sweep / "runs.csv")}
    assert runs == found
    report = (sweep / "report.md").read_text()
    assert "## Stopped" in report and f"stopped by {signal.Signals(signum).name}" in report
    # Not started is not a failure: those jobs are listed apart, never among the runs without a result.
    without_result = report.split("## Runs without a result", 1)[-1].split("## Per group", 1)[0]
    assert "not_started" not in without_result and "failed" not in without_result

    again = subprocess.run(command(sweep, extra), cwd=tmp_path, env=env(), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-3000:]
    assert set(statuses(sweep).values()) == {"completed"}
    assert not (sweep / "stop.json").exists() and "## Stopped" not in (sweep / "report.md").read_text()
    for ref_job in sorted(reference.glob("*-seed0")):
        for name in RECORDS:
            assert (sweep / ref_job.name / name).read_bytes() == (ref_job / name).read_bytes(), (ref_job.name, name)


def children(pid: int) -> set[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from Linux's /proc")
def test_no_worker_outlives_a_sigkilled_main_process(tmp_path, sessions):
    sweep = tmp_path / "sweep"
    proc = start(sweep, JOBLIB, tmp_path)
    sessions.append(proc)
    wait_for_training(proc, sweep)
    workers = {pid for pid in children(proc.pid) if "popen_loky" in Path(f"/proc/{pid}/cmdline").read_text()}
    assert workers, "no joblib worker found"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 15
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if alive(pid)], "a worker outlived its parent"
    # They stopped as a signal would have stopped them: the jobs that were training checkpointed first.
    found = statuses(sweep)
    assert "interrupted" in found.values(), found
    for schedule, status in found.items():
        if status == "interrupted":
            (job,) = sweep.glob(f"*-{schedule}-seed0")
            assert (job / "checkpoint.pt").exists()
