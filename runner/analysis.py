"""Plateaus, in numbers: pure functions that turn a run's logged series into summary numbers.

A plateau is where training stalls and a schedule must push through. All definitions work on the
*smoothed* training loss, because a raw minibatch loss is far too noisy to compare point to point.

Definitions (``steps`` are the logged step numbers, strictly increasing, need not start at 0 nor be
contiguous; ``W``, ``r``, ``d`` are ``window``, ``rel_drop``, ``escape_drop``):

* **Smoothing** -- ``ema(loss, beta)``: bias-corrected exponential moving average, as in Adam:
  ``m_k = beta * m_{k-1} + (1 - beta) * x_k`` with ``m_{-1} = 0``, reported as ``m_k / (1 - beta**(k+1))``.
  ``k`` counts logged points, not step numbers. From the first non-finite loss on (a diverged run) the
  output is NaN.
* **Stalled point** -- the point at step ``s`` is stalled if its window, from the last logged step
  ``<= s - W`` (the reference) to ``s``, lost less than a fraction ``r`` of the reference level:
  ``smoothed[ref] - smoothed[s] < r * |smoothed[ref]|``. A rise counts as stalled (it did not fall).
  Points within ``W`` steps of the first one have no reference and are never stalled.
* **Plateau** -- the union of the windows of a maximal run of consecutive stalled points: it runs from
  the reference step of the run's first point to the run's last point, so it spans at least ``W`` steps
  and every ``W``-step window ending inside it fell by less than ``r``. Plateaus that overlap (noise
  making the test flicker near its threshold) are merged into one. ``level`` is the *median* smoothed
  loss over the plateau's points: the bias-corrected EMA of the first few points still carries almost
  the full minibatch noise, so the value at the start would be a noisy reference for the escape test.
* **Escape** -- the first logged step at or after the start of the *first* plateau at which
  ``smoothed < (1 - d) * level``; ``None`` when there is no plateau or the loss never gets there.
  Points before the smoothed loss has first been at or above ``(1 - d) * level`` do not count: a rise
  is stalled too, so a plateau the loss climbs into starts low, and must not be escaped at its start.
* **Plateau fraction** -- the share of logged points that lie on some plateau (``0.0`` for no points).
  With a constant logging interval this is the share of training steps.
* **Steps to target** -- per target accuracy, the first evaluation step with ``val_acc >= target``.

Non-finite values: everything from the first non-finite smoothed value on is ignored by the detector
(neither plateau nor escape), but still counts in the denominator of the plateau fraction -- those steps
were trained, just not usefully.

Consequences worth knowing:

* The bounds are those of the *smoothed* curve, which lags the raw one. A plateau ends a few tens of
  steps after the raw loss starts to fall (the EMA's lag plus the time to lose ``r``). A plateau that
  follows a steep fall starts later: the EMA still carries the old level, decaying by ``beta`` per
  point, and a window only looks flat once that excess is small. After a sudden drop from ``h`` to
  ``l`` the start lags by ``ln(r*l / ((h-l)*(1-beta**W-r))) / ln(beta)`` points -- with the defaults
  ~75 steps for a 22% drop (ln 10 -> 1.8), ~135 (1.3 windows) for a halving. Bounds are therefore within
  one window of the raw curve's for drops of up to ~30% into a plateau, and later after steeper ones.
* A slowly converging tail (e.g. ``1/sqrt(t)`` once it loses less than ``r`` per ``W`` steps, or a
  loss sitting at its floor) *is* a plateau by this definition, which is why the headline number is the
  escape from the *first* plateau, not the fraction.
* Losses are assumed positive (cross-entropy); ``r`` is taken relative to ``|level|`` so that negative
  values do not flip the test.

Defaults (the config keys ``analysis.smoothing`` and ``analysis.plateau.{window,rel_drop,escape_drop}``):

* ``beta = 0.98``: averages ~1/(1-beta) = 50 points and cuts white minibatch noise ~10x
  (std factor sqrt((1-beta)/(1+beta)) ~ 0.1), while its lag (~beta/(1-beta) = 49 points) stays below
  half a window, so plateau ends stay well within a window of the truth (starts: see above). It is
  also the value the usual LR-range-test plots smooth with.
* ``window = 100`` steps: twice the EMA memory, so the two ends of a window are nearly independent
  smoothed estimates; short enough to resolve a plateau in a run of a few hundred steps.
* ``rel_drop = 0.05``: falling slower than 5% per 100 steps (an e-folding time above ~2000 steps, i.e.
  about the whole length of a typical run) is a stall. It sits well above the smoothed noise: with 10%
  relative minibatch noise the EMA jitters by ~1%, so the difference of two smoothed points is ~1.4%.
* ``escape_drop = 0.2``: four times ``rel_drop``, so an escape is an unmistakable fall, not the slow
  drift a plateau may contain; for the reference plateau at chance level (ln 10 for 10 classes) it means
  a smoothed loss below 0.8 * ln 10 ~ 1.84, i.e. clearly better than chance.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

__all__ = [
    "DEFAULT_BETA",
    "DEFAULT_WINDOW",
    "DEFAULT_REL_DROP",
    "DEFAULT_ESCAPE_DROP",
    "DEFAULT_TARGETS",
    "Plateau",
    "ema",
    "find_plateaus",
    "escape",
    "plateau_fraction",
    "target_key",
    "steps_to_target",
    "analyze_run",
]

# Reasons in the module docstring; these must match runner.config.AnalysisConfig / PlateauConfig.
DEFAULT_BETA = 0.98
DEFAULT_WINDOW = 100
DEFAULT_REL_DROP = 0.05
DEFAULT_ESCAPE_DROP = 0.2
DEFAULT_TARGETS = (0.9, 0.95)


@dataclass(frozen=True)
class Plateau:
    """One plateau, in step numbers (values from ``steps``, not indices)."""

    start: int  # first step of the plateau (the reference step of its first stalled point)
    end: int  # last step of the plateau (its last stalled point)
    level: float  # median smoothed loss over the plateau's points

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "level": self.level}


# ---- helpers ----------------------------------------------------------------------------------------------
def _float_array(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values if values is not None else [], dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D series, got shape {arr.shape}")
    return arr


def _steps_array(steps: Any, name: str = "steps") -> np.ndarray:
    arr = _float_array(steps, name)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: step numbers must be finite")
    # searchsorted (window references, step -> index lookups) needs a sorted axis; duplicates would make
    # "the step at which" ambiguous, so they are refused rather than silently resolved.
    if arr.size > 1 and not np.all(np.diff(arr) > 0):
        raise ValueError(f"{name}: step numbers must be strictly increasing")
    return arr


def _series(steps: Any, values: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    s = _steps_array(steps)
    y = _float_array(values, name)
    if s.shape != y.shape:
        raise ValueError(f"steps and {name} differ in length: {s.size} != {y.size}")
    return s, y


def _finite_prefix(y: np.ndarray) -> int:
    """Length of the leading run of finite values (the part of a diverged run that still means something)."""
    bad = np.flatnonzero(~np.isfinite(y))
    return int(bad[0]) if bad.size else int(y.size)


def _step_int(x: float) -> int:
    return int(round(float(x)))


def _json_float(x: Any) -> float | None:
    # NaN/inf are not valid JSON (json.dump writes bare NaN, which strict parsers reject).
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name}={value!r}: must be in [0, 1)")


# ---- smoothing --------------------------------------------------------------------------------------------
def ema(values: Any, beta: float = DEFAULT_BETA) -> np.ndarray:
    """Bias-corrected exponential moving average of ``values`` (one entry per logged point).

    ``m_k = beta * m_{k-1} + (1 - beta) * x_k`` with ``m_{-1} = 0``; returns ``m_k / (1 - beta**(k+1))``,
    so a constant series maps to itself and ``beta = 0`` is the identity. A non-finite value means the
    run diverged: the output is NaN from that point on (it is not skipped, since the average after a
    divergence would describe a run that no longer exists).
    """
    x = _float_array(values, "values")
    _check_fraction("beta", beta)
    out = np.full(x.shape, np.nan)
    n = _finite_prefix(x)
    # A plain loop: exact, and a few thousand points take ~1 ms; the closed form via beta**-k overflows
    # for long runs.
    m = 0.0
    correction = 1.0
    for k in range(n):
        m = beta * m + (1.0 - beta) * x[k]
        correction *= beta
        out[k] = m / (1.0 - correction)
    return out


# ---- plateaus ---------------------------------------------------------------------------------------------
def find_plateaus(
    steps: Any,
    smoothed: Any,
    window: int = DEFAULT_WINDOW,
    rel_drop: float = DEFAULT_REL_DROP,
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
    s, y = _series(steps, smoothed, "smoothed")
    if window < 1:
        raise ValueError(f"window={window!r}: must be >= 1 (steps)")
    _check_fraction("rel_drop", rel_drop)
    n = _finite_prefix(y)
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
        Plateau(start=_step_int(s[lo]), end=_step_int(s[hi]), level=float(np.median(y[lo : hi + 1])))
        for lo, hi in intervals
    ]


def _escape_index(s: np.ndarray, y: np.ndarray, plateaus: list[Plateau], escape_drop: float) -> int | None:
    if not plateaus:
        return None
    first = plateaus[0]
    threshold = (1.0 - escape_drop) * first.level
    y = y[: _finite_prefix(y)]
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
    escape_drop: float = DEFAULT_ESCAPE_DROP,
) -> int | None:
    """The step at which the first plateau was escaped.

    That is the first step at or after ``plateaus[0].start`` where
    ``smoothed < (1 - escape_drop) * plateaus[0].level``, counting only once the smoothed loss has been
    at or above that threshold since the start (so a plateau that the loss climbs into from below is not
    "escaped" at its own first step; for a plateau entered from above this changes nothing). ``None`` if
    there is no plateau, or if the smoothed loss never gets that low before the series ends or turns
    non-finite (a diverged run did not escape).
    """
    s, y = _series(steps, smoothed, "smoothed")
    _check_fraction("escape_drop", escape_drop)
    k = _escape_index(s, y, list(plateaus), escape_drop)
    return None if k is None else _step_int(s[k])


def plateau_fraction(steps: Any, plateaus: Iterable[Plateau]) -> float:
    """Share (0..1) of the logged points whose step lies in some plateau's ``[start, end]``.

    0.0 for an empty series. Non-finite tails count in the denominator (see the module docstring).
    """
    s = _steps_array(steps)
    if s.size == 0:
        return 0.0
    on = np.zeros(s.shape, dtype=bool)
    for p in plateaus:
        on |= (s >= p.start) & (s <= p.end)
    return float(on.mean())


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
    s, acc = _series(eval_steps, val_acc, "val_acc")
    if targets is None:
        targets = ()
    elif isinstance(targets, numbers.Real):
        targets = (targets,)
    result: dict[str, int | None] = {}
    for t in targets:
        hit = np.flatnonzero(acc >= float(t))
        result[target_key(t)] = _step_int(s[hit[0]]) if hit.size else None
    return result


# ---- one run ----------------------------------------------------------------------------------------------
def analyze_run(
    steps: Any,
    lrs: Any,
    losses: Any,
    eval_steps: Any,
    val_acc: Any,
    *,
    beta: float = DEFAULT_BETA,
    window: int = DEFAULT_WINDOW,
    rel_drop: float = DEFAULT_REL_DROP,
    escape_drop: float = DEFAULT_ESCAPE_DROP,
    targets: Any = DEFAULT_TARGETS,
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
    s, loss = _series(steps, losses, "losses")
    lr = _float_array(lrs, "lrs")
    if lr.size not in (0, s.size):
        raise ValueError(f"steps and lrs differ in length: {s.size} != {lr.size}")

    smoothed = ema(loss, beta)
    plateaus = find_plateaus(s, smoothed, window, rel_drop)
    _check_fraction("escape_drop", escape_drop)
    k = _escape_index(s, smoothed, plateaus, escape_drop)
    escape_step = None if k is None else _step_int(s[k])
    escape_lr = _json_float(lr[k]) if k is not None and lr.size else None

    return {
        "plateaus": [p.as_dict() for p in plateaus],
        "escape_step": escape_step,
        "escape_lr": escape_lr,
        "plateau_fraction": plateau_fraction(s, plateaus),
        "steps_to_target": steps_to_target(eval_steps, val_acc, targets),
    }
