"""The three rules that read base_lr and max_lr off one smoothed range-test curve, side by side.

- smith (the default): Smith's two-bound rule, runner/range_test/bounds.py: base_lr where the loss starts to fall,
  max_lr where it stops falling.
- steepest: max_lr is the LR at the steepest fall of the smoothed loss against log LR (torch-lr-finder's
  suggestion); base_lr = max_lr / STEEPEST_FACTOR, Smith's "1/3 or 1/4 of max_lr".
- min_over_10: max_lr is the LR at the smoothed loss's minimum divided by 10 (fastai's classic lr_min);
  base_lr = max_lr / MIN_OVER_10_FACTOR.

All three read the LR `lag` steps before where the smoothed curve shows a feature, as bounds.py explains (the EMA
delays every feature by about beta / (1 - beta) steps while the LR keeps rising), so they differ only in the point
they pick. A curve whose loss never fell below its start, or whose minimum lies within that lag of the first step,
gives no usable bounds under any rule: `usable` is False and the caller must not suggest them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from runner.range_test.bounds import suggest_bounds

DEFAULT_RULE = "smith"
STEEPEST_FACTOR = 4.0
MIN_OVER_10_FACTOR = 10.0
RULES = {
    "smith": "max_lr at the smoothed loss's minimum, base_lr where it has fallen improve_fraction of the way there "
    "(Smith's two bounds; base_lr = max_lr/4 if the two coincide)",
    "steepest": f"max_lr at the steepest fall of the smoothed loss vs log LR (torch-lr-finder); "
    f"base_lr = max_lr/{STEEPEST_FACTOR:g}",
    "min_over_10": f"max_lr = LR at the smoothed loss's minimum / 10 (fastai); base_lr = max_lr/{MIN_OVER_10_FACTOR:g}",
}


def finite_prefix(smoothed: Sequence[float]) -> np.ndarray:
    s = np.asarray(smoothed, dtype=float)
    finite = np.isfinite(s)
    return s if finite.all() else s[: int(np.argmin(finite))]


def steepest_step(lrs: Sequence[float], smoothed: np.ndarray, i_min: int, skip: int) -> int:
    """The step of the steepest negative slope of `smoothed` against log LR, between step `skip` and the minimum.

    The first `skip` steps are left out (torch-lr-finder skips its first 10): the bias-corrected EMA has averaged
    only a handful of losses there, and their batch-to-batch noise over a tiny log-LR step looks like a steep fall.
    Past the minimum the curve only climbs or breaks up, so it is not searched."""
    lo = min(skip, i_min - 1)
    part = smoothed[lo : i_min + 1]
    slope = np.gradient(part, np.log(np.asarray(lrs[lo : i_min + 1], dtype=float)))
    return lo + int(np.argmin(slope))


def all_rules(lrs: Sequence[float], smoothed: Sequence[float], beta: float, improve_fraction: float) -> dict[str, Any]:
    """{"usable": bool, "reason": str | None, "smith": {...}, "steepest": {...}, "min_over_10": {...}} for one curve;
    each rule gives base_lr, max_lr and the step it read them at (None where the curve is not usable)."""
    s = finite_prefix(smoothed)
    if len(s) == 0:
        reason = "the loss was not finite at the first step"
        return {"usable": False, "reason": reason, **{rule: {"base_lr": None, "max_lr": None} for rule in RULES}}
    smith = suggest_bounds(lrs, smoothed, beta, improve_fraction)
    lag, i_min = smith["lag_steps"], smith["min_step"]
    reason = None
    if not smith["improved"]:
        reason = "the smoothed loss never fell below its first value"
    elif len(s) <= 2 * lag + 1:
        # Both bounds are read `lag` steps before a point past the lag: a curve this short cannot hold two of them.
        reason = (
            f"only {len(s)} finite steps: too few to read two bounds through the EMA's lag of {lag} steps "
            f"(raise range_test.steps above {2 * lag + 1})"
        )
    elif i_min <= lag:
        reason = f"the smoothed loss was lowest within the EMA's lag ({lag} steps) of the first LR"
    out: dict[str, Any] = {"usable": reason is None, "reason": reason}
    out["smith"] = {
        "base_lr": smith["suggested_base_lr"],
        "max_lr": smith["suggested_max_lr"],
        **{k: smith[k] for k in ("base_rule", "min_step", "base_step", "lag_steps")},
    }
    if reason is not None:  # no fall to read a slope from
        out["steepest"] = {"step": None}
    else:
        i_steep = steepest_step(lrs, s, i_min, skip=lag)
        top = float(lrs[max(0, i_steep - lag)])
        out["steepest"] = {"base_lr": top / STEEPEST_FACTOR, "max_lr": top, "step": i_steep}
    top = float(lrs[max(0, i_min - lag)]) / 10.0
    out["min_over_10"] = {"base_lr": top / MIN_OVER_10_FACTOR, "max_lr": top, "step": i_min}
    if reason is not None:  # suggest nothing: a bound read off a curve that never fell would only mislead
        for rule in RULES:
            out[rule].update(base_lr=None, max_lr=None)
    return out
