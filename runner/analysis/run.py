"""Everything a run's summary.json gains from its records: plateaus, escape, plateau fraction, steps to target."""

from __future__ import annotations

from typing import Any

from runner.analysis.plateaus import ema, escape_index, find_plateaus, plateau_fraction
from runner.analysis.series import check_fraction, float_array, json_float, series, step_int
from runner.analysis.settings import AnalysisConfig, PlateauConfig
from runner.analysis.targets import steps_to_target


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
    log. Returns::

        {"plateaus": [{"start": int, "end": int, "level": float}, ...],
         "escape_step": int | None,        # see escape()
         "escape_lr": float | None,        # the LR logged at escape_step
         "plateau_fraction": float,
         "steps_to_target": {"0.9": int | None, ...}}

    Non-finite floats come back as None, never NaN, so the result is strict JSON.
    """
    targets = AnalysisConfig().targets if targets is None else targets
    s, loss = series(steps, losses, "losses")
    lr = float_array(lrs, "lrs")
    if lr.size not in (0, s.size):
        raise ValueError(f"steps and lrs differ in length: {s.size} != {lr.size}")

    smoothed = ema(loss, beta)
    plateaus = find_plateaus(s, smoothed, window, rel_drop)
    check_fraction("escape_drop", escape_drop)
    k = escape_index(s, smoothed, plateaus, escape_drop)
    escape_step = None if k is None else step_int(s[k])
    escape_lr = json_float(lr[k]) if k is not None and lr.size else None

    return {
        "plateaus": [p.as_dict() for p in plateaus],
        "escape_step": escape_step,
        "escape_lr": escape_lr,
        "plateau_fraction": plateau_fraction(s, plateaus),
        "steps_to_target": steps_to_target(eval_steps, val_acc, targets),
    }
