"""index.html of an output folder: every sweep and single run, newest first, each status shown as it is (failed,
diverged, interrupted, running, missing, broken), never a crash; refreshed by the runs and sweeps of the default
layout; and, in a real headless Chromium, every image loads and every link opens an existing file."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import yaml

from browser import Page, assert_page_complete, open_page
from runner.report.__main__ import main
from runner.report.index import index_root
from support import ROOT

DAY = "2026-11-25"


def run_folder(root, name, summary=None, overrides=("schedule=constant",), files=()):
    folder = root / "runs" / DAY / name
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(list(overrides)))
    (folder / ".hydra" / "config.yaml").write_text("seed: 0\n")
    if summary is not None:
        (folder / "summary.json").write_text(summary if isinstance(summary, str) else json.dumps(summary))
    for name in files:
        (folder / name).write_text("x")
    return folder


@pytest.fixture
def outputs(tmp_path, new_sweep):
    root = tmp_path / "outputs"
    done = {"status": "completed", "schedule": "constant", "steps": 30, "final_val_acc": 0.81, "best_val_acc": 0.83}
    run_folder(root, "09-00-00-constant", done, files=("curves.png",))
    run_folder(root, "09-01-00-triangular", {"status": "failed", "error": "RuntimeError: boom at step 5"})
    run_folder(root, "09-02-00-triangular2", {"status": "diverged", "steps": 5, "diverged_at": {"step": 5, "lr": 0.5}})
    run_folder(root, "09-03-00-exp_range", {"status": "interrupted", "steps": 12})
    run_folder(root, "09-04-00-one_cycle", {"status": "running", "steps": 0}, files=("metrics.csv",))
    run_folder(root, "09-05-00-sgdr")  # killed before its summary
    run_folder(root, "09-06-00-fixed", '{"status": "comp')  # a damaged summary
    run_folder(root, "09-07-00-linear_decay", "[1, 2]", overrides=())  # JSON, not a summary
    bad = run_folder(root, "09-08-00-clr", done)
    (bad / ".hydra" / "overrides.yaml").write_text("- [unclosed\n")
    sweep = new_sweep("outputs/sweeps/2026-11-26/08-00-00")
    sweep.group("schedule=constant", [0.90, 0.91, 0.92])
    sweep.run("schedule=triangular", 0, status="running")
    (sweep.folder / "multirun.yaml").write_text("hydra: {}\n")
    (sweep.folder / "report.html").write_text("<html></html>")
    return root


def test_index_lists_every_run_and_sweep_newest_first(outputs, capsys):
    assert main([str(outputs)]) == 0
    assert capsys.readouterr().out.strip() == f"{outputs / 'index.html'}: 1 sweeps, 9 single runs"
    page = Page((outputs / "index.html").read_text())
    runs = page.tables["runs"]
    names = ["constant", "triangular", "triangular2", "exp_range", "one_cycle", "sgdr", "fixed", "linear_decay", "clr"]
    assert [row[1] for row in runs] == [f"09-0{i}-00-{s}" for i, s in enumerate(names)][::-1]  # newest first
    status = {row[1]: row[3] for row in runs}
    assert status["09-00-00-constant"] == "completed"
    assert status["09-01-00-triangular"].startswith("failed") and "boom at step 5" in status["09-01-00-triangular"]
    assert status["09-02-00-triangular2"] == "diverged diverged at step 5 (lr 0.5)"
    assert status["09-03-00-exp_range"] == "interrupted"
    assert re.match(r"running last record written \d+ s ago", status["09-04-00-one_cycle"])
    assert status["09-05-00-sgdr"].startswith("missing no summary.json")
    assert status["09-06-00-fixed"].startswith("broken") and status["09-07-00-linear_decay"].startswith("broken")
    assert status["09-08-00-clr"].startswith("completed .hydra/overrides.yaml unreadable")
    done = next(row for row in runs if row[1] == "09-00-00-constant")
    assert done[2] == "schedule=constant" and done[6:8] == ["0.810", "0.830"]
    (sweep,) = page.tables["sweeps"]
    assert sweep[1] == "08-00-00" and sweep[3] == "running" and sweep[4] == "3 completed, 1 running"
    assert sweep[2] == "schedule=constant,triangular seed=0,1,2" and sweep[-1] == "report.html"
    # every link and image is relative and names something that exists
    assert page.urls and all(not u.startswith(("/", "file:", "http")) for u in page.urls)
    assert all((outputs / u).exists() for u in page.urls), [u for u in page.urls if not (outputs / u).exists()]
    assert "sweeps/2026-11-26/08-00-00/report.html" in page.urls


def test_a_folder_with_nothing_to_index_is_one_line(tmp_path, capsys):
    (tmp_path / "empty" / "a").mkdir(parents=True)
    assert main([str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "empty" / "index.html").exists()


def test_baseline_asks_a_sweep_not_an_index(outputs, capsys):
    assert main([str(outputs), "--baseline", "schedule=constant"]) == 2
    assert "not a sweep folder" in capsys.readouterr().err


def test_the_index_root_of_the_default_layout_only(tmp_path):
    out = tmp_path / "outputs"
    assert index_root(out / "runs" / DAY / "09-00-00-constant") == out
    assert index_root(out / "sweeps" / DAY / "09-00-00") == out
    assert index_root(out / "sweeps" / DAY / "09-00-00" / "0-constant-seed0") == out
    assert index_root(tmp_path / "my_run") is None
    assert index_root(tmp_path / "a" / "b" / "c") is None


def test_the_index_benchmark_runs(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / "index_speed" / "bench.py"), "--smoke"],
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "50 run folders: 25 single runs, 2 sweeps (25 jobs)" in proc.stdout
    assert "write_index, in process: median" in proc.stdout


@pytest.mark.slow
def test_the_readme_commands_index_real_runs_in_chromium(cli, tmp_path):
    """In a fresh folder, without hydra.run.dir: runs that complete, fail, diverge, are killed (still running)
    and are interrupted by SIGTERM, and a sweep; each refreshes outputs/index.html."""
    short = ["trainer.max_steps=20", "trainer.threads=1"]
    assert cli("schedule=constant", *short).returncode == 0
    assert (tmp_path / "outputs" / "index.html").is_file()  # refreshed by the run itself
    assert cli("schedule=triangular", "faults.fail_at_step=5", *short).returncode == 1
    assert cli("schedule=triangular2", "faults.nan_at_step=5", *short).returncode == 1
    assert cli("schedule=exp_range", "faults.kill_at_step=5", *short).returncode == -signal.SIGKILL
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner", "schedule=one_cycle", "trainer.max_steps=100000", "trainer.progress=false"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while not list((tmp_path / "outputs" / "runs").glob("*/*-one_cycle/metrics.csv")) and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 143
    assert cli("-m", "schedule=constant,triangular", *short).returncode == 0
    page = Page((tmp_path / "outputs" / "index.html").read_text())  # refreshed at the sweep's end
    statuses = sorted(row[3].split()[0] for row in page.tables["runs"])
    assert statuses == ["completed", "diverged", "failed", "interrupted", "running"]
    (sweep,) = page.tables["sweeps"]
    assert sweep[3] == "completed" and sweep[-1] == "report.html"
    proc = subprocess.run(
        [sys.executable, "-m", "runner.report", "outputs/"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    result = open_page(tmp_path / "outputs" / "index.html")
    assert_page_complete(result)
    drawn = sorted(p.relative_to(tmp_path / "outputs").as_posix() for p in tmp_path.glob("outputs/runs/*/*/curves.png"))
    assert len(drawn) >= 3 and sorted(i["src"] for i in result["images"]) == drawn  # every run that drew one
