"""The trainer.*, faults.* and preview.* keys: how long and how a run trains, test switches, and the preview task.

Pure dataclasses with range checks (runner/config.py assembles them); no torch, so a bad value is refused at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from runner.errors import ConfigError
from runner.training.device import check_name as check_device_name
from runner.typed import require_at_most

# metrics.csv gets a row per step and the analysis holds the whole loss series in memory (several float64 columns),
# so a run is bounded at 10 million steps (about 0.5 GB of CSV); Smith's longest CIFAR-10 runs are 70,000 steps.
MAX_STEPS = 10_000_000
# A preview draws one point and writes one CSV row per step, all held in memory by matplotlib.
MAX_PREVIEW_STEPS = 1_000_000


@dataclass
class TrainerConfig:
    epochs: int = 24
    max_steps: int | None = None
    batch_size: int = 32
    eval_batch_size: int = 256
    threads: int | None = None
    device: str = "auto"
    progress: bool = True
    flush_every: int = 500
    checkpoint_every: int | None = 200
    eval_every: int | None = None
    eval_size: int | None = None

    def check(self, key: str) -> None:
        if self.epochs < 1:
            raise ConfigError(f"{key}.epochs={self.epochs!r}: must be an integer >= 1")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"{key}.max_steps={self.max_steps!r}: must be an integer >= 1 or null")
        why = "a run is bounded at that many steps (one metrics.csv row each, all analysed in memory)"
        require_at_most(f"{key}.max_steps", self.max_steps, MAX_STEPS, why)
        require_at_most(f"{key}.epochs", self.epochs, MAX_STEPS, why + "; an epoch is at least one step")
        for name in ("batch_size", "eval_batch_size", "flush_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{key}.{name}={getattr(self, name)!r}: must be an integer >= 1")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"{key}.threads={self.threads!r}: must be an integer >= 1 or null (the free cores)")
        check_device_name(f"{key}.device", self.device)
        if self.eval_every is not None and self.eval_every < 1:
            raise ConfigError(
                f"{key}.eval_every={self.eval_every!r}: must be an integer >= 1 or null "
                "(null: evaluate at epoch ends, cycle ends and the end only)"
            )
        if self.eval_size is not None and self.eval_size < 1:
            raise ConfigError(
                f"{key}.eval_size={self.eval_size!r}: must be an integer >= 1 or null "
                "(null: the whole validation split)"
            )
        if self.checkpoint_every is not None and self.checkpoint_every < 1:
            raise ConfigError(
                f"{key}.checkpoint_every={self.checkpoint_every!r}: must be an integer >= 1 or null "
                "(null: only at the end)"
            )


@dataclass
class FaultsConfig:
    """Test switches that exercise the failure paths on purpose; all null in real runs."""

    fail_at_step: int | None = None
    nan_at_step: int | None = None
    kill_at_step: int | None = None

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
        require_at_most(
            f"{key}.steps", self.steps, MAX_PREVIEW_STEPS, "a preview holds one point and one CSV row per step"
        )
