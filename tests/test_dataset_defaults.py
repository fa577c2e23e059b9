"""Each dataset brings its trainer defaults (conf/trainer/<dataset>.yaml): Smith-style cycles that end at a cycle
end, with whatever the user sets on the command line (or a preset) winning. Composed configs only: no training."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from runner.config import validate
from runner.training.loop import iters_per_epoch, total_steps
from runner.training.settings import TrainerConfig
from support import CONF, ROOT, compose

# Training images each dataset holds before validation is taken out (digits: what its split leaves to train).
OFFICIAL_TRAIN = {"mnist": 60000, "fashion_mnist": 60000, "cifar10": 50000}
DIGITS_TRAIN = 1079


def n_train(cfg) -> int:
    if cfg.dataset.name == "digits":
        return DIGITS_TRAIN
    return cfg.dataset.subset or OFFICIAL_TRAIN[cfg.dataset.name] - cfg.dataset.val_size


def plan(*overrides: str) -> tuple:
    """(validated config, steps per epoch, steps, resolved schedule) for `overrides`."""
    cfg = validate(compose(*overrides))
    per_epoch = iters_per_epoch(n_train(cfg), cfg.trainer.batch_size)
    steps = total_steps(n_train(cfg), cfg.trainer.batch_size, cfg.trainer.epochs, cfg.trainer.max_steps)
    return cfg, per_epoch, steps, cfg.schedule.resolve(per_epoch, steps)


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["digits", "mnist", "fashion_mnist", "cifar10"])
def test_every_dataset_runs_whole_smith_cycles_by_default(dataset):
    cfg, per_epoch, steps, schedule = plan(f"dataset={dataset}")
    half_cycle_epochs = schedule.step_size / per_epoch
    assert 2 <= half_cycle_epochs <= 8, half_cycle_epochs  # Smith's 2-8 epochs
    assert steps % schedule.cycle_length() == 0 and steps >= schedule.cycle_length()  # ends at a cycle end
    if dataset != "digits":  # the image datasets: steps_to_target resolves to 2% of the run
        assert cfg.trainer.eval_every is not None and cfg.trainer.eval_every <= 0.02 * steps


@pytest.mark.slow
def test_fashion_mnist_is_the_one_minute_run():
    cfg, per_epoch, steps, schedule = plan("dataset=fashion_mnist")
    assert (cfg.trainer.batch_size, per_epoch, steps, schedule.step_size) == (128, 430, 3440, 1720)
    assert (cfg.trainer.eval_every, cfg.trainer.eval_size) == (50, 2000)


@pytest.mark.slow
def test_digits_keeps_the_default_trainer_unchanged():
    cfg, per_epoch, steps, schedule = plan()
    assert cfg.trainer == TrainerConfig() and (per_epoch, steps, schedule.step_size) == (34, 816, 136)
    assert validate(compose("dataset=digits")).trainer == TrainerConfig()


@pytest.mark.slow
def test_the_command_line_wins_over_the_datasets_trainer():
    cfg, _, _, _ = plan("dataset=fashion_mnist", "trainer.batch_size=64", "trainer.eval_every=null")
    assert (cfg.trainer.batch_size, cfg.trainer.epochs, cfg.trainer.eval_every) == (64, 8, None)
    assert validate(compose("dataset=fashion_mnist", "trainer=default")).trainer == TrainerConfig()
    _, per_epoch, _, schedule = plan("dataset=fashion_mnist", "schedule.step_size_epochs=2")
    assert schedule.step_size == 2 * per_epoch


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["fashion_mnist", "clr_vs_constant", "plateau_escape", "smith_table1", "step_size"])
def test_a_preset_keeps_every_trainer_value_it_had(preset, monkeypatch):
    # The presets that choose a dataset state their trainer; what they leave out is the digits default, as before
    # the datasets brought trainers (plateau_escape pins eval_size to keep its whole-split evaluations).
    monkeypatch.chdir(ROOT)
    stated = yaml.safe_load((CONF / "experiment" / f"{preset}.yaml").read_text()).get("trainer", {})
    expected = dataclasses.replace(TrainerConfig(), **stated)
    trainer = validate(compose(f"experiment={preset}")).trainer
    if expected.max_steps is not None:  # max_steps wins: epochs then changes nothing
        expected.epochs = trainer.epochs
    assert trainer == expected


@pytest.mark.slow
def test_a_datasets_trainer_is_also_an_option_of_its_own():
    for name in OFFICIAL_TRAIN:
        trainer = validate(compose(f"trainer={name}")).trainer
        assert trainer == validate(compose(f"dataset={name}")).trainer != TrainerConfig()
