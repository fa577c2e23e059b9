"""Everything a run's summary.json gains from its records: plateaus, escape, plateau fraction, steps to target."""

from __future__ import annotations

from typing import Any

import numpy as np

from runner.analysis.plateaus import (
    centred_median,
    escape_index,
    find_plateaus,
    is_initial,
    plateau_fraction,
)
from runner.analysis.series import check_fraction, finite_prefix, float_array, json_float, series, step_int
from runner.analysis.settings import AnalysisConfig, PlateauConfig
from runner.analysis.targets import steps_to_target

ESCAPED, NOT_ESCAPED, NO_PLATEAU = "escaped", "not_escaped", "no_plateau"


# ---- one run ----------------------------------------------------------------------------------------------
def analyze_run(
    steps: Any,
    lrs: Any,
    losses: Any,
    eval_steps: Any,
    val_acc: Any,
    *,
    beta: float = AnalysisConfig.smoothing,
    window: int = PlateauConfig.window,
    rel_drop: float = PlateauConfig.rel_drop,
    escape_drop: float = PlateauConfig.escape_drop,
    targets: Any = None,
) -> dict[str, Any]:
    """Everything a run's ``summary.json`` gains, as plain JSON-ready Python values.

    ``steps``, ``lrs`` and ``losses`` are the per-step training log (same length; ``lrs`` may be empty
    or None when unknown, then ``escape_lr`` is None); ``eval_steps`` and ``val_acc`` the evaluation
    log. Everything is read off the lag-free smoothed loss ``centred_median(losses, beta)``. Returns::

        {"plateaus": [{"start": int, "end": int, "level": float}, ...],
         "escape_status": "escaped" | "not_escaped" | "no_plateau" | None,
         "escape_step": int | None,        # the first plateau's escape, when it is the initial one
         "escape_lr": float | None,        # the LR logged at escape_step
         "plateau_fraction": float,
         "steps_to_target": {"0.9": int | None, ...}}

    ``escape_status`` is "no_plateau" when the first plateau is not one the run sat on from its start
    (is_initial()) or there is none, and None when the finite part of the log spans less than one window
    (too short to tell). Non-finite floats come back as None, never NaN, so the result is strict JSON.
    """
    targets = AnalysisConfig().targets if targets is None else targets
    s, loss = series(steps, losses, "losses")
    lr = float_array(lrs, "lrs")
    if lr.size not in (0, s.size):
        raise ValueError(f"steps and lrs differ in length: {s.size} != {lr.size}")
    check_fraction("escape_drop", escape_drop)

    smoothed = centred_median(loss, beta)
    plateaus = find_plateaus(s, smoothed, window, rel_drop, escape_drop)
    status, k = judge_escape(s, smoothed, plateaus, window, escape_drop)
    return {
        "plateaus": [p.as_dict() for p in plateaus],
        "escape_status": status,
        "escape_step": None if k is None else step_int(s[k]),
        "escape_lr": json_float(lr[k]) if k is not None and lr.size else None,
        "plateau_fraction": plateau_fraction(s, plateaus),
        "steps_to_target": steps_to_target(eval_steps, val_acc, targets),
    }


def judge_escape(
    s: np.ndarray, smoothed: np.ndarray, plateaus: list, window: int, escape_drop: float
) -> tuple[str | None, int | None]:
    """escape_status and the index of the escape (None unless escaped)."""
    n = finite_prefix(smoothed)
    if n == 0 or s[n - 1] - s[0] < window:
        return None, None
    if not plateaus or not is_initial(plateaus[0], s[0], float(smoothed[0]), window, escape_drop):
        return NO_PLATEAU, None
    k = escape_index(s, smoothed, plateaus[:1], escape_drop)
    return (NOT_ESCAPED, None) if k is None else (ESCAPED, k)
