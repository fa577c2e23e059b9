"""The studies in experiments/: every preset and policy file composes and validates from the repository root, each
run ends at a cycle end (Smith's advice), and each study folder holds its README, report, table and figure."""

from __future__ import annotations

import re

import pytest

from runner.config import validate
from runner.training.loop import iters_per_epoch, total_steps
from support import CONF, ROOT, compose

STUDIES = {
    "clr_vs_constant": ["constant", "triangular", "triangular2"],
    "plateau_escape": ["constant", "triangular", "triangular2"],
    "step_size": [],
}


def study_configs(study: str):
    """One validated config per policy of the study (or the preset itself when it sweeps plain keys)."""
    arms = STUDIES[study]
    overrides = [[f"experiment={study}", f"experiment/{study}@_global_={arm}"] for arm in arms] or [
        [f"experiment={study}", f"schedule.step_size_epochs={e}"] for e in (2, 8)
    ]
    return [validate(compose(*o)) for o in overrides]


@pytest.mark.parametrize("study", sorted(STUDIES))
def test_every_policy_of_a_study_validates_and_ends_at_a_cycle_end(study, monkeypatch):
    monkeypatch.chdir(ROOT)  # bounds_from paths are relative to the folder the command runs from
    sweep = (CONF / "experiment" / f"{study}.yaml").read_text()
    for arm in STUDIES[study]:
        assert re.search(rf"{arm}\b", sweep) and (CONF / "experiment" / study / f"{arm}.yaml").is_file()
    for cfg in study_configs(study):
        assert cfg.dataset.name == "fashion_mnist"
        n_train = cfg.dataset.subset or 60000 - cfg.dataset.val_size  # validation is held out of the 60,000
        per_epoch = iters_per_epoch(n_train, cfg.trainer.batch_size)
        steps = total_steps(n_train, cfg.trainer.batch_size, cfg.trainer.epochs, cfg.trainer.max_steps)
        schedule = cfg.schedule.resolve(per_epoch, steps)
        if schedule.cyclic:
            assert steps in schedule.cycle_ends(steps), (study, schedule)


def test_cyclical_bounds_of_study_1_come_from_its_committed_range_test(monkeypatch):
    import json

    monkeypatch.chdir(ROOT)
    result = json.loads((ROOT / "experiments" / "clr_vs_constant" / "range_test" / "range_test.json").read_text())
    for cfg in study_configs("clr_vs_constant")[1:] + study_configs("step_size"):
        assert (cfg.schedule.base_lr, cfg.schedule.max_lr) == (result["suggested_base_lr"], result["suggested_max_lr"])


@pytest.mark.parametrize("study", sorted(STUDIES))
def test_each_study_folder_holds_its_readme_table_and_figure(study):
    folder = ROOT / "experiments" / study
    readme = (folder / "README.md").read_text()
    assert f"python -m runner -m experiment={study}" in readme
    for name in ("report.md", "schedules.csv", "compare.png"):
        assert (folder / name).is_file(), name
        assert name in readme
    assert study in (ROOT / "experiments" / "README.md").read_text()
