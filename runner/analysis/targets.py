"""Steps to a target accuracy: the first evaluation step at which the validation accuracy reaches each target."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from runner.analysis.series import series, step_int


# ---- accuracy targets -------------------------------------------------------------------------------------
def target_key(target: float) -> str:
    """A compact, stable key for a target: the shortest repr without trailing zeros (0.9 -> "0.9", 1 -> "1").

    Used as a JSON object key and as a CSV column suffix, so it must not depend on how the target was
    written in the config (0.90, 0.9 and 9e-1 all give "0.9").
    """
    text = repr(float(target))
    if "e" not in text and "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def steps_to_target(eval_steps: Any, val_acc: Any, targets: Any) -> dict[str, int | None]:
    """For each target, the first evaluation step with ``val_acc >= target`` (``None`` if never reached).

    "First" is in evaluation order, so an accuracy that reaches a target and falls back still counts
    from the first time. NaN accuracies never reach anything. Keys come from :func:`target_key`, in the
    order of ``targets``.
    """
    s, acc = series(eval_steps, val_acc, "val_acc")
    if targets is None:
        targets = ()
    elif isinstance(targets, numbers.Real):
        targets = (targets,)
    result: dict[str, int | None] = {}
    for t in targets:
        hit = np.flatnonzero(acc >= float(t))
        result[target_key(t)] = step_int(s[hit[0]]) if hit.size else None
    return result
