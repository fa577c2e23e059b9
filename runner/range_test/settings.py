"""The range_test.* keys: Smith's LR range test (runner/range_test/), its LR ramp, when it stops, how it measures."""

from __future__ import annotations

import math
from dataclasses import dataclass

from runner.errors import ConfigError
from runner.range_test.rules import DEFAULT_RULE, RULES
from runner.typed import require_at_most, require_choice, require_in

# The test keeps every step's LR, loss and smoothed loss in memory and draws them all, once per seed.
MAX_STEPS = 1_000_000
# Each seed is one whole test, run one after another: a typo of a zero or two is refused rather than run.
MAX_SEEDS = 100


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
    seeds: int = 3  # one test per seed: seed, seed+1, ...; the suggestion is their median
    rule: str = DEFAULT_RULE  # the rule whose median schedule.bounds_from uses (all three are reported)
    max_spread: float = 1.5  # warn when the seeds' max_lr under `rule` differ by more than this factor (max/min)

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
        require_choice(f"{key}.rule", self.rule, tuple(RULES))
        require_in(f"{key}.max_spread", self.max_spread, 1.0, math.inf, high_open=True)
        for name in ("eval_every", "eval_size", "seeds"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{key}.{name}={getattr(self, name)!r}: must be an integer >= 1")
        require_at_most(f"{key}.steps", self.steps, MAX_STEPS, "the test holds and draws every step's loss")
        require_at_most(f"{key}.seeds", self.seeds, MAX_SEEDS, "each seed is one whole test")
