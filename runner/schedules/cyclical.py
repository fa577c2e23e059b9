"""The CLR family: Smith's triangle between base_lr and max_lr, and how its amplitude scales.

triangular        full amplitude in every cycle
triangular2       the amplitude halves each cycle
exp_range         the amplitude times gamma**it; base_lr stays (bckenstler/CLR, torch's CyclicLR)
exp_range_bounds  both bounds times gamma**it: the whole triangle shrinks (Smith's paper text)
clr               the triangle times a scale function chosen by name (runner/schedules/scale_fns.py)

>>> from runner.schedules import build_schedule
>>> s = build_schedule({"name": "triangular", "base_lr": 0.001, "max_lr": 0.006, "step_size": 20})
>>> [round(s.lr_at(i), 6) for i in (0, 10, 20, 30, 40)]
[0.001, 0.0035, 0.006, 0.0035, 0.001]
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from runner.errors import ConfigError
from runner.schedules import scale_fns
from runner.schedules.base import SCHEDULES, Schedule, check_length, check_momentum, cycle_of, in_steps, triangle
from runner.typed import require_choice, require_in, require_positive


@dataclass
class Cyclical(Schedule):
    """Smith's triangle between base_lr and max_lr (up step_size steps, down step_size_down); subclasses choose
    how the amplitude scales. Momentum, when cycled, mirrors the LR between max_momentum and base_momentum."""

    base_lr: float = 0.01
    max_lr: float = 0.1
    step_size: int | None = None  # the rising half, in optimizer steps (torch's step_size_up); wins when set
    step_size_epochs: float | None = 4.0  # the rising half, in epochs (Smith: 2-8)
    step_size_down: int | None = None  # the falling half; null with step_size_down_epochs: = step_size
    step_size_down_epochs: float | None = None
    bounds_from: str | None = None  # a range_test.json (or its folder): base_lr and max_lr come from it
    cycle_momentum: bool = False
    base_momentum: float = 0.8
    max_momentum: float = 0.9
    cyclic: ClassVar[bool] = True

    def check(self, key: str = "schedule") -> None:
        require_positive(f"{key}.base_lr", self.base_lr)
        require_positive(f"{key}.max_lr", self.max_lr)
        if self.base_lr >= self.max_lr:
            raise ConfigError(f"{key}.base_lr={self.base_lr!r}: must be below {key}.max_lr={self.max_lr!r}")
        check_length(key, "step_size", self.step_size, self.step_size_epochs, required=True)
        check_length(key, "step_size_down", self.step_size_down, self.step_size_down_epochs, required=False)
        check_momentum(key, self)

    def resolve(self, iters_per_epoch: int, total_steps: int) -> Cyclical:
        return dataclasses.replace(
            self,
            step_size=in_steps(self.step_size, self.step_size_epochs, iters_per_epoch, "step_size"),
            step_size_epochs=None,
            step_size_down_epochs=None,
            step_size_down=in_steps(self.step_size_down, self.step_size_down_epochs, iters_per_epoch, "step_size_down"),
        )

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

    def momentum_at(self, it: int) -> float | None:
        if not self.cycle_momentum:
            return None
        up, down = self._steps()
        # 5) momentum moves against the LR: max_momentum at base_lr, base_momentum at the (scaled) peak
        amplitude = (self.max_momentum - self.base_momentum) * triangle(it, up, down)
        return self.max_momentum - amplitude * self.scale(cycle_of(it, up, down), it)

    def cycle(self, it: int) -> int:
        return cycle_of(it, *self._steps())

    def cycle_length(self) -> int | None:
        return sum(self._steps())


@SCHEDULES.register("triangular")
@dataclass
class Triangular(Cyclical):
    """Full amplitude in every cycle."""

    name: str = "triangular"


@SCHEDULES.register("triangular2")
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


@SCHEDULES.register("exp_range")
@dataclass
class ExpRange(Cyclical):
    """Amplitude times gamma**it (by iteration), as in bckenstler/CLR and torch's CyclicLR; base_lr stays."""

    name: str = "exp_range"
    gamma: float = 0.999
    scale_mode: str = "iterations"  # gamma**it as bckenstler and torch; cycle: gamma**cycle

    def check(self, key: str = "schedule") -> None:
        super().check(key)
        require_in(f"{key}.gamma", self.gamma, 0.0, 1.0, low_open=True)
        require_choice(f"{key}.scale_mode", self.scale_mode, scale_fns.MODES)

    def scale(self, cycle: int, it: int) -> float:
        return self.gamma ** (cycle if self.scale_mode == "cycle" else it)


@SCHEDULES.register("exp_range_bounds")
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


@SCHEDULES.register("clr")
@dataclass
class CLR(Cyclical):
    """The general form: the triangle times a scale function chosen by name (runner/scale_fns.py)."""

    name: str = "clr"
    scale_fn: str = "exp_gamma"
    scale_mode: str = "cycle"
    gamma: float = 1.0  # exp_gamma with gamma 1 is Smith's triangular: choose a decay to make it more

    def check(self, key: str = "schedule") -> None:
        super().check(key)
        require_in(f"{key}.gamma", self.gamma, 0.0, 1.0, low_open=True)
        scale_fns.check_mode(self.scale_fn, self.scale_mode, key)

    def scale(self, cycle: int, it: int) -> float:
        x = cycle if self.scale_mode == "cycle" else it
        return scale_fns.get_scale_fn(self.scale_fn)(x, self.gamma)
