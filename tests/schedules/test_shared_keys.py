"""Keys shared by several policies are given once for a sweep over policies: conf/schedule_keys.yaml declares every
policy's keys, a policy takes its own and reports the others it was given; a key no policy has stays an error."""

from __future__ import annotations

import pytest
import yaml

from runner.config import validate
from runner.errors import ConfigError
from runner.schedules.base import policy_keys, split_unused
from support import CONF, compose


def test_schedule_keys_yaml_declares_exactly_the_keys_of_the_registered_policies():
    declared = yaml.safe_load((CONF / "schedule_keys.yaml").read_text())
    assert set(declared) == set(policy_keys()) and all(v is None for v in declared.values())


def test_a_policy_takes_its_own_keys_and_names_the_others_it_was_given():
    kept, unused = split_unused({"name": "constant", "lr": 0.1, "step_size": 50, "base_lr": None, "T_mult": 2})
    assert kept == {"name": "constant", "lr": 0.1} and unused == ["schedule.T_mult", "schedule.step_size"]
    kept, unused = split_unused({"name": "triangular", "step_size": 50, "lr": None})
    assert kept == {"name": "triangular", "step_size": 50} and unused == []


def test_a_key_no_policy_has_stays_in_and_is_refused():
    kept, _ = split_unused({"name": "constant", "stepsize": 50})
    assert kept == {"name": "constant", "stepsize": 50}
    with pytest.raises(ConfigError, match=r"schedule\.stepsize: unknown key.*did you mean 'step_size'"):
        validate({**_plain(compose()), "schedule": {"name": "triangular", "stepsize": 50}})


def _plain(cfg) -> dict:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(cfg, resolve=True)


@pytest.mark.parametrize("policy", ["constant", "triangular", "triangular2", "one_cycle", "fixed"])
def test_a_shared_key_composes_for_every_policy(policy):
    cfg = validate(compose(f"schedule={policy}", "schedule.step_size=50", "schedule.max_lr=0.2"))
    uses_step_size = policy in ("triangular", "triangular2")
    assert ("schedule.step_size" in cfg.unused_keys) != uses_step_size
    if uses_step_size:
        assert cfg.schedule.step_size == 50 and cfg.schedule.max_lr == 0.2
    assert cfg.schedule.name == policy


def test_library_callers_stay_strict():
    from runner.schedules import build_schedule

    with pytest.raises(ConfigError, match=r"schedule\.step_size: unknown key"):
        build_schedule({"name": "constant", "step_size": 50})
