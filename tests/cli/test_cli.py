"""The real command line, end to end, in a temporary folder: the run-folder contract, sweeps, previews, errors."""

from __future__ import annotations

import math

import pytest

from support import formula, read_csv, read_json

SUMMARY_KEYS = {"status", "schedule", "seed", "steps", "final_val_acc", "best_val_acc", "wall_s", "images_per_s"}


def assert_run_folder(run_dir, steps: int) -> dict:
    """The output contract (README, "What a run leaves") of one completed run."""
    for name in (
        "metrics.csv",
        "eval.csv",
        "summary.json",
        "curves.png",
        ".hydra/config.yaml",
        ".hydra/overrides.yaml",
    ):
        assert (run_dir / name).exists(), name
    assert (run_dir / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = read_csv(run_dir / "metrics.csv")
    assert list(metrics[0]) == ["step", "epoch", "cycle", "lr", "momentum", "loss"]
    assert [int(r["step"]) for r in metrics] == list(range(steps))
    assert list(read_csv(run_dir / "eval.csv")[0]) == ["step", "epoch", "lr", "val_loss", "val_acc", "when", "val_n"]
    summary = read_json(run_dir / "summary.json")
    assert SUMMARY_KEYS <= set(summary)
    assert summary["status"] == "completed" and summary["steps"] == steps
    assert 0 < summary["final_val_acc"] <= summary["best_val_acc"] <= 1
    assert summary["images_per_s"] > 0
    # The log's last line is the run's verdict: the process exits without the interpreter's teardown
    # (runner/__main__.py), and the logging handlers must still have written everything.
    assert "status completed" in (run_dir / "run.log").read_text().splitlines()[-1]
    return summary


def test_default_triangular2_run_leaves_the_contract_and_learns(cli, tmp_path):
    proc = cli("schedule=triangular2")
    assert proc.returncode == 0, proc.stderr
    assert "status completed, final val_acc" in proc.stdout.splitlines()[-1]  # the console got the last line too
    (run_dir,) = (tmp_path / "outputs" / "runs").glob("*/*-triangular2")  # the folder says which schedule ran
    # 1,079 training digits at batch 32: 34 steps per epoch, 24 epochs; a half cycle of 4 epochs is 136 steps.
    summary = assert_run_folder(run_dir, steps=816)
    assert summary["final_val_acc"] > 0.9  # digits is easy: a broken loop would not get here
    for r in read_csv(run_dir / "metrics.csv"):
        assert float(r["lr"]) == pytest.approx(formula(int(r["step"]), 0.01, 0.1, 136, "triangular2"), abs=1e-9)


def test_max_steps_run_matches_the_formula_and_evaluates_at_cycle_ends(cli, tmp_path):
    run_dir = tmp_path / "run"
    proc = cli(
        "schedule=triangular2",
        "schedule.base_lr=0.001",
        "schedule.max_lr=0.006",
        "schedule.step_size=20",
        "trainer.max_steps=200",
        f"hydra.run.dir={run_dir}",
    )
    assert proc.returncode == 0, proc.stderr
    assert_run_folder(run_dir, steps=200)
    for r in read_csv(run_dir / "metrics.csv"):
        assert abs(float(r["lr"]) - formula(int(r["step"]), 0.001, 0.006, 20, "triangular2")) <= 1e-9
    evals = read_csv(run_dir / "eval.csv")
    assert [int(r["step"]) for r in evals if r["when"] == "cycle_end"] == [40, 80, 120, 160, 200]
    assert [int(r["step"]) for r in evals if r["when"] == "final"] == [200]


def test_a_sweep_writes_one_folder_per_schedule_under_one_sweep_folder(cli, tmp_path):
    sweep = tmp_path / "sweep"
    proc = cli("-m", "schedule=constant,triangular,triangular2", "trainer.max_steps=100", f"hydra.sweep.dir={sweep}")
    assert proc.returncode == 0, proc.stderr
    runs = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    assert runs == ["0-constant-seed0", "1-triangular-seed0", "2-triangular2-seed0"]
    for name in runs:
        summary = assert_run_folder(sweep / name, steps=100)
        assert summary["schedule"] == name.split("-")[1]


def test_preview_draws_the_seed_figure_without_training(cli, tmp_path):
    out = tmp_path / "preview"
    proc = cli(
        "task=preview",
        "schedule=triangular2",
        "schedule.base_lr=1e-6",
        "schedule.max_lr=1e-3",
        "schedule.step_size=1000",
        f"hydra.run.dir={out}",
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "schedule.png").read_bytes()[:4] == b"\x89PNG"
    assert not (out / "metrics.csv").exists()
    rows = read_csv(out / "schedule.csv")
    assert len(rows) == 8000
    lrs = [float(r["lr"]) for r in rows]
    peaks = [lrs[i] for i in (1000, 3000, 5000, 7000)]  # four cycles, the amplitude halving each time
    for k, peak in enumerate(peaks):
        assert peak == pytest.approx(1e-6 + (1e-3 - 1e-6) / 2**k, rel=1e-12)
    assert {int(r["cycle"]) for r in rows} == {1, 2, 3, 4}
    assert lrs[0] == lrs[2000] == pytest.approx(1e-6)


def test_same_seed_is_byte_identical_and_another_seed_differs(cli, tmp_path):
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        proc = cli("trainer.max_steps=60", f"seed={seed}", f"hydra.run.dir={tmp_path / name}")
        assert proc.returncode == 0, proc.stderr
    a, b, c = ((tmp_path / n / "metrics.csv").read_bytes() for n in "abc")
    assert a == b
    assert a != c


BAD_CLI = [
    ("schedule=bogus", "schedule=bogus"),
    ("model=bogus", "model=bogus"),
    ("dataset=bogus", "dataset=bogus"),
    ("schedule.base_lr=-0.01", "schedule.base_lr"),
    ("schedule.base_lr=fast", "schedule.base_lr"),
    ("schedule.base_lr=0.5", "schedule.base_lr"),
    ("schedule.step_size=0", "schedule.step_size"),
    ("schedule.step_size_epochs=null", "schedule.step_size"),
    ("schedule=exp_range schedule.gamma=1.5", "schedule.gamma"),
    ("trainer.batch_size=0", "trainer.batch_size"),
    ("schedule.bogus=1", "schedule.bogus"),
]


@pytest.mark.parametrize("overrides,key", BAD_CLI, ids=[o for o, _ in BAD_CLI])
def test_bad_input_exits_non_zero_with_one_line_and_no_folder(cli, tmp_path, overrides, key):
    proc = cli(*overrides.split(), f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {key}"), proc.stderr
    assert "allowed" in lines[0] or "must" in lines[0] or "no such key" in lines[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()


def test_bad_value_in_any_sweep_job_stops_the_sweep_before_it_starts(cli, tmp_path):
    sweep = tmp_path / "sweep"
    proc = cli("-m", "schedule=triangular,triangular2", "schedule.max_lr=0.1,0.001", f"hydra.sweep.dir={sweep}")
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: schedule.base_lr=0.01: must be below schedule.max_lr=0.001")
    assert not sweep.exists()


def test_a_failed_run_is_recorded_and_exits_non_zero(cli, tmp_path):
    run_dir = tmp_path / "run"
    proc = cli("trainer.max_steps=50", "faults.fail_at_step=20", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 1
    summary = read_json(run_dir / "summary.json")
    assert summary["status"] == "failed" and "fail_at_step" in summary["error"]
    assert len(read_csv(run_dir / "metrics.csv")) == 20
    assert (run_dir / "curves.png").exists()


def test_an_existing_run_folder_is_never_overwritten(cli, tmp_path):
    run_dir = tmp_path / "run"
    assert cli("trainer.max_steps=10", f"hydra.run.dir={run_dir}").returncode == 0
    files = ("metrics.csv", "eval.csv", "summary.json", ".hydra/config.yaml", "checkpoint.pt")
    before = {name: (run_dir / name).read_bytes() for name in files}
    # Another config in the same folder: refused, naming the key that differs; nothing touched.
    proc = cli("trainer.max_steps=20", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 2
    assert "holds a run with another config" in proc.stderr and "trainer.max_steps: 10 -> 20" in proc.stderr
    assert {name: (run_dir / name).read_bytes() for name in files} == before
    # The same command again: the run is complete, so nothing is re-run or rewritten.
    proc = cli("trainer.max_steps=10", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0 and "nothing to do" in proc.stdout + proc.stderr
    assert {name: (run_dir / name).read_bytes() for name in files if name != ".hydra/config.yaml"} == {
        name: data for name, data in before.items() if name != ".hydra/config.yaml"
    }
    assert math.isfinite(read_json(run_dir / "summary.json")["final_val_acc"])


def test_preview_draws_lr_and_momentum_for_every_schedule_file(cli, tmp_path):
    from support import options

    names = options("schedule")
    sweep = tmp_path / "previews"
    proc = cli("-m", "task=preview", f"schedule={','.join(names)}", "preview.steps=1080", f"hydra.sweep.dir={sweep}")
    assert proc.returncode == 0, proc.stderr
    folders = {p.name.split("-")[1]: p for p in sweep.iterdir() if p.is_dir()}
    assert sorted(folders) == sorted(names)
    for name, folder in folders.items():
        assert (folder / "schedule.png").read_bytes()[:4] == b"\x89PNG", name
        rows = read_csv(folder / "schedule.csv")
        assert len(rows) == 1080 and all(float(r["lr"]) > 0 for r in rows), name
    # one_cycle cycles momentum opposite to the LR, and the preview records it
    rows = read_csv(folders["one_cycle"] / "schedule.csv")
    lr, momentum = [float(r["lr"]) for r in rows], [float(r["momentum"]) for r in rows]
    peak = lr.index(max(lr))
    assert momentum[peak] == min(momentum) and momentum[0] == max(momentum)


def test_a_sweep_over_six_policies_reports_them_all(cli, tmp_path):
    sweep = tmp_path / "six"
    policies = ["constant", "triangular", "triangular2", "exp_range", "one_cycle", "sgdr"]
    proc = cli("-m", f"schedule={','.join(policies)}", "trainer.max_steps=200", f"hydra.sweep.dir={sweep}")
    assert proc.returncode == 0, proc.stderr
    runs = read_csv(sweep / "runs.csv")
    assert [r["schedule"] for r in runs] == policies and {r["status"] for r in runs} == {"completed"}
    report = (sweep / "report.md").read_text()
    assert all(f"`schedule={p}`" in report for p in policies)
    one_cycle = read_csv(sweep / runs[4]["folder"] / "metrics.csv")
    assert len({r["momentum"] for r in one_cycle}) > 100  # momentum cycled and recorded per step


def test_the_readme_command_in_a_fresh_folder_prints_no_warning_and_bad_input_leaves_nothing(tmp_path):
    # Exactly as a newcomer types it: no hydra.run.dir, so the default outputs/runs/<date>/<time>-<schedule> is used.
    from support import run_cli

    proc = run_cli("trainer.max_steps=50", "trainer.progress=false", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    (run_dir,) = (tmp_path / "outputs" / "runs").glob("*/*-triangular")
    assert read_json(run_dir / "summary.json")["status"] == "completed"
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    bad = run_cli("schedule.base_lr=0.5", cwd=fresh)  # above the default max_lr
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0, bad.stderr
    assert "schedule.base_lr" in bad.stderr and list(fresh.iterdir()) == []  # no folder, not even outputs/
