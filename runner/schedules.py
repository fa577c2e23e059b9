"""Learning-rate (and momentum) policies as pure functions of the optimizer step.

Smith (2017), "Cyclical Learning Rates for Training Neural Networks"; the same numbers as bckenstler/CLR and
torch.optim.lr_scheduler.CyclicLR:

    cycle = floor(1 + it / (2 * step_size))
    x     = |it / step_size - 2 * cycle + 1|
    lr    = base_lr + (max_lr - base_lr) * max(0, 1 - x) * scale(cycle or it)

`it` counts optimizer steps from 0 and lr(it) is the LR used for step `it`, so lr(0) = base_lr.

Each policy is a dataclass registered by name: its fields are the config keys (schedule.*), `check()` holds the
range checks, `lr_at(it)` the formula. Lengths given in epochs (fields ending in _epochs) and lengths that default
to the run (one_cycle's total_steps) are turned into steps by `resolve(iters_per_epoch, total_steps)`. Nothing here
imports torch or Hydra, so previews and tests stay light. docs/schedules.md lists every policy and key.

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

from runner import scale_fns
from runner.errors import ConfigError
from runner.typed import from_mapping, require_choice, require_in, require_positive

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
    schedule = from_mapping(SCHEDULES[name], with_bounds_from(values, key), key)
    schedule.check(key)
    return schedule


def with_bounds_from(values: dict, key: str) -> dict:
    """schedule.bounds_from=PATH: base_lr and max_lr from a range test's range_test.json (or its folder).

    The file's bounds replace base_lr and max_lr, explicit ones included: a run that names a range test uses
    exactly what that test suggested, and metrics.csv shows it. To set a bound by hand, leave bounds_from null.
    """
    path = values.get("bounds_from")
    if not isinstance(path, str):  # null, or a wrong type that from_mapping reports with the key
        return values
    from runner.bounds import read_bounds

    base_lr, max_lr = read_bounds(path, f"{key}.bounds_from")
    return {**values, "base_lr": base_lr, "max_lr": max_lr}


# ---- pure formulas ------------------------------------------------------------------------------------------
def cycle_of(it: int, step_size: int, step_size_down: Optional[int] = None) -> int:
    """1-based cycle number of step `it`: a cycle is step_size steps up, then step_size_down (default: the same)."""
    down = step_size if step_size_down is None else step_size_down
    return math.floor(1 + it / (step_size + down))


def triangle(it: int, step_size: int, step_size_down: Optional[int] = None) -> float:
    """Position in the triangle, 0 at base_lr and 1 at max_lr; with step_size_down == step_size this is Smith's
    max(0, 1 - |it / step_size - 2 * cycle + 1|), and torch's CyclicLR with step_size_up/step_size_down."""
    down = step_size if step_size_down is None else step_size_down
    # 1) steps since the current cycle began
    pos = it - (cycle_of(it, step_size, down) - 1) * (step_size + down)
    # 2) rising for step_size steps, 3) then falling for step_size_down steps
    return pos / step_size if pos <= step_size else (step_size + down - pos) / down


def in_steps(steps: Optional[int], epochs: Optional[float], iters_per_epoch: Optional[int],
             key: str) -> Optional[int]:
    """A length given in steps or in epochs, in optimizer steps (at least 1)."""
    if steps is not None or epochs is None:
        return steps
    if iters_per_epoch is None:
        raise ValueError(f"{key}_epochs needs iters_per_epoch: call resolve(iters_per_epoch, total_steps) first")
    return max(1, round(epochs * iters_per_epoch))


# ---- range checks: each raises one line naming the key --------------------------------------------------------
def _check_length(key: str, name: str, steps: Optional[int], epochs: Optional[float], required: bool) -> None:
    """`name` in steps or `name`_epochs: exactly one (required) or at most one of the two set."""
    both = steps is not None and epochs is not None
    if both or (required and steps is None and epochs is None):
        how = "exactly one" if required else "at most one"
        raise ConfigError(f"{key}.{name}={steps!r}, {key}.{name}_epochs={epochs!r}: must set {how} of the two (the other null), "
                          f"e.g. {key}.{name}=null {key}.{name}_epochs=4")
    if steps is not None and steps < 1:
        raise ConfigError(f"{key}.{name}={steps!r}: must be an integer >= 1 (optimizer steps)")
    if epochs is not None and not (epochs > 0 and math.isfinite(epochs)):
        raise ConfigError(f"{key}.{name}_epochs={epochs!r}: must be a number > 0 (epochs)")


def _check_momentum(key: str, policy) -> None:
    require_in(f"{key}.base_momentum", policy.base_momentum, 0.0, 1.0, high_open=True)
    require_in(f"{key}.max_momentum", policy.max_momentum, 0.0, 1.0, high_open=True)
    if policy.base_momentum > policy.max_momentum:
        raise ConfigError(f"{key}.base_momentum={policy.base_momentum!r}: must not exceed "
                          f"{key}.max_momentum={policy.max_momentum!r} (momentum falls as the LR rises)")


# ---- the policies ---------------------------------------------------------------------------------------------
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
        """Steps per cycle, or None for policies without cycles (or with cycles of changing length: sgdr)."""
        return None

    def cycle_ends(self, steps: int) -> list[int]:
        """Steps in 1..steps at which a cycle ends (the LR is back at its low), including cycles of changing
        length; a training loop evaluates there."""
        length = self.cycle_length()
        if length:
            return list(range(length, steps + 1, length))
        return [s for s in range(1, steps + 1) if self.cycle(s) != self.cycle(s - 1)]


@register("constant")
@dataclass
class Constant(Schedule):
    """A fixed LR: the control every cyclical run is compared against."""

    name: str = "constant"
    lr: float = 0.01

    def check(self, key: str = "schedule") -> None:
        require_positive(f"{key}.lr", self.lr)

    def lr_at(self, it: int) -> float:
        return self.lr


@dataclass
class Cyclical(Schedule):
    """Smith's triangle between base_lr and max_lr (up step_size steps, down step_size_down); subclasses choose
    how the amplitude scales. Momentum, when cycled, mirrors the LR between max_momentum and base_momentum."""

    base_lr: float = 0.001
    max_lr: float = 0.006
    step_size: Optional[int] = None  # the rising half, in optimizer steps (torch's step_size_up)
    step_size_epochs: Optional[float] = None  # the rising half, in epochs (Smith: 2-8)
    step_size_down: Optional[int] = None  # the falling half; null with step_size_down_epochs: = step_size
    step_size_down_epochs: Optional[float] = None
    bounds_from: Optional[str] = None  # a range_test.json (or its folder): base_lr and max_lr come from it
    cycle_momentum: bool = False
    base_momentum: float = 0.8
    max_momentum: float = 0.9
    cyclic: ClassVar[bool] = True

    def check(self, key: str = "schedule") -> None:
        require_positive(f"{key}.base_lr", self.base_lr)
        require_positive(f"{key}.max_lr", self.max_lr)
        if self.base_lr >= self.max_lr:
            raise ConfigError(f"{key}.base_lr={self.base_lr!r}: must be below {key}.max_lr={self.max_lr!r}")
        _check_length(key, "step_size", self.step_size, self.step_size_epochs, required=True)
        _check_length(key, "step_size_down", self.step_size_down, self.step_size_down_epochs, required=False)
        _check_momentum(key, self)

    def resolve(self, iters_per_epoch: int, total_steps: int) -> "Cyclical":
        return dataclasses.replace(
            self, step_size=in_steps(self.step_size, self.step_size_epochs, iters_per_epoch, "step_size"),
            step_size_epochs=None, step_size_down_epochs=None,
            step_size_down=in_steps(self.step_size_down, self.step_size_down_epochs, iters_per_epoch,
                                    "step_size_down"))

    def _steps(self) -> tuple[int, int]:
        if self.step_size is None or (self.step_size_down is None and self.step_size_down_epochs is not None):
            raise ValueError("a step size is in epochs: call resolve(iters_per_epoch, total_steps) first")
        return self.step_size, self.step_size if self.step_size_down is None else self.step_size_down

    def scale(self, cycle: int, it: int) -> float:
        return 1.0

    def lr_at(self, it: int) -> float:
        up, down = self._steps()
        # 4) the amplitude, scaled by cycle or by iteration, rides on base_lr
        amplitude = (self.max_lr - self.base_lr) * triangle(it, up, down)
        return self.base_lr + amplitude * self.scale(cycle_of(it, up, down), it)

    def momentum_at(self, it: int) -> Optional[float]:
        if not self.cycle_momentum:
            return None
        up, down = self._steps()
        # 5) momentum moves against the LR: max_momentum at base_lr, base_momentum at the (scaled) peak
        amplitude = (self.max_momentum - self.base_momentum) * triangle(it, up, down)
        return self.max_momentum - amplitude * self.scale(cycle_of(it, up, down), it)

    def cycle(self, it: int) -> int:
        return cycle_of(it, *self._steps())

    def cycle_length(self) -> Optional[int]:
        return sum(self._steps())


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
    scale_mode: str = "cycle"  # only cycle: by iterations the LR collapses (refused with the reason)

    def check(self, key: str = "schedule") -> None:
        super().check(key)
        scale_fns.check_mode("halve_per_cycle", self.scale_mode, key)

    def scale(self, cycle: int, it: int) -> float:
        return scale_fns.halve_per_cycle(cycle, 1.0)


@register("exp_range")
@dataclass
class ExpRange(Cyclical):
    """Amplitude times gamma**it (by iteration), as in bckenstler/CLR and torch's CyclicLR; base_lr stays."""

    name: str = "exp_range"
    gamma: float = 0.99994
    scale_mode: str = "iterations"  # gamma**it as bckenstler and torch; cycle: gamma**cycle

    def check(self, key: str = "schedule") -> None:
        super().check(key)
        require_in(f"{key}.gamma", self.gamma, 0.0, 1.0, low_open=True)
        require_choice(f"{key}.scale_mode", self.scale_mode, scale_fns.MODES)

    def scale(self, cycle: int, it: int) -> float:
        return self.gamma ** (cycle if self.scale_mode == "cycle" else it)


@register("exp_range_bounds")
@dataclass
class ExpRangeBounds(Cyclical):
    """Both bounds decay by gamma**it, as Smith's paper text describes exp_range: the whole triangle shrinks."""

    name: str = "exp_range_bounds"
    gamma: float = 0.999

    def check(self, key: str = "schedule") -> None:
        super().check(key)
        require_in(f"{key}.gamma", self.gamma, 0.0, 1.0, low_open=True)

    def lr_at(self, it: int) -> float:
        # 6) base_lr * gamma**it + (max_lr - base_lr) * gamma**it * triangle: Smith's triangle, shrunk
        return self.gamma**it * super().lr_at(it)


@register("clr")
@dataclass
class CLR(Cyclical):
    """The general form: the triangle times a scale function chosen by name (runner/scale_fns.py)."""

    name: str = "clr"
    scale_fn: str = "exp_gamma"
    scale_mode: str = "cycle"
    gamma: float = 1.0

    def check(self, key: str = "schedule") -> None:
        super().check(key)
        require_in(f"{key}.gamma", self.gamma, 0.0, 1.0, low_open=True)
        scale_fns.check_mode(self.scale_fn, self.scale_mode, key)

    def scale(self, cycle: int, it: int) -> float:
        x = cycle if self.scale_mode == "cycle" else it
        return scale_fns.get_scale_fn(self.scale_fn)(x, self.gamma)


# The policies people compare CLR against live in their own module; importing it registers them here.
from runner import baselines  # noqa: E402,F401  (after the base classes it builds on)
