"""LR bounds from an LR range test: the rule that suggests them (the reader behind schedule.bounds_from is
runner/schedules/bounds_file.py).

Smith (2017, section 3.3): raise the LR during a short run and plot accuracy against LR; base_lr is where the
accuracy starts to increase, max_lr where it slows, turns ragged or falls. We read the same two points off the
smoothed training loss, which is measured at every step (the accuracy only every range_test.eval_every steps):

- max_lr: the LR at the minimum of the smoothed loss. Past it the loss no longer improves and soon diverges:
  the loss-side picture of "the accuracy turns ragged".
- base_lr: the first LR at which the smoothed loss has fallen `improve_fraction` (default 0.1) of the way from its
  first value to that minimum: where training starts to improve, above the noise of the first steps.
- The EMA lags the loss it smooths by beta / (1 - beta) steps on average (9 steps at beta 0.9), and the LR rises
  during that lag, so both points are read `lag` steps earlier than where the smoothed curve shows them; without
  this, a short test reports bounds that are too high.
- If the two points coincide (the loss fell in a single burst), base_lr = max_lr / 4, Smith's rule of thumb
  ("set base_lr to 1/3 or 1/4 of max_lr").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

RULE = (
    "max_lr: LR at the minimum of the smoothed loss; base_lr: first LR where the smoothed loss has fallen "
    "improve_fraction of the way from its start to that minimum; both read lag = beta/(1-beta) steps earlier "
    "to undo the EMA's delay; base_lr = max_lr/4 (Smith's rule of thumb) if the two coincide"
)


def ema_lag(beta: float) -> int:
    """Mean delay, in steps, of an EMA with factor beta."""
    return int(round(beta / (1.0 - beta)))


def suggest_bounds(
    lrs: Sequence[float], smoothed: Sequence[float], beta: float, improve_fraction: float = 0.1
) -> dict[str, Any]:
    """Suggested base_lr and max_lr from the LRs of a range test and its smoothed loss (finite prefix used)."""
    lr = np.asarray(lrs, dtype=float)
    s = np.asarray(smoothed, dtype=float)
    finite = np.isfinite(s)
    n = int(np.argmin(finite)) if not finite.all() else len(s)
    if n == 0:
        raise ValueError("no finite smoothed loss: the range test diverged at its first step; lower min_lr")
    s = s[:n]
    lag = ema_lag(beta)
    i_min = int(np.argmin(s))
    drop = float(s[0] - s[i_min])
    threshold = s[0] - improve_fraction * drop
    i_base = int(np.argmax(s <= threshold)) if drop > 0 else i_min
    i_max_lr, i_base_lr = max(0, i_min - lag), max(0, i_base - lag)
    max_lr, base_lr = float(lr[i_max_lr]), float(lr[i_base_lr])
    rule = "improve_fraction"
    if base_lr >= max_lr:
        base_lr, rule = max_lr / 4.0, "max_lr/4"
    return {
        "suggested_base_lr": base_lr,
        "suggested_max_lr": max_lr,
        "base_rule": rule,
        "improved": drop > 0,
        "min_smoothed_loss": float(s[i_min]),
        "start_smoothed_loss": float(s[0]),
        "min_step": i_min,
        "base_step": i_base,
        "lag_steps": lag,
        "rule": RULE,
    }
