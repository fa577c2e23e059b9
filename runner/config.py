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
from runner.registry import Registry
from runner.schedules import Schedule, build_schedule
from runner.schedules.base import policy_keys, split_unused
from runner.tasks import TASKS
from runner.training.logger import check_logger
from runner.training.settings import FaultsConfig, PreviewConfig, TrainerConfig
from runner.typed import from_mapping, nested_keys

# numpy's global seed (np.random.seed, set for every run in runner/training/build.py) takes 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1


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
    # schedule.* keys set for other policies (a sweep over policies sets shared keys once): not used by this run.
    unused_keys: list[str] = field(default_factory=list)
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
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"seed={seed!r}: must be an integer in [0, {MAX_SEED}] (numpy's seed range)")
    missing = [k for k in SECTIONS if k not in values]
    if missing:
        raise ConfigError(f"{missing[0]}: missing config group; choose one with {missing[0]}=NAME")
    values["schedule"], unused = split_unused(values["schedule"])
    sections = {k: build(values[k]) for k, build in SECTIONS.items()}
    logger = check_logger(values.get("logger", RunConfig.logger))
    run_cfg = RunConfig(task=task, seed=seed, logger=logger, **sections, unused_keys=unused)
    check_across_sections(run_cfg)
    return run_cfg


def check_across_sections(cfg: RunConfig) -> None:
    """Limits that involve two sections: one batch of training images, and the range test's last seed."""
    counted = getattr(cfg.dataset, "train_images", lambda: None)()
    if counted is not None and cfg.task != "preview":
        key, n = counted
        if n < cfg.trainer.batch_size:
            value = getattr(cfg.dataset, key.split(".")[-1])
            raise ConfigError(
                f"{key}={value!r}: leaves {max(n, 0)} training images, fewer than one batch "
                f"(trainer.batch_size={cfg.trainer.batch_size})"
            )
    if cfg.task == "range_test" and cfg.seed + cfg.range_test.seeds - 1 > MAX_SEED:
        raise ConfigError(
            f"range_test.seeds={cfg.range_test.seeds}: with seed={cfg.seed} the last seed passes {MAX_SEED} "
            "(numpy's seed range); choose a lower seed"
        )


# The dataclass behind each section that is not chosen by name (for the keys it takes).
SECTION_CLASSES: dict[str, type] = {
    "trainer": TrainerConfig,
    "preview": PreviewConfig,
    "analysis": AnalysisConfig,
    "range_test": RangeTestConfig,
    "faults": FaultsConfig,
}
CHOSEN_BY_NAME: dict[str, Registry] = {"model": MODELS, "dataset": DATASETS, "optimizer": OPTIMIZERS}


def known_keys(key: str) -> list[str]:
    """The names a config key could have been, next to `key` ("schedule.stepsize" -> every schedule.* key of any
    policy): what a "did you mean" chooses from. Empty for a place that holds no keys of clr-lab's."""
    section, _, rest = key.partition(".")
    if not rest:
        return ["task", "seed", "logger", *SECTIONS]
    if section == "schedule":
        names = {"name", *policy_keys()}
    elif section in CHOSEN_BY_NAME:
        registry = CHOSEN_BY_NAME[section]
        names = {n for option in registry for n in nested_keys(registry.entry(option).config, "")}
    elif section in SECTION_CLASSES:
        names = set(nested_keys(SECTION_CLASSES[section], rest.rpartition(".")[0]))
    else:
        return []
    return sorted(names)
