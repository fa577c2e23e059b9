"""Every config file composes, validates and builds; every bad value is refused with one line naming the key."""

from __future__ import annotations

import pytest

from runner.config import validate
from runner.errors import ConfigError
from support import CONF, compose, options


@pytest.mark.parametrize("group", ["model", "dataset", "schedule", "optimizer", "trainer", "analysis"])
def test_every_option_composes_and_validates(group):
    for name in options(group):
        cfg = validate(compose(f"{group}={name}"))
        assert getattr(cfg, group) is not None


def test_every_yaml_key_has_a_comment():
    # Users read the YAML: every key line says why it has its value.
    for path in CONF.rglob("*.yaml"):
        lines = path.read_text().splitlines()
        block_indent = None  # inside a block scalar (`key: |`): text, not keys
        for number, line in enumerate(lines, 1):
            stripped = line.strip()
            indent = len(line) - len(line.lstrip())
            if block_indent is not None and (not stripped or indent > block_indent):
                continue
            block_indent = indent if stripped.endswith((": |", ": |-", ": >", ": >-")) else None
            if not stripped or stripped.startswith("#") or stripped.startswith("- ") or stripped == "defaults:":
                continue
            is_key = ":" in stripped and not stripped.startswith("-")
            opens_group = stripped.endswith(":")
            if is_key and not opens_group and path.parent.name != "experiment":
                above = lines[number - 2].strip() if number > 1 else ""
                commented = "#" in line or above.startswith("#")
                assert commented or stripped.startswith(("name:", "_target_")), f"{path}:{number} lacks a comment"


def test_defaults_are_the_documented_ones():
    cfg = validate(compose())
    assert (cfg.model.name, cfg.dataset.name, cfg.schedule.name, cfg.optimizer.name) == (
        "small_cnn",
        "digits",
        "triangular",
        "sgd",
    )
    assert cfg.task == "train" and cfg.preview.steps == 8000


def test_default_models_and_optimizers_build():
    import torch

    from runner.data import load_dataset
    from runner.models import build_model
    from runner.optimizers import build_optimizer

    data = load_dataset(validate(compose()).dataset)
    assert data.input_shape == (1, 8, 8) and data.num_classes == 10
    for opt in options("optimizer"):
        cfg = validate(compose(f"optimizer={opt}"))
        model = build_model(cfg.model, data.input_shape, data.num_classes)
        assert model(data.val_x[:4]).shape == (4, 10)
        assert isinstance(build_optimizer(cfg.optimizer, model.parameters()), torch.optim.Optimizer)


BAD = [
    # (overrides, key named in the message)
    (["schedule.base_lr=-0.1"], "schedule.base_lr"),
    (["schedule.base_lr=abc"], "schedule.base_lr"),
    (["schedule.max_lr=[1,2]"], "schedule.max_lr"),
    (["schedule.base_lr=0.2"], "schedule.base_lr"),
    (["schedule.base_lr=0.1", "schedule.max_lr=0.1"], "schedule.base_lr"),
    (["schedule.step_size=0"], "schedule.step_size"),
    (["schedule.step_size=-5"], "schedule.step_size"),
    (["schedule.step_size=2.5"], "schedule.step_size"),
    (["schedule.step_size_epochs=null"], "schedule.step_size"),
    (["schedule.step_size=null", "schedule.step_size_epochs=0"], "schedule.step_size_epochs"),
    (["schedule=exp_range", "schedule.gamma=0"], "schedule.gamma"),
    (["schedule=exp_range", "schedule.gamma=1.01"], "schedule.gamma"),
    (["schedule=exp_range", "schedule.gamma=-0.5"], "schedule.gamma"),
    (["schedule=constant", "schedule.lr=0"], "schedule.lr"),
    (["schedule=constant", "schedule.lr=nan"], "schedule.lr"),
    (["schedule=constant", "schedule.lr=inf"], "schedule.lr"),
    (["trainer.batch_size=0"], "trainer.batch_size"),
    (["trainer.batch_size=-3"], "trainer.batch_size"),
    (["trainer.batch_size=many"], "trainer.batch_size"),
    (["trainer.epochs=0"], "trainer.epochs"),
    (["trainer.max_steps=0"], "trainer.max_steps"),
    (["trainer.threads=0"], "trainer.threads"),
    (["optimizer.momentum=1.5"], "optimizer.momentum"),
    (["optimizer=adam", "optimizer.beta1=1.0"], "optimizer.beta1"),
    (["seed=-1"], "seed"),
    (["seed=abc"], "seed"),
    (["task=fly"], "task"),
    (["dataset.val_fraction=1.5"], "dataset.val_fraction"),
    (["model.channels=[]"], "model.channels"),
    (["analysis.plateau.window=1"], "analysis.plateau.window"),
    (["analysis.targets=[1.5]"], "analysis.targets"),
    (["preview.steps=0"], "preview.steps"),
]


@pytest.mark.parametrize("overrides,key", BAD, ids=[" ".join(o) for o, _ in BAD])
def test_bad_values_are_refused_naming_the_key(overrides, key):
    with pytest.raises(ConfigError) as info:
        validate(compose(*overrides))
    message = str(info.value)
    assert message.startswith(key) and "\n" not in message, message
