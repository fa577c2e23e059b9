"""Learning-rate policies as pure functions of the optimizer step.

Smith (2017), "Cyclical Learning Rates for Training Neural Networks"; the same numbers as bckenstler/CLR and
torch.optim.lr_scheduler.CyclicLR:

    cycle = floor(1 + it / (2 * step_size))
    x     = |it / step_size - 2 * cycle + 1|
    lr    = base_lr + (max_lr - base_lr) * max(0, 1 - x) * scale(cycle or it)

`it` counts optimizer steps from 0 and lr(it) is the LR used for step `it`, so lr(0) = base_lr.

Each policy is a dataclass registered by name: its fields are the config keys (schedule.*), `check()` holds the
range checks, `lr_at(it)` the formula. Nothing here imports torch or Hydra, so previews and tests stay light.

    >>> from runner.schedules import build_schedule
    >>> s = build_schedule({"name": "triangular", "base_lr": 0.001, "max_lr": 0.006, "step_size": 20})
    >>> [round(s.lr_at(i), 6) for i in (0, 10, 20, 30, 40)]
    [0.001, 0.0035, 0.006, 0.0035, 0.001]
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable, ClassVar, Optional

from runner.errors import ConfigError
from runner.typed import from_mapping

SCHEDULES: dict[str, type["Schedule"]] = {}


def register(name: str) -> Callable[[type], type]:
    """Add a policy to the registry under the name users pass as `schedule=NAME`."""

    def add(cls: type) -> type:
        SCHEDULES[name] = cls
        return cls

    return add


def build_schedule(values: dict, key: str = "schedule") -> "Schedule":
    """A checked policy from plain config values ({"name": ..., field: value, ...})."""
    if not isinstance(values, dict):
        raise ConfigError(f"{key}={values!r}: must be a config group; choose one with {key}=NAME")
    name = values.get("name")
    if name not in SCHEDULES:
        raise ConfigError(f"{key}.name={name!r}: unknown schedule; allowed: {', '.join(sorted(SCHEDULES))}")
    schedule = from_mapping(SCHEDULES[name], values, key)
    schedule.check(key)
    return schedule


def cycle_of(it: int, step_size: int) -> int:
    """1-based cycle number of step `it`: a cycle is 2 * step_size steps (up, then down)."""
    return math.floor(1 + it / (2 * step_size))


def triangle(it: int, step_size: int) -> float:
    """Position in the triangle, 0 at base_lr and 1 at max_lr."""
    x = abs(it / step_size - 2 * cycle_of(it, step_size) + 1)
    return max(0.0, 1.0 - x)


def _require_positive(key: str, value: float) -> None:
    if not value > 0 or not math.isfinite(value):
        raise ConfigError(f"{key}={value!r}: must be a finite number > 0")


@dataclass
class Schedule:
    """Shared shape of every policy; subclasses add their keys and the formula."""

    name: str = ""
    cyclic: ClassVar[bool] = False

    def check(self, key: str = "schedule") -> None:
        """Range checks; raise ConfigError naming `key.field`."""

    def resolve(self, iters_per_epoch: int, total_steps: int) -> "Schedule":
        """The same policy with every length in optimizer steps (epochs converted, run length known)."""
        return self

    def lr_at(self, it: int) -> float:
        raise NotImplementedError

    def momentum_at(self, it: int) -> Optional[float]:
        """The momentum (SGD) or beta1 (Adam) for step `it`, or None to leave the optimizer's own value."""
        return None

    def cycle(self, it: int) -> int:
        """Cycle number for the records; 0 for policies without cycles."""
        return 0

    def cycle_length(self) -> Optional[int]:
        """Steps per cycle, or None for policies without cycles."""
        return None


@register("constant")
@dataclass
class Constant(Schedule):
    """A fixed LR: the control every cyclical run is compared against."""

    name: str = "constant"
    lr: float = 0.01

    def check(self, key: str = "schedule") -> None:
        _require_positive(f"{key}.lr", self.lr)

    def lr_at(self, it: int) -> float:
        return self.lr


@dataclass
class Cyclical(Schedule):
    """Smith's triangle between base_lr and max_lr; subclasses choose how the amplitude scales."""

    base_lr: float = 0.001
    max_lr: float = 0.006
    step_size: Optional[int] = None  # half a cycle, in optimizer steps
    step_size_epochs: Optional[float] = None  # half a cycle, in epochs (Smith: 2-8)
    cyclic: ClassVar[bool] = True

    def check(self, key: str = "schedule") -> None:
        _require_positive(f"{key}.base_lr", self.base_lr)
        _require_positive(f"{key}.max_lr", self.max_lr)
        if self.base_lr >= self.max_lr:
            raise ConfigError(
                f"{key}.base_lr={self.base_lr!r}: must be below {key}.max_lr={self.max_lr!r}"
            )
        if (self.step_size is None) == (self.step_size_epochs is None):
            raise ConfigError(
                f"{key}.step_size={self.step_size!r}, {key}.step_size_epochs={self.step_size_epochs!r}: "
                f"set exactly one (the other to null), e.g. {key}.step_size=null {key}.step_size_epochs=4"
            )
        if self.step_size is not None and self.step_size < 1:
            raise ConfigError(f"{key}.step_size={self.step_size!r}: must be an integer >= 1 (optimizer steps)")
        if self.step_size_epochs is not None and not (
            self.step_size_epochs > 0 and math.isfinite(self.step_size_epochs)
        ):
            raise ConfigError(f"{key}.step_size_epochs={self.step_size_epochs!r}: must be a number > 0 (epochs)")

    def resolve(self, iters_per_epoch: int, total_steps: int) -> "Cyclical":
        if self.step_size is not None:
            return self
        return dataclasses.replace(
            self, step_size=max(1, round(self.step_size_epochs * iters_per_epoch)), step_size_epochs=None
        )

    def _step_size(self) -> int:
        if self.step_size is None:
            raise ValueError("step_size_epochs is unresolved: call resolve(iters_per_epoch) first")
        return self.step_size

    def scale(self, cycle: int, it: int) -> float:
        return 1.0

    def lr_at(self, it: int) -> float:
        step_size = self._step_size()
        cycle = cycle_of(it, step_size)
        amplitude = (self.max_lr - self.base_lr) * triangle(it, step_size)
        return self.base_lr + amplitude * self.scale(cycle, it)

    def cycle(self, it: int) -> int:
        return cycle_of(it, self._step_size())

    def cycle_length(self) -> Optional[int]:
        return 2 * self._step_size()


@register("triangular")
@dataclass
class Triangular(Cyclical):
    """Full amplitude in every cycle."""

    name: str = "triangular"


@register("triangular2")
@dataclass
class Triangular2(Cyclical):
    """Amplitude halves at each new cycle: 1, 1/2, 1/4, ..."""

    name: str = "triangular2"

    def scale(self, cycle: int, it: int) -> float:
        return 1.0 / 2.0 ** (cycle - 1)


@register("exp_range")
@dataclass
class ExpRange(Cyclical):
    """Amplitude times gamma**it (by iteration), as in bckenstler/CLR and torch's CyclicLR."""

    name: str = "exp_range"
    gamma: float = 0.99994

    def check(self, key: str = "schedule") -> None:
        super().check(key)
        if not 0 < self.gamma <= 1:
            raise ConfigError(f"{key}.gamma={self.gamma!r}: must be in (0, 1]")

    def scale(self, cycle: int, it: int) -> float:
        return self.gamma**it
