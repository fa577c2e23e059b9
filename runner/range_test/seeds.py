"""Several seeds' suggestions made one: the median per rule, its spread, and the warnings a user must see.

One range test is one draw: on Fashion-MNIST the suggested max_lr moved 1.9x between seeds 0, 1 and 2. The task
runs the test once per seed (range_test.seeds) and reports, per rule, the median of the seeds' base_lr and max_lr
(for an even count the geometric mean of the middle two, since LRs compare by ratio) with the spread (min, max,
ratio max/min). The median of base_lr is taken apart from that of max_lr; it stays below it, because every seed's
base_lr is below its own max_lr.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def middle(values: Sequence[float]) -> float:
    """The median; for an even count the geometric mean of the two middle values."""
    v = sorted(values)
    half = len(v) // 2
    return float(v[half]) if len(v) % 2 else math.sqrt(v[half - 1] * v[half])


def spread(values: Sequence[float]) -> dict[str, float]:
    low, high = float(np.min(values)), float(np.max(values))
    return {"min": low, "max": high, "ratio": high / low}


def aggregate(per_seed: Sequence[dict[str, Any]], rules: Sequence[str]) -> dict[str, dict[str, Any]]:
    """{rule: {"base_lr", "max_lr", "spread": {"base_lr": {...}, "max_lr": {...}}}} over every seed's suggestions
    (each seed's entry holds {"rules": {rule: {"base_lr", "max_lr", ...}}}); call it only when all are usable."""
    out = {}
    for rule in rules:
        bounds = {key: [s["rules"][rule][key] for s in per_seed] for key in ("base_lr", "max_lr")}
        out[rule] = {
            "base_lr": middle(bounds["base_lr"]),
            "max_lr": middle(bounds["max_lr"]),
            "spread": {key: spread(values) for key, values in bounds.items()},
        }
    return out


def disagreement(agg: dict[str, dict[str, Any]], rule: str, max_spread: float, seeds: Sequence[int]) -> str | None:
    """The warning when the seeds' max_lr under `rule` differ by more than max_spread (max/min), else None."""
    s = agg[rule]["spread"]["max_lr"]
    if s["ratio"] <= max_spread:
        return None
    return (
        f"seeds {', '.join(map(str, seeds))} disagree: the {rule} rule's max_lr runs from {s['min']:.3g} to "
        f"{s['max']:.3g} ({s['ratio']:.2f}x > range_test.max_spread={max_spread:g}x); the median "
        f"{agg[rule]['max_lr']:.3g} is uncertain: run more seeds or compare the rules"
    )


def unusable(per_seed: Sequence[dict[str, Any]]) -> str | None:
    """The warning when any seed's curve gives no usable bounds, else None."""
    bad = [s for s in per_seed if not s["usable"]]
    if not bad:
        return None
    by_reason: dict[str, list[str]] = {}
    for s in bad:
        by_reason.setdefault(s["reason"], []).append(str(s["seed"]))
    reasons = "; ".join(
        f"seed{'s' if len(ids) > 1 else ''} {', '.join(ids)}: {reason}" for reason, ids in by_reason.items()
    )
    return f"no usable bounds ({reasons})"
