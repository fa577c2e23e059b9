"""Sweeps end to end: the report's files, rebuilding it from files, missing and failed runs, launchers, presets."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT, read_csv, read_json

RUN_FIELDS = {"plateaus", "escape_step", "escape_lr", "plateau_fraction", "steps_to_target"}


def report(sweep) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runner.report", str(sweep)], capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def sweep6(tmp_path_factory):
    """The issue's sweep: three schedules x two seeds, 300 steps each."""
    from support import run_cli

    root = tmp_path_factory.mktemp("sweep6")
    sweep = root / "s1"
    proc = run_cli(
        "-m",
        "schedule=constant,triangular,triangular2",
        "seed=0,1",
        "trainer.max_steps=300",
        "trainer.progress=false",
        f"hydra.sweep.dir={sweep}",
        cwd=root,
    )
    assert proc.returncode == 0, proc.stderr
    return sweep


def test_a_sweep_leaves_its_report_and_every_run_its_analysis(sweep6):
    for name in ("report.md", "runs.csv", "schedules.csv", "compare.png"):
        assert (sweep6 / name).exists(), name
    runs = read_csv(sweep6 / "runs.csv")
    assert len(runs) == 6
    assert sorted((r["schedule"], r["seed"]) for r in runs) == sorted(
        (s, str(seed)) for s in ("constant", "triangular", "triangular2") for seed in (0, 1)
    )
    assert {r["status"] for r in runs} == {"completed"}
    groups = read_csv(sweep6 / "schedules.csv")
    assert [g["group"] for g in groups] == ["schedule=constant", "schedule=triangular", "schedule=triangular2"]
    assert all(g["completed"] == "2" and g["final_val_acc_n"] == "2" for g in groups)
    for run_dir in sweep6.glob("*-seed*"):
        summary = read_json(run_dir / "summary.json")
        assert RUN_FIELDS <= set(summary)
        assert set(summary["steps_to_target"]) == {"0.9", "0.95"}
    text = (sweep6 / "report.md").read_text()
    for name in ("schedule=constant", "schedule=triangular", "schedule=triangular2", "ratio to constant"):
        assert name in text


def test_schedule_figures_are_the_mean_and_spread_of_the_runs(sweep6):
    runs = read_csv(sweep6 / "runs.csv")
    for group in read_csv(sweep6 / "schedules.csv"):
        accs = [float(r["final_val_acc"]) for r in runs if r["overrides"].startswith(group["group"] + " ")]
        assert len(accs) == 2
        assert float(group["final_val_acc_mean"]) == pytest.approx(sum(accs) / 2)
        assert float(group["final_val_acc_min"]) == min(accs) and float(group["final_val_acc_max"]) == max(accs)


def test_rebuilding_gives_the_same_report_and_names_what_is_missing(sweep6, tmp_path):
    before = {n: (sweep6 / n).read_bytes() for n in ("runs.csv", "schedules.csv", "report.md")}
    proc = report(sweep6)
    assert proc.returncode == 0, proc.stderr
    assert {n: (sweep6 / n).read_bytes() for n in before} == before

    damaged = tmp_path / "damaged"
    shutil.copytree(sweep6, damaged)
    for name in ("runs.csv", "schedules.csv", "report.md", "compare.png"):
        (damaged / name).unlink()
    shutil.rmtree(damaged / "1-constant-seed1")
    (damaged / "4-triangular2-seed0" / "summary.json").unlink()
    proc = report(damaged)
    assert proc.returncode == 1  # a report is written, and the command says something is missing
    runs = {r["job"]: r for r in read_csv(damaged / "runs.csv")}
    assert len(runs) == 6
    assert runs["1"]["status"] == "missing" and "folder missing" in runs["1"]["problem"]
    assert runs["4"]["status"] == "missing" and "summary.json" in runs["4"]["problem"]
    text = (damaged / "report.md").read_text()
    assert "schedule=constant seed=1" in text and "4-triangular2-seed0" in text
    groups = {g["group"]: g for g in read_csv(damaged / "schedules.csv")}
    assert groups["schedule=constant"]["completed"] == "1" and groups["schedule=triangular2"]["completed"] == "1"


def test_report_of_a_folder_that_is_not_a_sweep_is_a_clear_error(tmp_path):
    proc = report(tmp_path / "nowhere")
    assert proc.returncode == 2 and proc.stderr.startswith("error:") and "does not exist" in proc.stderr
    proc = report(tmp_path)
    assert proc.returncode == 2 and "not a sweep folder" in proc.stderr


def test_a_failing_job_is_reported_and_the_sweep_exits_non_zero(cli, tmp_path):
    sweep = tmp_path / "sweep"
    proc = cli("-m", "faults.fail_at_step=30,null", "trainer.max_steps=90", f"hydra.sweep.dir={sweep}")
    assert proc.returncode == 1, proc.stderr
    runs = {r["job"]: r for r in read_csv(sweep / "runs.csv")}
    assert runs["0"]["status"] == "failed" and "fail_at_step" in runs["0"]["problem"]
    assert runs["1"]["status"] == "completed" and int(runs["1"]["steps"]) == 90
    assert "Runs without a result" in (sweep / "report.md").read_text()
    assert len(read_csv(sweep / runs["0"]["folder"] / "metrics.csv")) == 30  # the failed run keeps its rows


FIGURES = (
    "schedule",
    "seed",
    "status",
    "steps",
    "final_val_acc",
    "best_val_acc",
    "steps_to_0.9",
    "escape_step",
    "plateau_fraction",
)


@pytest.mark.parametrize("launcher", ["joblib", pytest.param("submitit_local", marks=pytest.mark.slow)])
def test_parallel_launchers_give_the_basic_launchers_numbers(cli, tmp_path, launcher):
    # Same seeds and the same thread count: torch's CPU kernels sum in a thread-dependent order, so the thread
    # count is pinned here; the launchers themselves must not change a number.
    args = ["-m", "schedule=constant,triangular2", "seed=0,1", "trainer.max_steps=90", "trainer.threads=1"]
    assert cli(*args, f"hydra.sweep.dir={tmp_path / 'basic'}").returncode == 0
    proc = cli(*args, f"hydra/launcher={launcher}", f"hydra.sweep.dir={tmp_path / launcher}")
    assert proc.returncode == 0, proc.stderr
    basic, other = read_csv(tmp_path / "basic" / "runs.csv"), read_csv(tmp_path / launcher / "runs.csv")
    assert len(basic) == len(other) == 4
    assert [[r[f] for f in FIGURES] for r in basic] == [[r[f] for f in FIGURES] for r in other]


def loky_workers() -> set[int]:
    """Process ids of the joblib launcher's worker processes now alive on this machine."""
    pids = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"loky" in cmdline.read_bytes():
                pids.add(int(cmdline.parent.name))
        except OSError:  # the process ended while we looked
            pass
    return pids


def test_joblib_workers_split_the_cores_and_stop_when_the_sweep_ends(cli, tmp_path):
    from runner.training.build import available_cores

    before = loky_workers()
    proc = cli(
        "-m",
        "seed=0,1",
        "trainer.max_steps=20",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        f"hydra.sweep.dir={tmp_path / 's'}",
    )
    assert proc.returncode == 0, proc.stderr
    threads = {int(r["threads"]) for r in read_csv(tmp_path / "s" / "runs.csv")}
    assert threads == {max(1, available_cores() // 2)}
    # The idle workers are stopped when the sweep ends (runner.callbacks.ReleaseWorkers), none outlives the
    # command, and stopping them leaks nothing that multiprocessing would warn about.
    assert not (loky_workers() - before)
    assert "leaked" not in proc.stderr and "Warning" not in proc.stderr, proc.stderr


def test_compare_schedules_preset_holds_fair_controls_and_reports_verdicts(cli, tmp_path):
    # The preset's own eight arms; three seeds (the fewest that allow a verdict) and a short run keep it a smoke.
    sweep = tmp_path / "preset"
    proc = cli("-m", "experiment=compare_schedules", "seed=0,1,2", "trainer.epochs=4", f"hydra.sweep.dir={sweep}")
    assert proc.returncode == 0, proc.stderr
    runs = read_csv(sweep / "runs.csv")
    assert len(runs) == 8 * 3 and {r["status"] for r in runs} == {"completed"}
    assert {r["schedule"] for r in runs} == {"constant", "fixed", "linear_decay", "triangular", "triangular2"}
    text = (sweep / "report.md").read_text()
    assert "grid-chosen constant" in text  # the baseline is picked from the constant grid, not by hand
    assert "steps to 0.97" in text  # the preset's own targets
    rows = read_csv(sweep / "comparisons.csv")
    compared = {r["group"] for r in rows}
    for arm in ("fixed", "linear_decay", "triangular", "triangular2"):
        assert f"compare_schedules={arm}" in compared
    baseline = rows[0]["baseline"]
    assert baseline.startswith("compare_schedules=constant_") and baseline not in compared
    verdicts = {"better", "worse", "no detectable difference at n = 3"}
    assert {r["verdict"] for r in rows if r["figure"] == "final_val_acc"} <= verdicts


def test_a_schedule_that_diverges_in_every_seed_is_reported_worse_through_the_command_line(cli, tmp_path):
    # LR 50 diverges at once; four seeds, as three cannot reach p < 0.05 when one side is all ties (docs/report.md).
    sweep = tmp_path / "diverge"
    proc = cli(
        "-m",
        "schedule=constant",
        "schedule.lr=0.05,50",
        "seed=0,1,2,3",
        "trainer.max_steps=40",
        f"hydra.sweep.dir={sweep}",
    )
    assert proc.returncode == 1, proc.stderr  # not every run completed (README: exit statuses); the report is written
    assert {r["status"] for r in read_csv(sweep / "runs.csv")} == {"completed", "diverged"}
    final = next(r for r in read_csv(sweep / "comparisons.csv") if r["figure"] == "final_val_acc")
    assert (final["baseline"], final["group"]) == ("schedule.lr=0.05", "schedule.lr=50")
    assert final["verdict"] == "worse"
    assert "`schedule.lr=50`" in (sweep / "report.md").read_text().splitlines()[2]  # named in the headline


def test_group_labels_read_as_a_user_would_write_them():
    from runner.report.groups import short_override

    assert short_override("experiment/plateau_escape@_global_=constant") == "plateau_escape=constant"
    assert short_override("schedule=triangular2") == "schedule=triangular2"
    assert short_override("schedule.max_lr=0.1") == "schedule.max_lr=0.1"


def test_a_real_sweep_of_three_seeds_reports_comparisons_with_verdicts(cli, tmp_path):
    sweep = tmp_path / "seeds3"
    proc = cli("-m", "schedule=constant,triangular", "seed=0,1,2", "trainer.max_steps=60", f"hydra.sweep.dir={sweep}")
    assert proc.returncode == 0, proc.stderr
    text = (sweep / "report.md").read_text()
    assert text.splitlines()[2].startswith("**Against `schedule=constant` (n=3 each): ")
    assert "## Against `schedule=constant`" in text and "| verdict |" in text
    rows = read_csv(sweep / "comparisons.csv")
    assert {r["group"] for r in rows} == {"schedule=triangular"}
    final = next(r for r in rows if r["figure"] == "final_val_acc")
    assert final["n"] == final["n_baseline"] == "3" and final["test"] in ("welch_t", "mann_whitney_u")
    assert final["p"] != "" and final["verdict"] in ("better", "worse", "no detectable difference at n = 3")
    runs = read_csv(sweep / "runs.csv")
    assert {"test_acc", "escape_status"} <= set(runs[0])
    before = (sweep / "comparisons.csv").read_bytes()
    assert report(sweep).returncode == 0 and (sweep / "comparisons.csv").read_bytes() == before
