"""The baselines a cyclical schedule is judged against: a constant LR, one_cycle, cosine annealing with warm restarts
(sgdr), a linear decay and a step decay ("fixed"). Each is a registered dataclass like the CLR family in
runner/schedules/cyclical.py, matching torch's OneCycleLR, CosineAnnealingWarmRestarts, StepLR and MultiStepLR to 1e-9
(tests/schedules/test_torch_parity.py). Pure: no torch, no Hydra.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import ClassVar

from runner.errors import ConfigError
from runner.schedules.base import SCHEDULES, Schedule, check_length, check_momentum, in_steps
from runner.typed import require_choice, require_in, require_positive


@SCHEDULES.register("constant")
@dataclass
class Constant(Schedule):
    """A fixed LR: the control every cyclical run is compared against."""

    name: str = "constant"
    lr: float = 0.05

    def check(self, key: str = "schedule") -> None:
        require_positive(f"{key}.lr", self.lr)

    def lr_at(self, it: int) -> float:
        return self.lr


def anneal_cos(start: float, end: float, pct: float) -> float:
    """Half a cosine from `start` (pct 0) to `end` (pct 1), as torch's OneCycleLR."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def anneal_linear(start: float, end: float, pct: float) -> float:
    return (end - start) * pct + start


ANNEAL = {"cos": anneal_cos, "linear": anneal_linear}


@SCHEDULES.register("one_cycle")
@dataclass
class OneCycle(Schedule):
    """Smith's 1cycle (2018) with torch's OneCycleLR numbers: warm up from max_lr/div_factor to max_lr over
    pct_start of the run, then anneal to max_lr/div_factor/final_div_factor (three_phase: back down to the start
    first, then the last stretch to the minimum). Momentum mirrors the LR."""

    name: str = "one_cycle"
    max_lr: float = 0.1
    total_steps: int | None = None  # null: the run's length (trainer steps, or preview.steps)
    pct_start: float = 0.3
    anneal_strategy: str = "cos"
    div_factor: float = 10.0
    final_div_factor: float = 1e4
    three_phase: bool = False
    cycle_momentum: bool = True
    base_momentum: float = 0.85
    max_momentum: float = 0.95

    def check(self, key: str = "schedule") -> None:
        require_positive(f"{key}.max_lr", self.max_lr)
        if self.total_steps is not None and self.total_steps < 2:
            raise ConfigError(f"{key}.total_steps={self.total_steps!r}: must be an integer >= 2 or null (the run)")
        require_in(f"{key}.pct_start", self.pct_start, 0.0, 1.0, low_open=True, high_open=True)
        if self.three_phase and self.pct_start >= 0.5:
            raise ConfigError(
                f"{key}.pct_start={self.pct_start!r}: must be below 0.5 with three_phase=true "
                f"(up and back down take 2 * pct_start of the run)"
            )
        require_choice(f"{key}.anneal_strategy", self.anneal_strategy, tuple(ANNEAL))
        require_in(f"{key}.div_factor", self.div_factor, 1.0, math.inf, high_open=True, why="max_lr / first LR")
        require_in(
            f"{key}.final_div_factor", self.final_div_factor, 1.0, math.inf, high_open=True, why="first LR / last LR"
        )
        check_momentum(key, self)
        if self.total_steps is not None and self.pct_start * self.total_steps <= 1:
            raise ConfigError(
                f"{key}.pct_start={self.pct_start!r}: with total_steps={self.total_steps} the warm-up "
                f"would not last a step; pct_start * total_steps must exceed 1"
            )

    def resolve(self, iters_per_epoch: int, total_steps: int) -> OneCycle:
        if self.total_steps is not None:
            return self
        resolved = dataclasses.replace(self, total_steps=total_steps)
        resolved.check()  # the run's length may be too short for the warm-up
        return resolved

    def _phases(self) -> list[tuple[float, float, float, float, float]]:
        """(end_step, start_lr, end_lr, start_momentum, end_momentum) per phase, as torch's OneCycleLR."""
        if self.total_steps is None:
            raise ValueError("one_cycle needs the run's length: call resolve(iters_per_epoch, total_steps) first")
        initial_lr = self.max_lr / self.div_factor
        min_lr = initial_lr / self.final_div_factor
        warm_end = float(self.pct_start * self.total_steps) - 1
        hi, lo = self.max_momentum, self.base_momentum
        if self.three_phase:
            return [
                (warm_end, initial_lr, self.max_lr, hi, lo),
                (float(2 * self.pct_start * self.total_steps) - 2, self.max_lr, initial_lr, lo, hi),
                (self.total_steps - 1, initial_lr, min_lr, hi, hi),
            ]
        return [(warm_end, initial_lr, self.max_lr, hi, lo), (self.total_steps - 1, self.max_lr, min_lr, lo, hi)]

    def _at(self, it: int, lr: bool) -> float:
        phases = self._phases()
        # 7) past the end the final values hold (torch raises instead)
        it = min(it, self.total_steps - 1)
        start = 0.0
        for i, (end, lr0, lr1, m0, m1) in enumerate(phases):
            if it <= end or i == len(phases) - 1:
                # 8) the phase's fraction done, then cosine or linear annealing between its ends
                pct = (it - start) / (end - start)
                a, b = (lr0, lr1) if lr else (m0, m1)
                return ANNEAL[self.anneal_strategy](a, b, pct)
            start = end
        raise AssertionError("unreachable")

    def lr_at(self, it: int) -> float:
        return self._at(it, lr=True)

    def momentum_at(self, it: int) -> float | None:
        return self._at(it, lr=False) if self.cycle_momentum else None

    def cycle(self, it: int) -> int:
        return 1

    def cycle_length(self) -> int | None:
        return self.total_steps


@SCHEDULES.register("sgdr")
@dataclass
class SGDR(Schedule):
    """Cosine annealing with warm restarts (Loshchilov & Hutter 2017; torch's CosineAnnealingWarmRestarts stepped
    once per optimizer step): from max_lr down to eta_min over T_0 steps, restart, each period T_mult times longer."""

    name: str = "sgdr"
    max_lr: float = 0.1
    eta_min: float = 0.0
    T_0: int | None = None  # the first period in optimizer steps; wins when set
    T_0_epochs: float | None = 1.6
    T_mult: int = 2

    def check(self, key: str = "schedule") -> None:
        require_positive(f"{key}.max_lr", self.max_lr)
        if not (0 <= self.eta_min < self.max_lr):
            raise ConfigError(f"{key}.eta_min={self.eta_min!r}: must be in [0, {key}.max_lr={self.max_lr!r})")
        check_length(key, "T_0", self.T_0, self.T_0_epochs, required=True)
        if self.T_mult < 1:
            raise ConfigError(f"{key}.T_mult={self.T_mult!r}: must be an integer >= 1 (1: equal periods)")

    def resolve(self, iters_per_epoch: int, total_steps: int) -> SGDR:
        return dataclasses.replace(
            self, T_0=in_steps(self.T_0, self.T_0_epochs, iters_per_epoch, "T_0"), T_0_epochs=None
        )

    def _period(self, it: int) -> tuple[int, int, int]:
        """(period number from 1, steps into it T_cur, its length T_i)."""
        if self.T_0 is None:
            raise ValueError("T_0_epochs is unresolved: call resolve(iters_per_epoch, total_steps) first")
        if self.T_mult == 1:
            return 1 + it // self.T_0, it % self.T_0, self.T_0
        period, t_cur, t_i = 1, it, self.T_0
        while t_cur >= t_i:
            period, t_cur, t_i = period + 1, t_cur - t_i, t_i * self.T_mult
        return period, t_cur, t_i

    def lr_at(self, it: int) -> float:
        _, t_cur, t_i = self._period(it)
        # 9) half a cosine from max_lr to eta_min within the period
        return self.eta_min + (self.max_lr - self.eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2

    def cycle(self, it: int) -> int:
        return self._period(it)[0]

    def cycle_length(self) -> int | None:
        return self.T_0 if self.T_mult == 1 else None

    def cycle_ends(self, steps: int) -> list[int]:
        """The restarts, period by period (T_0, then T_mult times longer each), without a scan over every step."""
        if self.T_mult == 1:
            return super().cycle_ends(steps)
        ends, end, period = [], 0, self.T_0
        while end + period <= steps:
            end += period
            ends.append(end)
            period *= self.T_mult
        return ends


@SCHEDULES.register("linear_decay")
@dataclass
class LinearDecay(Schedule):
    """Smith's "decay" control (2017, Table 1): the LR falls linearly from max_lr to base_lr over step_size steps,
    then stays at base_lr. It asks whether CLR helps only because its LR comes down. Both lengths null: the run."""

    name: str = "linear_decay"
    max_lr: float = 0.1
    base_lr: float = 0.01
    step_size: int | None = None
    step_size_epochs: float | None = None

    def check(self, key: str = "schedule") -> None:
        require_positive(f"{key}.base_lr", self.base_lr)
        require_positive(f"{key}.max_lr", self.max_lr)
        if self.base_lr > self.max_lr:
            raise ConfigError(f"{key}.base_lr={self.base_lr!r}: must not exceed {key}.max_lr={self.max_lr!r}")
        check_length(key, "step_size", self.step_size, self.step_size_epochs, required=False)

    def resolve(self, iters_per_epoch: int, total_steps: int) -> LinearDecay:
        steps = in_steps(self.step_size, self.step_size_epochs, iters_per_epoch, "step_size")
        return dataclasses.replace(
            self, step_size=max(1, total_steps) if steps is None else steps, step_size_epochs=None
        )

    def lr_at(self, it: int) -> float:
        if self.step_size is None:
            raise ValueError("linear_decay's length is unresolved: call resolve(iters_per_epoch, total_steps) first")
        # 10) the fraction of the decay done, capped at 1 once it reaches base_lr
        done = min(it / self.step_size, 1.0)
        return self.max_lr - (self.max_lr - self.base_lr) * done


@SCHEDULES.register("fixed")
@dataclass
class Fixed(Schedule):
    """Step decay, Smith's "fixed" CIFAR-10 baseline: lr, multiplied by drop at every drop_every steps or at each
    listed step (Caffe's step and multistep). The drops can be given in optimizer steps (drop_every or drop_at), in
    epochs (drop_every_epochs or drop_at_epochs) or as fractions of the run (drop_at_fractions, the default): steps
    win over epochs, and both over fractions; within steps or within epochs, one form at most."""

    name: str = "fixed"
    lr: float = 0.05
    drop: float = 0.1
    drop_every: int | None = None
    drop_every_epochs: float | None = None
    drop_at: list[int] | None = None
    drop_at_epochs: list[float] | None = None
    drop_at_fractions: list[float] | None = field(default_factory=lambda: [0.5, 0.75])

    # The forms, strongest first: the first unit with a form set decides where the LR drops.
    UNITS: ClassVar[tuple[tuple[str, ...], ...]] = (
        ("drop_every", "drop_at"),
        ("drop_every_epochs", "drop_at_epochs"),
        ("drop_at_fractions",),
    )

    def check(self, key: str = "schedule") -> None:
        require_positive(f"{key}.lr", self.lr)
        require_in(f"{key}.drop", self.drop, 0.0, 1.0, low_open=True, why="the factor applied at each drop")
        for forms in self.UNITS:
            if len(forms) == 2 and all(getattr(self, n) is not None for n in forms):
                shown = ", ".join(f"{key}.{n}={getattr(self, n)!r}" for n in forms)
                raise ConfigError(f"{shown}: must set at most one of the two (the other null)")
        if self._unit() is None:
            raise ConfigError(
                f"{key}.drop_at_fractions=None: must say where the LR drops, e.g. "
                f"{key}.drop_at_fractions=[0.5,0.75], {key}.drop_at_epochs=[12,18] or {key}.drop_every=500"
            )
        if self.drop_every is not None and self.drop_every < 1:
            raise ConfigError(f"{key}.drop_every={self.drop_every!r}: must be an integer >= 1 (optimizer steps)")
        if self.drop_every_epochs is not None and not (
            self.drop_every_epochs > 0 and math.isfinite(self.drop_every_epochs)
        ):
            raise ConfigError(f"{key}.drop_every_epochs={self.drop_every_epochs!r}: must be a number > 0 (epochs)")
        for name in ("drop_at", "drop_at_epochs", "drop_at_fractions"):
            at = getattr(self, name)
            if at is not None and (
                not at or any(not (a > 0 and math.isfinite(a)) for a in at) or any(b <= a for a, b in zip(at, at[1:]))
            ):
                raise ConfigError(f"{key}.{name}={at!r}: must be a non-empty, increasing list of numbers > 0")
        if self.drop_at_fractions is not None and self.drop_at_fractions[-1] >= 1:
            raise ConfigError(
                f"{key}.drop_at_fractions={self.drop_at_fractions!r}: must be fractions of the run, below 1"
            )

    def _unit(self) -> int | None:
        """Index in UNITS of the forms in effect."""
        for i, forms in enumerate(self.UNITS):
            if any(getattr(self, n) is not None for n in forms):
                return i
        return None

    def ignored_keys(self, key: str = "schedule") -> list[str]:
        used = self._unit()
        return [f"{key}.{n}" for forms in self.UNITS[used + 1 :] for n in forms if getattr(self, n) is not None]

    def resolve(self, iters_per_epoch: int, total_steps: int) -> Fixed:
        unit = self._unit()
        clear = {"drop_every_epochs": None, "drop_at_epochs": None, "drop_at_fractions": None}
        if unit == 0:
            return dataclasses.replace(self, **clear)
        if unit == 1:
            if iters_per_epoch is None:
                raise ValueError("fixed's drops are in epochs: call resolve(iters_per_epoch, total_steps) first")
            if self.drop_at_epochs is not None:
                return dataclasses.replace(
                    self, **clear, drop_at=[max(1, round(e * iters_per_epoch)) for e in self.drop_at_epochs]
                )
            return dataclasses.replace(
                self, **clear, drop_every=in_steps(None, self.drop_every_epochs, iters_per_epoch, "drop_every")
            )
        if total_steps is None:
            raise ValueError("fixed's drops are fractions of the run: call resolve(iters_per_epoch, total_steps)")
        return dataclasses.replace(
            self, **clear, drop_at=sorted({max(1, round(f * total_steps)) for f in self.drop_at_fractions})
        )

    def lr_at(self, it: int) -> float:
        # 11) count the drops already passed, then lr * drop**drops
        if self.drop_every is not None:
            drops = it // self.drop_every
        elif self.drop_at is not None:
            drops = sum(1 for at in self.drop_at if it >= at)
        else:
            raise ValueError(
                "fixed's drops are in epochs or fractions: call resolve(iters_per_epoch, total_steps) first"
            )
        return self.lr * self.drop**drops
