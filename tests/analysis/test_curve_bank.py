"""A bank of synthetic loss curves with the answer a researcher gives by eye, through analyze_run as a run uses it.

Each curve is a noise-free shape times multiplicative minibatch noise (10% unless stated, three seeds, plus the
noise-free shape). The answers: escape_status, the escape step within a stated tolerance of the step where the
noise-free loss crossed 0.8 x its plateau level (and not systematically after it: the old EMA detector read
escapes ~50 steps late), and how many plateaus there are.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from runner.analysis.run import analyze_run

LN10 = math.log(10.0)  # chance-level loss on 10 classes
SEEDS = [None, 0, 1, 2]


@dataclass(frozen=True)
class Curve:
    shape: Callable[[np.ndarray], np.ndarray]  # noise-free loss over the steps
    n: int  # steps logged: 0 .. n-1
    status: str
    plateaus: tuple[int, ...]  # acceptable plateau counts
    escape: float | None = None  # the step where the noise-free loss crosses 0.8 x the plateau level
    tol: float = 0.0  # |found - escape| allowed, steps
    noise: Callable[[np.ndarray], np.ndarray] = lambda t: np.full(t.size, 0.1)


def flat_then(t: np.ndarray, until: float, after: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    return np.where(t < until, LN10, after(np.maximum(t - until, 0.0)))


def bumps(t: np.ndarray, peaks: list[float], height: float = 0.3, width: float = 40.0) -> np.ndarray:
    """1 + the loss's rise near each LR peak of a cyclical run (Gaussian, `height` at the peak)."""
    return 1.0 + height * sum(np.exp(-(((t - p) / width) ** 2)) for p in peaks)


def cyclical(t: np.ndarray) -> np.ndarray:
    """Escape from ln 10 at 200 in the first LR rise, then a decline with exponent 1/400 (no bumps)."""
    return flat_then(t, 200, lambda x: LN10 * np.exp(-x / 400))


PEAKS = [750.0, 1250.0, 1750.0]  # triangular, step_size 250: the LR peaks after the escape

BANK = {
    # flat at chance for 600 steps, then a clean fall (e-folding 200 steps)
    "plateau_then_escape": Curve(
        lambda t: flat_then(t, 600, lambda x: LN10 * np.exp(-x / 200)),
        1500,
        "escaped",
        (1,),
        escape=600 + 200 * math.log(1.25),
        tol=12,
    ),
    # stuck at chance, drifting down 4% in total: sits on it to the end
    "never_escaped": Curve(lambda t: LN10 * (1 - 0.04 * t / 2000), 2000, "not_escaped", (1,)),
    # falls 18% per 100 steps from the start
    "steady_exponential": Curve(lambda t: LN10 * np.exp(-t / 500), 2000, "no_plateau", (0,)),
    # a slow steady decline, 3% per 100 steps (below r): it never sits anywhere
    "slow_steady_decline": Curve(lambda t: LN10 * 0.97 ** (t / 100), 2000, "no_plateau", (0,)),
    # loss ~ a t^-1/2: a tail that keeps slowing down, below r per window after t ~ 900 and below r/2 (flat
    # by definition) after t ~ 2000, so its last stretch may count as a plateau; never an escape
    "power_law_tail": Curve(lambda t: LN10 / np.sqrt(1 + t / 20), 3000, "no_plateau", (0, 1)),
    # falls from the start under heavy early noise (60% at first, 10% after ~300 steps)
    "noisy_start": Curve(
        lambda t: LN10 * np.exp(-t / 300), 1500, "no_plateau", (0,), noise=lambda t: 0.1 + 0.5 * np.exp(-t / 100)
    ),
    # exactly at the threshold, 5% per 100 steps: one plateau or none, never a flicker of several
    "decline_at_threshold": Curve(lambda t: LN10 * 0.95 ** (t / 100), 2000, "no_plateau", (0, 1)),
    # plateau at chance, a quick fall to 1.2 over [400, 500], a second plateau there until 1300, then down
    "late_second_plateau": Curve(
        lambda t: np.interp(t, [0, 400, 500, 1300, 1400, 2000], [LN10, LN10, 1.2, 1.2, 0.8, 0.5]),
        2000,
        "escaped",
        (2,),
        escape=400 + 100 * (LN10 - 0.8 * LN10) / (LN10 - 1.2),
        tol=8,
    ),
    # on the plateau until the loss blows up at step 500 and turns inf at 600: diverged on it
    "diverges_on_plateau": Curve(
        lambda t: np.where(t < 600, flat_then(t, 500, lambda x: LN10 * np.exp(x / 25)), np.inf),
        1000,
        "not_escaped",
        (1,),
    ),
    # flat to 500, then a slow way down (13% per 100 steps)
    "plateau_then_slow_escape": Curve(
        lambda t: flat_then(t, 500, lambda x: LN10 * np.exp(-x / 700)),
        2000,
        "escaped",
        (1,),
        escape=500 + 700 * math.log(1.25),
        tol=30,
    ),
    # cyclical LR: escape in the first rise, then a bump at every LR peak
    "cyclical_with_bumps": Curve(
        lambda t: cyclical(t) * bumps(t, PEAKS), 2000, "escaped", (1,), escape=200 + 400 * math.log(1.25), tol=15
    ),
}


def run(curve: Curve, seed: int | None) -> dict:
    t = np.arange(curve.n, dtype=float)
    y = curve.shape(t)
    if seed is not None:
        y = y * (1.0 + curve.noise(t) * np.random.default_rng(seed).standard_normal(t.size))
    lrs = 0.1 + 1e-3 * t  # a distinct LR at every step
    return analyze_run(t, lrs, y, [], [])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(BANK))
def test_bank_answer_by_eye(name, seed):
    curve = BANK[name]
    res = run(curve, seed)
    assert res["escape_status"] == curve.status, res
    assert len(res["plateaus"]) in curve.plateaus, res["plateaus"]
    if curve.escape is None:
        assert res["escape_step"] is None and res["escape_lr"] is None
    else:
        assert abs(res["escape_step"] - curve.escape) <= curve.tol, (res["escape_step"], curve.escape)
        assert res["escape_lr"] == pytest.approx(0.1 + 1e-3 * res["escape_step"])  # the LR at that very step


@pytest.mark.parametrize("name", [n for n in sorted(BANK) if BANK[n].escape is not None])
def test_escape_is_not_read_late(name):
    # Over the seeds the error must centre on the truth: a lagging smoother would be late every time.
    curve = BANK[name]
    errors = [run(curve, seed)["escape_step"] - curve.escape for seed in range(8)]
    assert abs(float(np.mean(errors))) <= curve.tol / 2, errors


def test_the_escape_of_the_clean_plateau_is_the_noise_free_crossing():
    res = run(BANK["plateau_then_escape"], None)
    assert res["escape_step"] == math.ceil(600 + 200 * math.log(1.25))  # 645: the first step below 0.8 ln 10
    ((start, end),) = [(p["start"], p["end"]) for p in res["plateaus"]]
    assert start == 0 and 600 <= end <= 600 + 30  # ends when the fall reaches 2r per window: ~21 steps later


def test_the_second_plateau_is_found_where_it_is():
    # Bounds within 40 steps: noise as large as the change across the median's 51 points rounds a kink a little.
    for seed in SEEDS:
        first, second = run(BANK["late_second_plateau"], seed)["plateaus"]
        assert first["start"] == 0 and abs(first["end"] - 400) <= 40
        assert abs(second["start"] - 500) <= 40 and abs(second["end"] - 1300) <= 40
        assert second["level"] == pytest.approx(1.2, rel=0.02)


@pytest.mark.parametrize("seed", SEEDS)
def test_bumps_leave_the_plateau_fraction_as_without_them(seed):
    t = np.arange(2000, dtype=float)
    plain = BANK["cyclical_with_bumps"]
    without = Curve(cyclical, plain.n, plain.status, plain.plateaus)
    got = run(plain, seed)["plateau_fraction"]
    assert got == pytest.approx(run(without, seed)["plateau_fraction"], abs=0.02)
    assert got == pytest.approx(200 / t.size, abs=0.03)  # the plateau before the escape, nothing else


def test_plateau_fraction_of_a_run_stuck_to_the_end_is_one():
    for seed in SEEDS:
        assert run(BANK["never_escaped"], seed)["plateau_fraction"] == 1.0
