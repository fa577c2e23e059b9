"""hydra/launcher=batched through the real command line: the same folders and report as the basic launcher, the
same numbers within float tolerance, members independent of their group, divergence frozen per member, resume after
SIGKILL and SIGTERM, the fallback, and bad settings refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scipy import stats

from support import ROOT, read_csv, read_json, run_cli

BATCHED = ["hydra/launcher=batched", "trainer.threads=1", "trainer.progress=false"]
SEPARATE = ["trainer.threads=1", "trainer.progress=false"]


def sweep(folder: Path, *args: str, cwd: Path, batched: bool = True) -> subprocess.CompletedProcess:
    proc = run_cli("-m", *args, *(BATCHED if batched else SEPARATE), f"hydra.sweep.dir={folder}", cwd=cwd)
    return proc


def job_folders(sweep_dir: Path) -> dict[str, Path]:
    return {p.name: p for p in sorted(sweep_dir.iterdir()) if p.is_dir()}


def losses(run_dir: Path) -> list[float]:
    return [float(r["loss"]) for r in read_csv(run_dir / "metrics.csv")]


def files_of(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def both_sweeps(tmp_path_factory):
    """The issue's sweep (3 schedules x 3 seeds, 60 steps) under the batched and the basic launcher."""
    tmp_path = tmp_path_factory.mktemp("both")
    args = ["schedule=constant,triangular,triangular2", "seed=0,1,2", "trainer.max_steps=60"]
    batched, basic = tmp_path / "batched", tmp_path / "basic"
    procs = {folder: sweep(folder, *args, cwd=tmp_path, batched=folder == batched) for folder in (batched, basic)}
    assert all(proc.returncode == 0 for proc in procs.values()), [p.stderr for p in procs.values()]
    assert "9 trained in 1 vectorized group(s)" in procs[batched].stdout + procs[batched].stderr
    return batched, basic


@pytest.mark.slow
def test_same_layout_report_rows_and_records_as_the_basic_launcher(both_sweeps):
    """The same files everywhere, the same rows, evaluation points, LRs and momenta, and each member's loss within
    1e-4 (relative) of its separate run for the first 20 steps."""
    batched, basic = both_sweeps
    assert files_of(batched) - {"multirun.yaml"} == files_of(basic) - {"multirun.yaml"}
    ours, theirs = job_folders(batched), job_folders(basic)
    assert ours.keys() == theirs.keys() and len(ours) == 9
    rows_a, rows_b = read_csv(batched / "runs.csv"), read_csv(basic / "runs.csv")
    for a, b in zip(rows_a, rows_b):
        assert (a["job"], a["folder"], a["schedule"], a["seed"], a["status"], a["steps"]) == (
            b["job"], b["folder"], b["schedule"], b["seed"], b["status"], b["steps"],
        )  # fmt: skip
    assert (batched / "report.md").read_text().splitlines()[0].startswith("#")
    for name, run_dir in ours.items():
        separate = theirs[name]
        sa, sb = read_json(run_dir / "summary.json"), read_json(separate / "summary.json")
        assert sa.pop("launcher") == "batched" and "launcher" not in sb
        assert sa.keys() == sb.keys() and sa["status"] == sb["status"] == "completed"
        for key in ("schedule", "seed", "steps", "iters_per_epoch", "step_size", "threads", "resumes"):
            assert sa[key] == sb[key], key
        ma, mb = read_csv(run_dir / "metrics.csv"), read_csv(separate / "metrics.csv")
        assert [(r["step"], r["epoch"], r["cycle"], r["lr"], r["momentum"]) for r in ma] == [
            (r["step"], r["epoch"], r["cycle"], r["lr"], r["momentum"]) for r in mb
        ]
        for step, (la, lb) in enumerate(zip(losses(run_dir)[:20], losses(separate)[:20])):
            assert la == pytest.approx(lb, rel=1e-4), (name, step)
        ea, eb = read_csv(run_dir / "eval.csv"), read_csv(separate / "eval.csv")
        assert [(r["step"], r["when"], r["lr"], r["val_n"]) for r in ea] == [
            (r["step"], r["when"], r["lr"], r["val_n"]) for r in eb
        ]
        hydra_cfg = (run_dir / ".hydra" / "config.yaml").read_text()
        assert hydra_cfg == (separate / ".hydra" / "config.yaml").read_text()


@pytest.mark.slow
def test_every_member_matches_its_separate_run_to_1e_4_for_50_steps(both_sweeps, tmp_path):
    """A separate run is itself reproducible only up to the order its kernels add in, which the thread count sets: on
    this project's machine constant seed 1 at 1 thread and at 2 threads part by 3e-2 at step 28 (a near-tie decided
    the other way; experiments/sweep_launchers/README.md). So each member must match its separate run, at 1 thread
    or at 2, to 1e-4 (relative) over the first 50 steps: batching may move a loss no further than threads do."""
    batched, one_thread = both_sweeps
    two_threads = tmp_path / "two_threads"
    args = ["schedule=constant,triangular,triangular2", "seed=0,1,2", "trainer.max_steps=60", "trainer.threads=2"]
    proc = run_cli("-m", *args, "trainer.progress=false", f"hydra.sweep.dir={two_threads}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr

    def within(ours: list[float], theirs: list[float]) -> bool:
        return all(a == pytest.approx(b, rel=1e-4) for a, b in zip(ours, theirs))

    for name, run_dir in job_folders(batched).items():
        ours = losses(run_dir)[:50]
        assert len(ours) == 50
        assert within(ours, losses(one_thread / name)[:50]) or within(ours, losses(two_threads / name)[:50]), name


@pytest.mark.slow
def test_the_readme_command_in_a_fresh_folder(tmp_path):
    proc = run_cli(
        "-m", "schedule=constant,triangular,triangular2", "seed=0,1,2", "hydra/launcher=batched", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    (sweep_dir,) = (tmp_path / "outputs" / "sweeps").glob("*/*")
    assert len(read_csv(sweep_dir / "runs.csv")) == 9
    assert all(r["status"] == "completed" and r["steps"] == "816" for r in read_csv(sweep_dir / "runs.csv"))
    assert (sweep_dir / "report.md").is_file() and (sweep_dir / "compare.png").is_file()


@pytest.mark.slow
def test_final_accuracies_of_batched_and_separate_runs_are_indistinguishable(tmp_path):
    """Five seeds each way: Welch's t-test finds no difference, and no seed moves by more than seed noise would."""
    args = ["schedule=triangular", "seed=0,1,2,3,4", "trainer.max_steps=300", "schedule.step_size=50"]
    finals = {}
    for name, is_batched in (("batched", True), ("separate", False)):
        proc = sweep(tmp_path / name, *args, cwd=tmp_path, batched=is_batched)
        assert proc.returncode == 0, proc.stderr
        finals[name] = [float(r["final_val_acc"]) for r in read_csv(tmp_path / name / "runs.csv")]
    assert stats.ttest_ind(finals["batched"], finals["separate"], equal_var=False).pvalue > 0.05
    spread = max(finals["separate"]) - min(finals["separate"])
    assert max(abs(a - b) for a, b in zip(finals["batched"], finals["separate"])) <= max(spread, 0.01)


@pytest.mark.slow
def test_a_member_does_not_depend_on_the_other_members_of_its_group(tmp_path):
    small, large = tmp_path / "small", tmp_path / "large"
    common = ["trainer.max_steps=40", "schedule.step_size=10"]
    assert sweep(small, "schedule=triangular", "seed=0,1", *common, cwd=tmp_path).returncode == 0
    proc = sweep(large, "schedule=triangular,triangular2,exp_range", "seed=0,1,7", *common, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in ("metrics.csv", "eval.csv"):
        assert (small / "0-triangular-seed0" / name).read_bytes() == (large / "0-triangular-seed0" / name).read_bytes()
        assert (small / "1-triangular-seed1" / name).read_bytes() == (large / "1-triangular-seed1" / name).read_bytes()


def test_a_diverging_member_is_frozen_and_the_others_go_on(tmp_path):
    alone, mixed = tmp_path / "alone", tmp_path / "mixed"
    common = ["schedule=constant", "trainer.max_steps=40"]
    assert sweep(alone, "seed=0,1", *common, cwd=tmp_path).returncode == 0
    # Job 2 (seed 0) diverges at step 15; its group-mates are the two runs of the first sweep.
    proc = sweep(mixed, "faults.nan_at_step=null,15", "seed=0,1", *common, cwd=tmp_path)
    assert proc.returncode == 1  # a run without a result: the sweep exits 1 after every job ran
    runs = {r["job"]: r for r in read_csv(mixed / "runs.csv")}
    assert [runs[j]["status"] for j in "0123"] == ["completed", "completed", "diverged", "diverged"]
    for job, folder in (("2", mixed / runs["2"]["folder"]), ("3", mixed / runs["3"]["folder"])):
        summary = read_json(folder / "summary.json")
        assert summary["diverged_at"]["step"] == 15 and summary["steps"] == 15, job
        rows = read_csv(folder / "metrics.csv")
        assert [int(r["step"]) for r in rows] == list(range(16)) and rows[-1]["loss"] == "nan"
        assert (folder / "curves.png").is_file()
    for job, name in (("0", "0-constant-seed0"), ("1", "1-constant-seed1")):
        assert (mixed / runs[job]["folder"] / "metrics.csv").read_bytes() == (alone / name / "metrics.csv").read_bytes()


@pytest.mark.slow
def test_sigkill_then_the_same_command_resumes_every_member_identically(tmp_path):
    args = ["schedule=constant,triangular2", "seed=0,1", "trainer.max_steps=80", "trainer.checkpoint_every=25"]
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    assert sweep(reference, *args, cwd=tmp_path).returncode == 0
    assert sweep(killed, *args, "faults.kill_at_step=60", cwd=tmp_path).returncode == -signal.SIGKILL
    assert read_json(killed / "0-constant-seed0" / "summary.json")["status"] == "running"
    resumed = sweep(killed, *args, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming at step 50" in resumed.stdout + resumed.stderr
    for name, run_dir in job_folders(reference).items():
        for record in ("metrics.csv", "eval.csv"):
            assert (run_dir / record).read_bytes() == (killed / name / record).read_bytes(), (name, record)
        summary = read_json(killed / name / "summary.json")
        assert summary["status"] == "completed" and summary["resumes"] == 1


def test_a_batched_checkpoint_resumes_under_the_basic_launcher(tmp_path):
    """A member's checkpoint.pt has a separate run's layout: the basic launcher continues it."""
    args = ["schedule=triangular", "seed=0,1", "trainer.max_steps=60", "trainer.checkpoint_every=20"]
    killed = tmp_path / "killed"
    assert sweep(killed, *args, "faults.kill_at_step=45", cwd=tmp_path).returncode == -signal.SIGKILL
    resumed = sweep(killed, *args, cwd=tmp_path, batched=False)
    assert resumed.returncode == 0, resumed.stderr
    assert all(len(read_csv(d / "metrics.csv")) == 60 for d in job_folders(killed).values())
    assert all(read_json(d / "summary.json")["resumes"] == 1 for d in job_folders(killed).values())


@pytest.mark.slow
def test_sigterm_checkpoints_every_member_exits_143_and_the_rerun_completes_identically(tmp_path):
    args = ["schedule=triangular,triangular2", "seed=0,1", "trainer.max_steps=1500", "schedule.step_size=100"]
    reference, run = tmp_path / "reference", tmp_path / "run"
    assert sweep(reference, *args, cwd=tmp_path).returncode == 0
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT)}
    env.pop("HYDRA_FULL_ERROR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner", "-m", *args, *BATCHED, f"hydra.sweep.dir={run}"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    metrics = run / "0-triangular-seed0" / "metrics.csv"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(metrics.read_text().splitlines() if metrics.exists() else []) < 2:
        time.sleep(0.02)  # the handler is in place once rows are being written
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    summaries = [read_json(d / "summary.json") for d in job_folders(run).values()]
    assert len(summaries) == 4 and all(s["status"] == "interrupted" for s in summaries)
    assert len({s["steps"] for s in summaries}) == 1 and 0 < summaries[0]["steps"] < 1500
    rerun = sweep(run, *args, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    for name, run_dir in job_folders(reference).items():
        for record in ("metrics.csv", "eval.csv"):
            assert (run_dir / record).read_bytes() == (run / name / record).read_bytes(), (name, record)


def test_jobs_that_cannot_be_vectorized_fall_back_and_say_why(tmp_path):
    folder = tmp_path / "fallback"
    proc = sweep(folder, "seed=0,1", "trainer.max_steps=20", "hydra.launcher.max_pixels=16", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "8x8 inputs exceed hydra.launcher.max_pixels=16" in proc.stderr + proc.stdout
    assert "run in parallel through hydra-joblib-launcher" in proc.stderr + proc.stdout
    for run_dir in job_folders(folder).values():
        summary = read_json(run_dir / "summary.json")
        assert summary["status"] == "completed" and "launcher" not in summary


@pytest.mark.slow
def test_groups_split_by_optimizer_and_cap(tmp_path):
    folder = tmp_path / "split"
    proc = sweep(
        folder, "optimizer=sgd,adam", "seed=0,1,2", "trainer.max_steps=20", "hydra.launcher.max_members=2", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    # 3 sgd jobs under a cap of 2 give groups of 2 and 1 (run the ordinary way), the same for adam.
    assert "4 trained in 2 vectorized group(s) (2, 2), 2 the ordinary way" in proc.stderr + proc.stdout
    assert all(read_json(d / "summary.json")["status"] == "completed" for d in job_folders(folder).values())


@pytest.mark.parametrize(
    "override, message",
    [
        ("hydra.launcher.max_members=0", "hydra.launcher.max_members=0: must be an integer >= 1 or null (no limit)"),
        ("hydra.launcher.fallback=threads", "hydra.launcher.fallback='threads': allowed: joblib, basic"),
    ],
)
def test_a_bad_launcher_setting_is_one_line_exit_2_and_no_folder(tmp_path, override, message):
    folder = tmp_path / "bad"
    proc = sweep(folder, "seed=0,1", override, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: {message}"]
    assert not folder.exists()


def test_a_job_whose_policy_refuses_the_run_length_fails_as_under_the_basic_launcher(tmp_path):
    """one_cycle refuses a 1-step run when it resolves: the batched launcher routes such a job to the ordinary path
    (before, the group's log line met a member that never started and the whole sweep crashed)."""
    args = ["schedule=constant,one_cycle", "seed=0", "trainer.max_steps=1"]
    procs = {b: sweep(tmp_path / str(b), *args, cwd=tmp_path, batched=b) for b in (True, False)}
    assert procs[True].returncode == procs[False].returncode != 0
    assert "Traceback" not in procs[True].stderr
    assert "schedule.total_steps=1: must be an integer >= 2" in procs[True].stdout + procs[True].stderr
    rows = {b: [(r["schedule"], r["status"]) for r in read_csv(tmp_path / str(b) / "runs.csv")] for b in procs}
    assert rows[True] == rows[False] == [("constant", "completed"), ("one_cycle", "failed")]
