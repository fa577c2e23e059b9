"""Plateaus of a training-loss curve, in numbers: smoothing, the plateaus, their escape, the time spent on them.

Pure functions over a run's logged series (numpy only). docs/plateaus.md states every definition, its defaults
and why; the defaults come from runner/analysis/settings.py, the same ones conf/analysis/default.yaml shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from runner.analysis.series import check_fraction, finite_prefix, float_array, series, step_int, steps_array
from runner.analysis.settings import AnalysisConfig, PlateauConfig


@dataclass(frozen=True)
class Plateau:
    """One plateau, in step numbers (values from ``steps``, not indices)."""

    start: int  # first step of the plateau (the reference step of its first stalled point)
    end: int  # last step of the plateau (its last stalled point)
    level: float  # median smoothed loss over the plateau's points

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "level": self.level}


# ---- smoothing --------------------------------------------------------------------------------------------
class RunningEma:
    """The bias-corrected EMA of ema(), one value at a time (the range test decides when to stop with it)."""

    def __init__(self, beta: float) -> None:
        self.beta, self.m, self.correction = beta, 0.0, 1.0

    def update(self, x: float) -> float:
        self.m = self.beta * self.m + (1.0 - self.beta) * x
        self.correction *= self.beta
        return self.m / (1.0 - self.correction)


def ema(values: Any, beta: float = AnalysisConfig.smoothing) -> np.ndarray:
    """Bias-corrected exponential moving average of ``values`` (one entry per logged point).

    ``m_k = beta * m_{k-1} + (1 - beta) * x_k`` with ``m_{-1} = 0``; returns ``m_k / (1 - beta**(k+1))``,
    so a constant series maps to itself and ``beta = 0`` is the identity. A non-finite value means the
    run diverged: the output is NaN from that point on (it is not skipped, since the average after a
    divergence would describe a run that no longer exists).
    """
    x = float_array(values, "values")
    check_fraction("beta", beta)
    out = np.full(x.shape, np.nan)
    # A plain loop: exact, and a few thousand points take ~1 ms; the closed form via beta**-k overflows
    # for long runs.
    running = RunningEma(beta)
    for k in range(finite_prefix(x)):
        out[k] = running.update(x[k])
    return out


# ---- plateaus ---------------------------------------------------------------------------------------------
def find_plateaus(
    steps: Any,
    smoothed: Any,
    window: int = PlateauConfig.window,
    rel_drop: float = PlateauConfig.rel_drop,
) -> list[Plateau]:
    """The plateaus of a smoothed loss curve, in order.

    Point ``i`` (at step ``s_i``) is *stalled* if, with ``j`` the last point at step ``<= s_i - window``,
    ``smoothed[j] - smoothed[i] < rel_drop * |smoothed[j]|``; points with no such ``j`` are not stalled.
    Each maximal run ``a..b`` of stalled points gives the stretch ``[s_{j(a)}, s_b]`` (the union of the
    runs' windows: at least ``window`` steps long, and every window ending inside it fell by less than
    ``rel_drop``); stretches that overlap are merged. ``level`` is the median of ``smoothed`` over the
    stretch. Only the finite prefix of ``smoothed`` is used: a diverged tail is never a plateau.
    A series spanning fewer than ``window`` steps has no plateaus.
    """
    s, y = series(steps, smoothed, "smoothed")
    if window < 1:
        raise ValueError(f"window={window!r}: must be >= 1 (steps)")
    check_fraction("rel_drop", rel_drop)
    n = finite_prefix(y)
    s, y = s[:n], y[:n]
    if n < 2:
        return []

    ref = np.searchsorted(s, s - window, side="right") - 1  # last point at step <= s_i - window
    has_ref = ref >= 0
    ref_safe = np.where(has_ref, ref, 0)
    stalled = has_ref & ((y[ref_safe] - y) < rel_drop * np.abs(y[ref_safe]))
    if not stalled.any():
        return []

    # Maximal runs of stalled points, as [first, last] indices.
    edges = np.diff(np.concatenate(([0], stalled.astype(np.int8), [0])))
    run_starts = np.flatnonzero(edges == 1)
    run_ends = np.flatnonzero(edges == -1) - 1

    intervals: list[list[int]] = []
    for a, b in zip(run_starts, run_ends):
        lo, hi = int(ref[a]), int(b)
        if intervals and lo <= intervals[-1][1]:
            intervals[-1][1] = max(intervals[-1][1], hi)
        else:
            intervals.append([lo, hi])

    return [
        Plateau(start=step_int(s[lo]), end=step_int(s[hi]), level=float(np.median(y[lo : hi + 1])))
        for lo, hi in intervals
    ]


def escape_index(s: np.ndarray, y: np.ndarray, plateaus: list[Plateau], escape_drop: float) -> int | None:
    if not plateaus:
        return None
    first = plateaus[0]
    threshold = (1.0 - escape_drop) * first.level
    y = y[: finite_prefix(y)]
    k0 = int(np.searchsorted(s, first.start, side="left"))
    # A rise counts as stalled, so a plateau the loss climbs into from below starts at a low point;
    # without this the run would "escape" at the plateau's first step. Count only after it was up there.
    on = np.flatnonzero(y[k0:] >= threshold)
    if not on.size:
        return None
    k_on = k0 + int(on[0])
    below = np.flatnonzero(y[k_on:] < threshold)
    return k_on + int(below[0]) if below.size else None


def escape(
    steps: Any,
    smoothed: Any,
    plateaus: Iterable[Plateau],
    escape_drop: float = PlateauConfig.escape_drop,
) -> int | None:
    """The step at which the first plateau was escaped.

    That is the first step at or after ``plateaus[0].start`` where
    ``smoothed < (1 - escape_drop) * plateaus[0].level``, counting only once the smoothed loss has been
    at or above that threshold since the start (so a plateau that the loss climbs into from below is not
    "escaped" at its own first step; for a plateau entered from above this changes nothing). ``None`` if
    there is no plateau, or if the smoothed loss never gets that low before the series ends or turns
    non-finite (a diverged run did not escape).
    """
    s, y = series(steps, smoothed, "smoothed")
    check_fraction("escape_drop", escape_drop)
    k = escape_index(s, y, list(plateaus), escape_drop)
    return None if k is None else step_int(s[k])


def plateau_fraction(steps: Any, plateaus: Iterable[Plateau]) -> float:
    """Share (0..1) of the logged points whose step lies in some plateau's ``[start, end]``.

    0.0 for an empty series. Non-finite tails count in the denominator (see the module docstring).
    """
    s = steps_array(steps)
    if s.size == 0:
        return 0.0
    on = np.zeros(s.shape, dtype=bool)
    for p in plateaus:
        on |= (s >= p.start) & (s <= p.end)
    return float(on.mean())
