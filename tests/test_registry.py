"""The one registry helper behind every choice made by name: duplicates refused, unknown names one line with a
suggestion, builders given by module path imported on first use, and every real entry buildable."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from runner.data import DATASETS
from runner.errors import ConfigError
from runner.models import MODELS
from runner.optimizers import OPTIMIZERS
from runner.registry import Registry
from runner.schedules import SCHEDULES
from runner.schedules.scale_fns import SCALE_FNS
from runner.tasks import TASKS


@dataclass
class ToyConfig:
    name: str = "toy"
    size: int = 3

    def check(self, key: str) -> None:
        if self.size < 1:
            raise ConfigError(f"{key}.size={self.size!r}: must be an integer >= 1")


def test_a_name_maps_to_its_config_and_its_builder():
    toys = Registry("toy")

    @toys.register("toy", config=ToyConfig)
    def build(cfg):
        return ["brick"] * cfg.size

    cfg = toys.config_from({"name": "toy", "size": 2}, "toy")
    assert cfg == ToyConfig(size=2) and toys.entry("toy").build(cfg) == ["brick", "brick"]


def test_a_duplicate_name_is_refused():
    toys = Registry("toy")
    toys.add("toy", ToyConfig, print)
    with pytest.raises(ValueError, match="toy 'toy' is registered twice"):
        toys.add("toy", ToyConfig, repr)


def test_an_unknown_name_is_one_line_with_the_allowed_names_and_the_nearest():
    with pytest.raises(ConfigError) as info:
        SCHEDULES.entry("triangluar", "schedule.name")
    assert str(info.value).startswith("schedule.name='triangluar': unknown schedule; allowed: clr, constant")
    assert str(info.value).endswith("did you mean 'triangular'?")
    with pytest.raises(ConfigError, match=r"^model\.name='zzz': unknown model; allowed: [a-z_, 0-9]+$"):
        MODELS.config_from({"name": "zzz"}, "model")


def test_values_are_typed_and_range_checked():
    toys = Registry("toy")
    toys.add("toy", ToyConfig)
    with pytest.raises(ConfigError, match=r"^toy\.size=0: must be an integer >= 1$"):
        toys.config_from({"name": "toy", "size": 0}, "toy")
    with pytest.raises(ConfigError, match=r"^toy\.colour: unknown key; allowed: name, size$"):
        toys.config_from({"name": "toy", "colour": "red"}, "toy")


def test_a_builder_named_by_module_path_is_imported_on_first_use():
    toys = Registry("toy")
    toys.add("toy", ToyConfig, "json:dumps")
    assert toys.entry("toy").build([1]) == "[1]"


@pytest.mark.parametrize("registry", [SCHEDULES, MODELS, DATASETS, OPTIMIZERS, TASKS, SCALE_FNS], ids=lambda r: r.kind)
def test_every_registered_component_resolves(registry):
    assert len(registry) >= 2
    for name in registry:
        entry = registry.entry(name)
        if registry is SCHEDULES:
            assert entry.config is not None and entry.config().name == name  # a policy is its own config
        else:
            assert callable(entry.build)
        if entry.config is not None:
            entry.config().check(registry.kind)  # the defaults pass their own checks
