"""A sweep over policies with shared keys given once: every policy runs, a policy that lacks a key ignores it and
says so in summary.json, and the report's groups are the policies (an ignored key never labels a group)."""

from __future__ import annotations

import pytest

from support import read_csv, read_json, run_cli

POLICIES = ("constant", "triangular", "triangular2")


def assert_mixed_sweep(sweep_dir, step_size: int, steps: int) -> None:
    runs = {p: next(sweep_dir.glob(f"*-{p}-seed0")) for p in POLICIES}
    for policy, folder in runs.items():
        summary = read_json(folder / "summary.json")
        assert summary["status"] == "completed" and summary["steps"] == steps
        if policy == "constant":
            assert summary["ignored_keys"] == ["schedule.step_size"] and summary["step_size"] is None
            assert summary["base_lr"] is None and summary["max_lr"] is None
        else:
            assert summary["step_size"] == step_size and summary["ignored_keys"] == ["schedule.step_size_epochs"]
            assert (summary["base_lr"], summary["max_lr"]) == (0.01, 0.1)
    groups = [row["group"] for row in read_csv(sweep_dir / "schedules.csv")]
    assert sorted(groups) == [f"schedule={p}" for p in POLICIES]


@pytest.mark.slow
def test_a_shared_key_given_once_runs_every_policy(cli, tmp_path):
    sweep_dir = tmp_path / "sweep"
    proc = cli(
        "-m",
        f"schedule={','.join(POLICIES)}",
        "schedule.step_size=10",
        "trainer.max_steps=40",
        f"hydra.sweep.dir={sweep_dir}",
    )
    assert proc.returncode == 0, proc.stderr
    assert_mixed_sweep(sweep_dir, 10, 40)


@pytest.mark.slow
def test_the_readme_mixed_sweep_in_a_fresh_folder(tmp_path):
    # The README's command exactly, in a fresh working directory: the sweep lands in outputs/sweeps/<date>/<time>/.
    proc = run_cli(
        "-m", "schedule=constant,triangular,triangular2", "schedule.step_size=50", "trainer.max_steps=200", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    (sweep_dir,) = (tmp_path / "outputs" / "sweeps").glob("*/*")
    assert_mixed_sweep(sweep_dir, 50, 200)
