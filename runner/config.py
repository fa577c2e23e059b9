"""The validated run configuration: every section a typed dataclass, checked before any work starts.

`validate(cfg)` turns Hydra's composed DictConfig (or a plain dict) into a `RunConfig`, or raises ConfigError with
one line that names the key, the value and what is allowed. Choices made by name (model, dataset, schedule,
optimizer, task) are looked up in their registries; the other sections are plain dataclasses. No config string is
ever imported or evaluated as code, and nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runner.analysis.settings import AnalysisConfig
from runner.data import DATASETS
from runner.errors import ConfigError
from runner.models import MODELS
from runner.optimizers import OPTIMIZERS
from runner.range_test.settings import RangeTestConfig
from runner.schedules import Schedule, build_schedule
from runner.tasks import TASKS
from runner.training.logger import check_logger
from runner.training.settings import FaultsConfig, PreviewConfig, TrainerConfig
from runner.typed import from_mapping


@dataclass
class RunConfig:
    task: str
    seed: int
    model: Any
    dataset: Any
    schedule: Schedule
    optimizer: Any
    trainer: TrainerConfig
    preview: PreviewConfig
    analysis: AnalysisConfig
    range_test: RangeTestConfig = field(default_factory=RangeTestConfig)
    faults: FaultsConfig = field(default_factory=FaultsConfig)
    logger: str = "csv"  # csv (metrics.csv and eval.csv only) or tensorboard (event files too)


def _section(cls: type, values: Any, key: str) -> Any:
    if not isinstance(values, Mapping):
        raise ConfigError(f"{key}={values!r}: must be a group of keys")
    obj = from_mapping(cls, values, key)
    obj.check(key)
    return obj


SECTIONS: dict[str, Callable[[Any], Any]] = {
    "model": lambda v: MODELS.config_from(v, "model"),
    "dataset": lambda v: DATASETS.config_from(v, "dataset"),
    "schedule": build_schedule,
    "optimizer": lambda v: OPTIMIZERS.config_from(v, "optimizer"),
    "trainer": lambda v: _section(TrainerConfig, v, "trainer"),
    "preview": lambda v: _section(PreviewConfig, v, "preview"),
    "analysis": lambda v: _section(AnalysisConfig, v, "analysis"),
    "range_test": lambda v: _section(RangeTestConfig, v, "range_test"),
    "faults": lambda v: _section(FaultsConfig, v, "faults"),
}


def plain_values(cfg: Any) -> dict[str, Any]:
    """The composed config without Hydra's own node, interpolations resolved, as plain Python values."""
    from omegaconf import DictConfig, OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if not isinstance(cfg, DictConfig):
        return {k: v for k, v in cfg.items() if k != "hydra"}
    try:
        return {
            k: OmegaConf.to_container(cfg[k], resolve=True) if OmegaConf.is_config(cfg[k]) else cfg[k]
            for k in cfg
            if k != "hydra"
        }
    except OmegaConfBaseException as e:
        raise ConfigError(f"{getattr(e, 'full_key', '?')}: {str(e).splitlines()[0]}") from None


def validate(cfg: Any) -> RunConfig:
    """A checked RunConfig from the composed config (a DictConfig or a plain dict); ConfigError otherwise."""
    values = plain_values(cfg)
    unknown = sorted(set(values) - set(SECTIONS) - {"task", "seed", "logger"})
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown top-level key; allowed: task, seed, logger, {', '.join(SECTIONS)}")
    task = TASKS.entry(values.get("task"), "task").name
    seed = values.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed={seed!r}: must be an integer >= 0")
    missing = [k for k in SECTIONS if k not in values]
    if missing:
        raise ConfigError(f"{missing[0]}: missing config group; choose one with {missing[0]}=NAME")
    sections = {k: build(values[k]) for k, build in SECTIONS.items()}
    logger = check_logger(values.get("logger", RunConfig.logger))
    return RunConfig(task=task, seed=seed, logger=logger, **sections)
