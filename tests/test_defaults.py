"""One source of defaults: the config dataclasses hold them, and every YAML file under conf/ states the same values.

Library users (build_schedule, PolicyLR, the registries) and command-line users must get the same numbers, so any
difference between a YAML value and its dataclass default, or a key on one side only, fails here by name.
"""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from runner.analysis.settings import AnalysisConfig
from runner.data import DATASETS
from runner.models import MODELS
from runner.optimizers import OPTIMIZERS
from runner.range_test.settings import RangeTestConfig
from runner.schedules import SCHEDULES, build_schedule
from runner.training.settings import FaultsConfig, PreviewConfig, TrainerConfig
from support import CONF, options

REGISTRIES = {"schedule": SCHEDULES, "model": MODELS, "dataset": DATASETS, "optimizer": OPTIMIZERS}
TOP_SECTIONS = {"preview": PreviewConfig, "range_test": RangeTestConfig, "faults": FaultsConfig}


def drift(yaml_values: dict, default) -> list[str]:
    """Keys whose YAML value differs from the dataclass default, or that exist on one side only."""
    ours = dataclasses.asdict(default)
    out = [f"{k}: yaml {v!r} != default {ours.get(k, '<none>')!r}" for k, v in yaml_values.items() if ours.get(k) != v]
    return out + [f"{k}: missing from the YAML" for k in ours if k not in yaml_values]


@pytest.mark.parametrize("group,option", [(g, o) for g in REGISTRIES for o in options(g)], ids=lambda x: str(x))
def test_every_option_file_equals_its_dataclass_defaults(group, option):
    values = yaml.safe_load((CONF / group / f"{option}.yaml").read_text())
    values.pop("defaults", None)  # what else the option brings (a dataset its trainer), not values of its own
    default = REGISTRIES[group].entry(values["name"]).config()
    assert drift(values, default) == []


@pytest.mark.parametrize("group,cls", [("trainer", TrainerConfig), ("analysis", AnalysisConfig)])
def test_every_section_file_equals_its_dataclass_defaults(group, cls):
    assert drift(yaml.safe_load((CONF / group / "default.yaml").read_text()), cls()) == []


@pytest.mark.parametrize("option", [o for o in options("trainer") if o != "default"])
def test_a_dataset_trainer_starts_from_the_defaults_and_states_only_what_differs(option):
    # conf/trainer/<dataset>.yaml (brought by dataset=<dataset>) builds on default.yaml, so the defaults stay in one
    # place; each key it states is a trainer key with a value of its own.
    values = yaml.safe_load((CONF / "trainer" / f"{option}.yaml").read_text())
    assert values.pop("defaults") == ["default", "_self_"]
    ours = dataclasses.asdict(TrainerConfig())
    assert values and all(k in ours and v != ours[k] for k, v in values.items()), values


@pytest.mark.parametrize("section", sorted(TOP_SECTIONS))
def test_config_yaml_sections_equal_their_dataclass_defaults(section):
    values = yaml.safe_load((CONF / "config.yaml").read_text())[section]
    assert drift(values, TOP_SECTIONS[section]()) == []


def test_the_drift_check_sees_a_difference():
    assert drift({"name": "constant", "lr": 0.5}, SCHEDULES.entry("constant").config()) == [
        "lr: yaml 0.5 != default 0.05"
    ]
    assert drift({"name": "constant"}, SCHEDULES.entry("constant").config()) == ["lr: missing from the YAML"]


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_library_and_command_line_give_the_same_numbers(name):
    from runner.config import validate
    from support import compose

    cli = validate(compose(f"schedule={name}")).schedule.resolve(45, 1080)
    library = build_schedule({"name": name}).resolve(45, 1080)
    assert [cli.lr_at(i) for i in range(0, 1080, 7)] == [library.lr_at(i) for i in range(0, 1080, 7)]
