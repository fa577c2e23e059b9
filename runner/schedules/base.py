"""The shape every learning-rate policy shares, the schedule registry, and the pure CLR formulas.

Smith (2017), "Cyclical Learning Rates for Training Neural Networks"; the same numbers as bckenstler/CLR and
torch.optim.lr_scheduler.CyclicLR:

    cycle = floor(1 + it / (2 * step_size))
    x     = |it / step_size - 2 * cycle + 1|
    lr    = base_lr + (max_lr - base_lr) * max(0, 1 - x) * scale(cycle or it)

`it` counts optimizer steps from 0 and lr(it) is the LR used for step `it`, so lr(0) = base_lr.

Each policy is a dataclass registered by name (runner/schedules/cyclical.py, runner/schedules/baselines.py): its
fields are the config keys (schedule.*), `check()` holds the range checks, `lr_at(it)` the formula. Lengths given in
epochs (fields ending in _epochs) and lengths that default to the run (one_cycle's total_steps) are turned into
steps by `resolve(iters_per_epoch, total_steps)`. Nothing here imports torch or Hydra, so previews and tests stay
light. docs/schedules.md lists every policy and key.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

from runner.errors import ConfigError
from runner.registry import Registry
from runner.schedules.bounds_file import read_bounds
from runner.typed import require_in

SCHEDULES = Registry("schedule")


def build_schedule(values: dict, key: str = "schedule") -> Schedule:
    """A checked policy from plain config values ({"name": ..., field: value, ...})."""
    if not isinstance(values, dict):
        raise ConfigError(f"{key}={values!r}: must be a config group; choose one with {key}=NAME")
    return SCHEDULES.config_from(with_bounds_from(values, key), key)


def policy_keys() -> dict[str, list[str]]:
    """Every schedule.* key of the registered policies (`name` aside), with the policies that take it."""
    keys: dict[str, list[str]] = {}
    for name in SCHEDULES.names():
        for f in dataclasses.fields(SCHEDULES.entry(name).config):
            if f.name != "name":
                keys.setdefault(f.name, []).append(name)
    return keys


def split_unused(values: dict, key: str = "schedule") -> tuple[dict, list[str]]:
    """(the values the chosen policy takes, the keys set for other policies only).

    A sweep over policies sets a shared key once (`schedule=constant,triangular schedule.step_size=50`), so a key
    that another registered policy takes is no error for this one: it is left out, and when it is set (not null)
    its name comes back for summary.json's ignored_keys. A key no policy takes stays in, and from_mapping refuses it.
    """
    if not isinstance(values, dict):
        return values, []
    own = {f.name for f in dataclasses.fields(SCHEDULES.entry(values.get("name"), f"{key}.name").config)}
    others = set(policy_keys()) - own
    kept = {k: v for k, v in values.items() if k not in others}
    return kept, sorted(f"{key}.{k}" for k, v in values.items() if k in others and v is not None)


def with_bounds_from(values: dict, key: str) -> dict:
    """schedule.bounds_from=PATH: base_lr and max_lr from a range test's range_test.json (or its folder).

    The file's bounds replace base_lr and max_lr, explicit ones included: a run that names a range test uses
    exactly what that test suggested, and metrics.csv shows it. To set a bound by hand, leave bounds_from null.
    """
    path = values.get("bounds_from")
    if not isinstance(path, str):  # null, or a wrong type that from_mapping reports with the key
        return values
    base_lr, max_lr = read_bounds(path, f"{key}.bounds_from")
    return {**values, "base_lr": base_lr, "max_lr": max_lr}


# ---- pure formulas ------------------------------------------------------------------------------------------
def cycle_of(it: int, step_size: int, step_size_down: int | None = None) -> int:
    """1-based cycle number of step `it`: a cycle is step_size steps up, then step_size_down (default: the same)."""
    down = step_size if step_size_down is None else step_size_down
    return math.floor(1 + it / (step_size + down))


def triangle(it: int, step_size: int, step_size_down: int | None = None) -> float:
    """Position in the triangle, 0 at base_lr and 1 at max_lr; with step_size_down == step_size this is Smith's
    max(0, 1 - |it / step_size - 2 * cycle + 1|), and torch's CyclicLR with step_size_up/step_size_down."""
    down = step_size if step_size_down is None else step_size_down
    # 1) steps since the current cycle began
    pos = it - (cycle_of(it, step_size, down) - 1) * (step_size + down)
    # 2) rising for step_size steps, 3) then falling for step_size_down steps
    return pos / step_size if pos <= step_size else (step_size + down - pos) / down


def in_steps(steps: int | None, epochs: float | None, iters_per_epoch: int | None, key: str) -> int | None:
    """A length given in steps or in epochs, in optimizer steps (at least 1)."""
    if steps is not None or epochs is None:
        return steps
    if iters_per_epoch is None:
        raise ValueError(f"{key}_epochs needs iters_per_epoch: call resolve(iters_per_epoch, total_steps) first")
    return max(1, round(epochs * iters_per_epoch))


# ---- range checks: each raises one line naming the key --------------------------------------------------------
def check_length(key: str, name: str, steps: int | None, epochs: float | None, required: bool) -> None:
    """`name` in optimizer steps or `name`_epochs in epochs: a required length needs one of the two. When both are
    set the steps win (the defaults are in epochs, so a length in steps is always the user's own)."""
    if required and steps is None and epochs is None:
        raise ConfigError(
            f"{key}.{name}=None, {key}.{name}_epochs=None: must set one of the two, e.g. "
            f"{key}.{name}_epochs=4 (epochs) or {key}.{name}=180 (optimizer steps)"
        )
    if steps is not None and steps < 1:
        raise ConfigError(f"{key}.{name}={steps!r}: must be an integer >= 1 (optimizer steps)")
    if epochs is not None and not (epochs > 0 and math.isfinite(epochs)):
        raise ConfigError(f"{key}.{name}_epochs={epochs!r}: must be a number > 0 (epochs)")


def check_momentum(key: str, policy) -> None:
    require_in(f"{key}.base_momentum", policy.base_momentum, 0.0, 1.0, high_open=True)
    require_in(f"{key}.max_momentum", policy.max_momentum, 0.0, 1.0, high_open=True)
    if policy.base_momentum > policy.max_momentum:
        raise ConfigError(
            f"{key}.base_momentum={policy.base_momentum!r}: must not exceed "
            f"{key}.max_momentum={policy.max_momentum!r} (momentum falls as the LR rises)"
        )


# ---- the shape every policy shares ---------------------------------------------------------------------------
@dataclass
class Schedule:
    """Shared shape of every policy; subclasses add their keys and the formula."""

    name: str = ""
    cyclic: ClassVar[bool] = False

    def check(self, key: str = "schedule") -> None:
        """Range checks; raise ConfigError naming `key.field`."""

    def resolve(self, iters_per_epoch: int, total_steps: int) -> Schedule:
        """The same policy with every length in optimizer steps (epochs converted, run length known)."""
        return self

    def lr_at(self, it: int) -> float:
        raise NotImplementedError

    def momentum_at(self, it: int) -> float | None:
        """The momentum (SGD) or beta1 (Adam) for step `it`, or None to leave the optimizer's own value."""
        return None

    def ignored_keys(self, key: str = "schedule") -> list[str]:
        """Keys that are set but give way: a length in epochs whose twin in steps is set too."""
        names = {f.name for f in dataclasses.fields(self)}
        return [
            f"{key}.{name}"
            for name in sorted(names)
            if name.endswith("_epochs")
            and name[: -len("_epochs")] in names
            and getattr(self, name) is not None
            and getattr(self, name[: -len("_epochs")]) is not None
        ]

    def cycle(self, it: int) -> int:
        """Cycle number for the records; 0 for policies without cycles."""
        return 0

    def cycle_length(self) -> int | None:
        """Steps per cycle, or None for policies without cycles (or with cycles of changing length: sgdr)."""
        return None

    def cycle_ends(self, steps: int) -> list[int]:
        """Steps in 1..steps at which a cycle ends (the LR is back at its low), including cycles of changing
        length; a training loop evaluates there."""
        length = self.cycle_length()
        if length:
            return list(range(length, steps + 1, length))
        if type(self).cycle is Schedule.cycle:
            return []  # no cycles: nothing to scan (a constant LR over millions of steps starts at once)
        return [s for s in range(1, steps + 1) if self.cycle(s) != self.cycle(s - 1)]
