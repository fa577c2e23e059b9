"""Test switches (faults.*) as a loop hook: a failure, a NaN loss or an uncatchable kill at a chosen step.

They exercise the failure paths on purpose (tests/training/test_resume.py kills runs at chosen steps). The hook is
installed only when a switch is set, so a real run's loop never looks at them.
"""

from __future__ import annotations

import math
import os
import signal
from collections.abc import Callable

from runner.training.settings import FaultsConfig


def fault_hook(faults: FaultsConfig) -> Callable[[int, float], float] | None:
    """A Hooks.on_loss that injects the configured faults, or None when none is set."""
    fail_at, nan_at, kill_at = faults.fail_at_step, faults.nan_at_step, faults.kill_at_step
    if fail_at is None and nan_at is None and kill_at is None:
        return None

    def on_loss(step: int, loss: float) -> float:
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # a real kill: no handler, no flush, no checkpoint
        if step == fail_at:
            raise RuntimeError(f"injected failure at step {step} (faults.fail_at_step)")
        return math.nan if step == nan_at else loss

    return on_loss
