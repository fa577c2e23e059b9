"""`python -m runner --help` helps (tasks, a sweep, the groups and their options, where the docs are), and a typo in
a group option or a key gets one line with the nearest name, exit 2 and no folder."""

from __future__ import annotations

import pytest
from hydra.errors import HydraException

from runner.hydra_compat import one_line
from runner.tasks import TASKS
from support import CONF, compose, options, run_cli


def test_help_names_the_tasks_a_sweep_every_group_with_its_options_and_the_docs(tmp_path):
    proc = run_cli("--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    for task in TASKS:
        assert f"\n{task} " in text, task
    assert "python -m runner -m schedule=" in text
    lines = text.splitlines()
    for group in ("model", "dataset", "schedule", "optimizer", "trainer", "analysis", "experiment"):
        assert f"{group}: {', '.join(options(group))}" in lines, group
    assert "README.md" in text and "docs/" in text
    assert list(tmp_path.iterdir()) == []


def test_a_mistyped_schedule_suggests_the_nearest_one_on_one_line(tmp_path):
    proc = run_cli("schedule=triangluar", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [proc.stderr.strip()] and proc.stderr.startswith("error: schedule=triangluar")
    assert proc.stderr.strip().endswith("did you mean 'triangular'?")
    assert list(tmp_path.iterdir()) == []


def test_a_mistyped_key_in_a_sweep_suggests_the_nearest_key_and_runs_nothing(tmp_path):
    proc = run_cli("-m", "schedule=constant,triangular", "schedule.stepsize=50", cwd=tmp_path)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "did you mean 'schedule.step_size'?" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def composition_error(*overrides: str) -> str:
    with pytest.raises(HydraException) as info:
        compose(*overrides)
    line = one_line(info.value)
    assert line is not None and "\n" not in line
    return line


@pytest.mark.parametrize(
    "override,nearest",
    [
        ("model=lenet", "lenet5"),
        ("dataset=fashion", "fashion_mnist"),
        ("optimizer=adamw", "adam"),
        ("experiment=smith_table", "smith_table1"),
        ("schedule=exp_rang", "exp_range"),
        ("trainer=fashion_mnst", "fashion_mnist"),
    ],
)
def test_every_group_suggests_its_nearest_option(override, nearest):
    assert composition_error(override).endswith(f"did you mean {nearest!r}?")
    assert (CONF / override.partition("=")[0] / f"{nearest}.yaml").is_file()


@pytest.mark.parametrize(
    "override,nearest",
    [
        ("schedule.stepsize=5", "schedule.step_size"),
        ("schedule.basel_lr=0.1", "schedule.base_lr"),
        ("seeed=1", "seed"),
        ("trainer.batchsize=8", "trainer.batch_size"),
        ("analysis.plateau.windw=50", "analysis.plateau.window"),
        ("model.chanels=[4]", "model.channels"),
        ("dataset.val_sise=100", "dataset.val_size"),
    ],
)
def test_an_unknown_key_suggests_the_nearest_key(override, nearest):
    line = composition_error(override)
    assert "no such key" in line and line.endswith(f"did you mean {nearest!r}?")


def test_an_unknown_key_far_from_every_key_gets_no_guess():
    assert "did you mean" not in composition_error("schedule.bogus=1")
