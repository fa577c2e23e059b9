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

# A stall, once entered (the loss fell by less than r over a window), goes on until the fall over a window
# reaches 2r: a curve whose noisy fall hovers near r gives one stall, not one per crossing of r.
HYSTERESIS = 2.0
# Points stalled for less than half a window in all are a pause (the loss flattening for a moment at an LR
# peak, or a noise dip in a decline), not a plateau.
MIN_STALL = 0.5
# A plateau is flat as a whole: fitted over all its points, the loss falls by less than r/2 per window. A
# steady decline, however slow (3% per window, say, below r), fails; so does a short stretch of a decline
# that noise made look stalled for a while.
FLAT = 0.5


@dataclass(frozen=True)
class Plateau:
    """One plateau, in step numbers (values from ``steps``, not indices)."""

    start: int  # first step of the plateau (the reference step of its first stalled point)
    end: int  # last step of the plateau (its last stalled point, or its escape if the loss left it slowly)
    level: float  # median smoothed loss over the stall

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


def half_width(beta: float) -> int:
    """Points on each side of the centred median: half the EMA's memory 1/(1 - beta) (25 for beta = 0.98)."""
    check_fraction("beta", beta)
    return int(round(0.5 / (1.0 - beta)))


def centred_median(values: Any, beta: float = AnalysisConfig.smoothing) -> np.ndarray:
    """The lag-free smoothed loss the detector reads: a centred rolling median of ``values``.

    Point ``k`` is the median of the points ``k - h .. k + h`` (``h = half_width(beta)``), cut to the
    finite prefix at either end, so the first and last ``h`` points use a shorter, one-sided window.
    A monotone curve maps to itself (no lag, unlike the EMA); a step stays a step. From the first
    non-finite value on the output is NaN, as for ema(). ``beta = 0`` is the identity.
    """
    x = float_array(values, "values")
    h = half_width(beta)
    n = finite_prefix(x)
    out = np.full(x.shape, np.nan)
    if n == 0:
        return out
    padded = np.concatenate([np.full(h, np.nan), x[:n], np.full(h, np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * h + 1)
    out[:n] = np.nanmedian(windows, axis=1)
    return out


# ---- plateaus ---------------------------------------------------------------------------------------------
def runs_of(mask: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of True in ``mask``, as (first, last) indices."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), (np.flatnonzero(edges == -1) - 1).tolist()))


def bumps(steps: Any, smoothed: Any, window: int, rel_drop: float) -> np.ndarray:
    """Which points are in a bump: a rise that comes back down (an LR peak of a cyclical run), as a mask.

    A bump is a stretch between two new lows of the smoothed loss (above its running minimum throughout,
    and followed by a new low before the series ends) that rises more than ``rel_drop`` above that minimum
    and spends less than ``window`` steps within ``rel_drop`` of its own top. A rise that sits flat up there
    for a window is a new, higher plateau; one that never comes back is not a bump either. Only the finite
    prefix counts.
    """
    s, y = series(steps, smoothed, "smoothed")
    n = finite_prefix(y)
    out = np.zeros(y.shape, dtype=bool)
    if n < 2:
        return out
    s, y = s[:n], y[:n]
    floor = np.minimum.accumulate(y)
    dt = np.diff(s, prepend=s[0])
    for a, b in runs_of(y > floor):
        top = y[a : b + 1].max()
        if b + 1 >= n or top <= floor[a] + rel_drop * abs(floor[a]):
            continue  # never came back, or too small to be a rise
        near_top = y[a : b + 1] >= top - rel_drop * abs(top)
        if dt[a : b + 1][near_top].sum() < window:
            out[a : b + 1] = True
    return out


def stalled_points(t: np.ndarray, z: np.ndarray, window: float, rel_drop: float) -> tuple[np.ndarray, ...]:
    """Stall flags (with hysteresis), window references and falls per window of ``z`` over the time axis ``t``."""
    ref = np.searchsorted(t, t - window, side="right") - 1  # last point at time <= t_i - window
    has_ref = ref >= 0
    base = z[np.where(has_ref, ref, 0)]
    drop = np.where(has_ref, (base - z) / np.maximum(np.abs(base), np.finfo(float).tiny), np.inf)
    stalled = np.zeros(z.shape, dtype=bool)
    for i in range(z.size):
        stalled[i] = drop[i] < (HYSTERESIS * rel_drop if i and stalled[i - 1] else rel_drop)
    return stalled, ref, drop


def find_plateaus(
    steps: Any,
    smoothed: Any,
    window: int = PlateauConfig.window,
    rel_drop: float = PlateauConfig.rel_drop,
    escape_drop: float = PlateauConfig.escape_drop,
) -> list[Plateau]:
    """The plateaus of a smoothed (lag-free: centred_median()) loss curve, in order. docs/plateaus.md, briefly:

    1. Bumps (bumps()) are cut out of the time axis: a window reaches back over them.
    2. A point is *stalled* when, with ``j`` the last point at least ``window`` steps before it (bumps cut
       out), ``smoothed`` fell by less than ``rel_drop`` of its value at ``j`` (a rise counts as stalled);
       once stalled, it stays so until the fall reaches ``2 * rel_drop`` (hysteresis). Points with no such
       ``j`` are not stalled.
    3. A run of stalled points ends at its last point that fell by less than ``rel_drop``; it gives the
       stretch from the reference ``j`` of its first point to that last point (at least ``window`` steps).
       Stretches that overlap merge; one whose points were stalled for less than ``window / 2`` steps in
       all is a pause and is dropped. ``level`` is the median of ``smoothed`` over the stretch.
    4. If the loss leaves the stretch slowly (below ``(1 - escape_drop) * level`` before it ends), the
       plateau ends at that escape; what follows is the way out, not a plateau.
    5. A plateau is flat as a whole: over its points the least-squares fall is below ``rel_drop / 2`` per
       ``window`` (relative to its level). A stretch that fails this is a steady decline and is dropped.

    Only the finite prefix of ``smoothed`` is used: a diverged tail is never a plateau.
    """
    s, y = series(steps, smoothed, "smoothed")
    if window < 1:
        raise ValueError(f"window={window!r}: must be >= 1 (steps)")
    check_fraction("rel_drop", rel_drop)
    check_fraction("escape_drop", escape_drop)
    n = finite_prefix(y)
    s, y = s[:n], y[:n]
    if n < 2:
        return []

    cut = bumps(s, y, window, rel_drop)
    kept = np.flatnonzero(~cut)
    # Time with the bumps cut out: each kept point is one logged interval after the kept point before it.
    clock = s[0] + np.cumsum(np.diff(s, prepend=s[0]) * ~cut)
    stalled, ref, drop = stalled_points(clock[kept], y[kept], window, rel_drop)

    t = clock[kept]
    spans: list[list[Any]] = []  # [first, last, time stalled] in kept-indices
    for a, b in runs_of(stalled):
        # Hysteresis keeps a stall going through a dip; it does not stretch its end past the last point
        # that fell by less than rel_drop.
        b = a + int(np.flatnonzero(drop[a : b + 1] < rel_drop)[-1])
        lo, hi, stalled_for = int(ref[a]), int(b), float(t[b] - t[a])
        if spans and lo <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], hi)
            spans[-1][2] += stalled_for
        else:
            spans.append([lo, hi, stalled_for])

    found = []
    for lo, hi, stalled_for in spans:
        if stalled_for < MIN_STALL * window:
            continue  # a pause, not a plateau
        idx = np.arange(kept[lo], kept[hi] + 1)  # bumps inside a plateau belong to it (its time was spent there)
        level = float(np.median(y[idx]))
        k = escape_index(s[: idx[-1] + 1], y[: idx[-1] + 1], [Plateau(step_int(s[idx[0]]), 0, level)], escape_drop)
        if k is not None:
            idx = idx[idx <= k]
        if idx.size < 2 or fall_per_window(s[idx], y[idx], window, level) < FLAT * rel_drop:
            found.append(Plateau(start=step_int(s[idx[0]]), end=step_int(s[idx[-1]]), level=level))
    return found


def fall_per_window(s: np.ndarray, y: np.ndarray, window: float, level: float) -> float:
    """The least-squares slope of ``y`` over ``s``, as the fall per ``window`` steps relative to ``|level|``."""
    slope = np.polyfit(s - s[0], y, 1)[0]
    return float(-slope * window / max(abs(level), np.finfo(float).tiny))


def escape_index(s: np.ndarray, y: np.ndarray, plateaus: list[Plateau], escape_drop: float) -> int | None:
    """Index form of escape(): ``s`` and ``y`` as arrays."""
    if not plateaus:
        return None
    first = plateaus[0]
    threshold = (1.0 - escape_drop) * first.level
    y = y[: finite_prefix(y)]
    k0 = int(np.searchsorted(s, first.start, side="left"))
    # A plateau the loss climbed into starts low; without this the run would "escape" at the plateau's first
    # step. Count only after the loss was up there.
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
    non-finite (a diverged run did not escape). Read off a lag-free smoothed loss (centred_median()),
    this is the step at which the loss itself crossed.
    """
    s, y = series(steps, smoothed, "smoothed")
    check_fraction("escape_drop", escape_drop)
    k = escape_index(s, y, list(plateaus), escape_drop)
    return None if k is None else step_int(s[k])


def is_initial(
    plateau: Plateau,
    first_step: float,
    start_loss: float,
    window: int = PlateauConfig.window,
    escape_drop: float = PlateauConfig.escape_drop,
) -> bool:
    """Whether the run sat on ``plateau`` from its start: it begins within one window of the first logged
    step, and its level is not yet ``escape_drop`` below the smoothed loss there (``start_loss``)."""
    return plateau.start <= first_step + window and plateau.level >= (1.0 - escape_drop) * start_loss


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
