"""The studies in experiments/: every preset and policy file composes and validates from the repository root, each
run ends at a cycle end (Smith's advice), and each study folder holds its README, report, table and figure."""

from __future__ import annotations

import re

import pytest

from runner.config import validate
from runner.training.loop import iters_per_epoch, total_steps
from support import CONF, ROOT, compose

# Every study holds annealed controls beside its constants: a cyclical policy is credited only against both.
CONTROLS = ["fixed", "linear_decay"]
STUDIES = {
    "clr_vs_constant": CONTROLS + ["constant_0.01", "constant_0.03", "constant_0.1", "triangular", "triangular2"],
    "plateau_escape": CONTROLS + ["constant_0.1", "constant_0.3", "constant_1.0", "triangular", "triangular2"],
    "smith_table1": ["fixed", "triangular2", "exp_range"],
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


def test_cyclical_bounds_of_the_studies_come_from_study_1s_committed_range_test(monkeypatch):
    import json

    monkeypatch.chdir(ROOT)
    result = json.loads((ROOT / "experiments" / "clr_vs_constant" / "range_test" / "range_test.json").read_text())
    median = result["aggregate"][result["rule"]]  # the seeds' median under the default rule
    cyclical = [
        cfg
        for study in ("clr_vs_constant", "smith_table1", "step_size")
        for cfg in study_configs(study)
        if cfg.schedule.name in ("triangular", "triangular2", "exp_range")
    ]
    assert len(cyclical) == 2 + 2 + 2
    for cfg in cyclical:
        assert (cfg.schedule.base_lr, cfg.schedule.max_lr) == (median["base_lr"], median["max_lr"])
    # The annealed controls and the fixed baseline span the same range, written out in their files.
    for cfg in study_configs("clr_vs_constant") + study_configs("smith_table1"):
        if cfg.schedule.name in ("fixed", "linear_decay"):
            top = cfg.schedule.lr if cfg.schedule.name == "fixed" else cfg.schedule.max_lr
            assert abs(top - median["max_lr"]) / median["max_lr"] < 0.01, cfg.schedule


def test_no_committed_study_file_records_an_absolute_path():
    # Files copied out of a run or sweep folder carry the machine's paths unless they are made relative (the READMEs
    # may show commands with paths of their own).
    pattern = re.compile(r"(?<![\w.~])/(work|tmp|home|root|Users|mnt)/")
    for path in (ROOT / "experiments").rglob("*"):
        if path.is_file() and path.name != "README.md" and path.suffix in (".md", ".yaml", ".log", ".json", ".csv"):
            assert not pattern.search(path.read_text(errors="replace")), path


@pytest.mark.parametrize("study", sorted(STUDIES))
def test_each_study_folder_holds_its_readme_table_and_figure(study):
    folder = ROOT / "experiments" / study
    readme = (folder / "README.md").read_text()
    assert f"python -m runner -m experiment={study}" in readme
    for name in ("report.md", "schedules.csv", "compare.png"):
        assert (folder / name).is_file(), name
        assert name in readme
    assert study in (ROOT / "experiments" / "README.md").read_text()


@pytest.mark.parametrize("preset", ["fashion_mnist", "clr_vs_constant", "plateau_escape", "smith_table1", "step_size"])
def test_fashion_mnist_presets_resolve_steps_to_target_to_two_percent_of_the_run(preset, monkeypatch):
    monkeypatch.chdir(ROOT)
    cfg = validate(compose(f"experiment={preset}"))
    assert cfg.dataset.name == "fashion_mnist"
    n_train = cfg.dataset.subset or 60000 - cfg.dataset.val_size
    steps = total_steps(n_train, cfg.trainer.batch_size, cfg.trainer.epochs, cfg.trainer.max_steps)
    # Evaluations happen at least every eval_every steps, so the first step at a target is known to that resolution.
    assert cfg.trainer.eval_every is not None and cfg.trainer.eval_every <= 0.02 * steps, (
        cfg.trainer.eval_every,
        steps,
    )
