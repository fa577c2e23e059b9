"""The validated run configuration: every section a typed dataclass, checked before any work starts.

`validate(cfg)` turns Hydra's composed DictConfig into a `RunConfig` or raises ConfigError with one line that
names the key, the value and what is allowed. Schedules live in runner/schedules.py with their own registry; the
other choices (model, dataset, optimizer) are registered here by the short name users type (`model=small_cnn`).
No config string is ever imported or evaluated as code.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

from runner.errors import ConfigError
from runner.schedules import Schedule, build_schedule
from runner.typed import from_mapping, require_choice, require_in

TASKS = ("train", "preview", "range_test")


# ---- models -------------------------------------------------------------------------------------------------
@dataclass
class SmallCNNConfig:
    name: str = "small_cnn"
    channels: list[int] = field(default_factory=lambda: [16, 32])
    dropout: float = 0.0

    def check(self, key: str) -> None:
        if not self.channels or any(c < 1 for c in self.channels):
            raise ConfigError(f"{key}.channels={self.channels!r}: must be a non-empty list of integers >= 1")
        require_in(f"{key}.dropout", self.dropout, 0.0, 1.0, high_open=True)


@dataclass
class LeNet5Config:
    name: str = "lenet5"
    activation: str = "relu"

    def check(self, key: str) -> None:
        require_choice(f"{key}.activation", self.activation, ("relu", "tanh"))


@dataclass
class CifarQuickConfig:
    name: str = "cifar_quick"
    init: str = "torch"

    def check(self, key: str) -> None:
        require_choice(f"{key}.init", self.init, ("torch", "caffe"))


@dataclass
class MLPConfig:
    name: str = "mlp"
    hidden: list[int] = field(default_factory=lambda: [64, 64, 64, 64])
    activation: str = "sigmoid"

    def check(self, key: str) -> None:
        if any(h < 1 for h in self.hidden):
            raise ConfigError(f"{key}.hidden={self.hidden!r}: must be a list of integers >= 1 ([] for a linear model)")
        require_choice(f"{key}.activation", self.activation, ("sigmoid", "tanh", "relu"))


MODELS: dict[str, type] = {"small_cnn": SmallCNNConfig, "lenet5": LeNet5Config, "cifar_quick": CifarQuickConfig,
                           "mlp": MLPConfig}


# ---- datasets -----------------------------------------------------------------------------------------------
@dataclass
class DigitsConfig:
    name: str = "digits"
    val_fraction: float = 0.2
    split_seed: int = 0

    def check(self, key: str) -> None:
        require_in(f"{key}.val_fraction", self.val_fraction, 0.0, 1.0, low_open=True, high_open=True)
        if self.split_seed < 0:
            raise ConfigError(f"{key}.split_seed={self.split_seed!r}: must be an integer >= 0")


@dataclass
class ImageDatasetConfig:
    """A torchvision dataset: files under `root`, official test split as validation, optional seeded subsets."""

    name: str = ""
    root: str = "data"
    download: bool = False
    subset: Optional[int] = None
    val_subset: Optional[int] = None
    split_seed: int = 0

    def check(self, key: str) -> None:
        if not self.root.strip():
            raise ConfigError(f"{key}.root={self.root!r}: must name a folder, e.g. data")
        for name in ("subset", "val_subset"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{key}.{name}={value!r}: must be an integer >= 1 or null (all images)")
        if self.split_seed < 0:
            raise ConfigError(f"{key}.split_seed={self.split_seed!r}: must be an integer >= 0")


@dataclass
class MNISTConfig(ImageDatasetConfig):
    name: str = "mnist"


@dataclass
class FashionMNISTConfig(ImageDatasetConfig):
    name: str = "fashion_mnist"
    system_dir: Optional[str] = "/usr/share/datasets/fashion-mnist"


@dataclass
class CIFAR10Config(ImageDatasetConfig):
    name: str = "cifar10"
    verify: bool = True


DATASETS: dict[str, type] = {"digits": DigitsConfig, "mnist": MNISTConfig, "fashion_mnist": FashionMNISTConfig,
                             "cifar10": CIFAR10Config}


# ---- optimizers ---------------------------------------------------------------------------------------------
@dataclass
class SGDConfig:
    name: str = "sgd"
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4

    def check(self, key: str) -> None:
        require_in(f"{key}.momentum", self.momentum, 0.0, 1.0, high_open=True)
        require_in(f"{key}.weight_decay", self.weight_decay, 0.0, math.inf)
        if self.nesterov and self.momentum == 0:
            raise ConfigError(f"{key}.nesterov=true: needs {key}.momentum > 0")


@dataclass
class AdamConfig:
    name: str = "adam"
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0

    def check(self, key: str) -> None:
        require_in(f"{key}.beta1", self.beta1, 0.0, 1.0, high_open=True)
        require_in(f"{key}.beta2", self.beta2, 0.0, 1.0, high_open=True)
        require_in(f"{key}.eps", self.eps, 0.0, 1.0, low_open=True)
        require_in(f"{key}.weight_decay", self.weight_decay, 0.0, math.inf)


OPTIMIZERS: dict[str, type] = {"sgd": SGDConfig, "adam": AdamConfig}


# ---- trainer, preview, analysis -----------------------------------------------------------------------------
@dataclass
class TrainerConfig:
    epochs: int = 24
    max_steps: Optional[int] = None
    batch_size: int = 32
    eval_batch_size: int = 256
    threads: Optional[int] = None
    progress: bool = True
    flush_every: int = 500
    checkpoint_every: Optional[int] = 200

    def check(self, key: str) -> None:
        if self.epochs < 1:
            raise ConfigError(f"{key}.epochs={self.epochs!r}: must be an integer >= 1")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"{key}.max_steps={self.max_steps!r}: must be an integer >= 1 or null")
        for name in ("batch_size", "eval_batch_size", "flush_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{key}.{name}={getattr(self, name)!r}: must be an integer >= 1")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"{key}.threads={self.threads!r}: must be an integer >= 1 or null (all cores)")
        if self.checkpoint_every is not None and self.checkpoint_every < 1:
            raise ConfigError(f"{key}.checkpoint_every={self.checkpoint_every!r}: must be an integer >= 1 or null "
                              "(null: only at the end)")


@dataclass
class FaultsConfig:
    """Test switches that exercise the failure paths on purpose; all null in real runs."""

    fail_at_step: Optional[int] = None
    nan_at_step: Optional[int] = None
    kill_at_step: Optional[int] = None

    def check(self, key: str) -> None:
        for name in ("fail_at_step", "nan_at_step", "kill_at_step"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"{key}.{name}={value!r}: must be an integer >= 0 or null")


@dataclass
class PreviewConfig:
    steps: int = 8000

    def check(self, key: str) -> None:
        if self.steps < 1:
            raise ConfigError(f"{key}.steps={self.steps!r}: must be an integer >= 1")


@dataclass
class PlateauConfig:
    window: int = 100
    rel_drop: float = 0.05
    escape_drop: float = 0.2

    def check(self, key: str) -> None:
        if self.window < 2:
            raise ConfigError(f"{key}.window={self.window!r}: must be an integer >= 2 (steps)")
        require_in(f"{key}.rel_drop", self.rel_drop, 0.0, 1.0, low_open=True, high_open=True)
        require_in(f"{key}.escape_drop", self.escape_drop, 0.0, 1.0, low_open=True, high_open=True)


@dataclass
class AnalysisConfig:
    smoothing: float = 0.98
    targets: list[float] = field(default_factory=lambda: [0.9, 0.95])
    plateau: PlateauConfig = field(default_factory=PlateauConfig)

    def check(self, key: str) -> None:
        require_in(f"{key}.smoothing", self.smoothing, 0.0, 1.0, high_open=True)
        for i, t in enumerate(self.targets):
            require_in(f"{key}.targets[{i}]", t, 0.0, 1.0, low_open=True)
        self.plateau.check(f"{key}.plateau")


@dataclass
class RangeTestConfig:
    min_lr: float = 1e-4
    max_lr: float = 10.0
    steps: int = 400
    mode: str = "exponential"
    smoothing: float = 0.9
    diverge_factor: float = 4.0
    improve_fraction: float = 0.1
    eval_every: int = 25
    eval_size: int = 1000

    def check(self, key: str) -> None:
        require_in(f"{key}.min_lr", self.min_lr, 0.0, math.inf, low_open=True, high_open=True)
        if not (math.isfinite(self.max_lr) and self.max_lr > self.min_lr):
            raise ConfigError(f"{key}.max_lr={self.max_lr!r}: must be finite and above {key}.min_lr={self.min_lr!r}")
        if self.steps < 10:
            raise ConfigError(f"{key}.steps={self.steps!r}: must be an integer >= 10")
        require_choice(f"{key}.mode", self.mode, ("linear", "exponential"))
        require_in(f"{key}.smoothing", self.smoothing, 0.0, 1.0, high_open=True)
        require_in(f"{key}.diverge_factor", self.diverge_factor, 1.0, math.inf, low_open=True, high_open=True)
        require_in(f"{key}.improve_fraction", self.improve_fraction, 0.0, 1.0, low_open=True, high_open=True)
        for name in ("eval_every", "eval_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{key}.{name}={getattr(self, name)!r}: must be an integer >= 1")


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


def _choice(registry: Mapping[str, type], values: Any, key: str, group: str) -> Any:
    if not isinstance(values, Mapping):
        raise ConfigError(f"{key}={values!r}: must be a config group; choose one with {group}=NAME")
    name = values.get("name")
    if name not in registry:
        raise ConfigError(f"{key}.name={name!r}: unknown {group}; allowed: {', '.join(sorted(registry))}")
    obj = from_mapping(registry[name], values, key)
    obj.check(key)
    return obj


def _section(cls: type, values: Any, key: str) -> Any:
    if not isinstance(values, Mapping):
        raise ConfigError(f"{key}={values!r}: must be a group of keys")
    obj = from_mapping(cls, values, key)
    obj.check(key)
    return obj


SECTIONS: dict[str, Callable[[Any], Any]] = {
    "model": lambda v: _choice(MODELS, v, "model", "model"),
    "dataset": lambda v: _choice(DATASETS, v, "dataset", "dataset"),
    "schedule": build_schedule,
    "optimizer": lambda v: _choice(OPTIMIZERS, v, "optimizer", "optimizer"),
    "trainer": lambda v: _section(TrainerConfig, v, "trainer"),
    "preview": lambda v: _section(PreviewConfig, v, "preview"),
    "analysis": lambda v: _section(AnalysisConfig, v, "analysis"),
    "range_test": lambda v: _section(RangeTestConfig, v, "range_test"),
    "faults": lambda v: _section(FaultsConfig, v, "faults"),
}


def validate(cfg: Any) -> RunConfig:
    """A checked RunConfig from the composed config (a DictConfig or a plain dict); ConfigError otherwise."""
    from omegaconf import DictConfig, OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(cfg, DictConfig):
        try:
            values = {k: OmegaConf.to_container(cfg[k], resolve=True) if OmegaConf.is_config(cfg[k]) else cfg[k]
                      for k in cfg if k != "hydra"}
        except OmegaConfBaseException as e:
            raise ConfigError(f"{getattr(e, 'full_key', '?')}: {str(e).splitlines()[0]}") from None
    else:
        values = {k: v for k, v in cfg.items() if k != "hydra"}
    unknown = sorted(set(values) - set(SECTIONS) - {"task", "seed"})
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown top-level key; allowed: task, seed, {', '.join(SECTIONS)}")
    task = values.get("task")
    if task not in TASKS:
        raise ConfigError(f"task={task!r}: unknown task; allowed: {', '.join(TASKS)}")
    seed = values.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed={seed!r}: must be an integer >= 0")
    missing = [k for k in SECTIONS if k not in values]
    if missing:
        raise ConfigError(f"{missing[0]}: missing config group; choose one with {missing[0]}=NAME")
    sections = {k: build(values[k]) for k, build in SECTIONS.items()}
    return RunConfig(task=task, seed=seed, **sections)
