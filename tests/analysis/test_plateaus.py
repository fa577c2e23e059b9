"""Known-answer tests for runner.analysis (plateaus, escape, steps to target)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from runner.analysis import plateaus as pl
from runner.analysis import run as run_analysis
from runner.analysis import targets
from runner.analysis.plateaus import Plateau
from runner.analysis.settings import PlateauConfig

LN10 = math.log(10.0)
W = PlateauConfig.window


def noisy(curve: np.ndarray, seed: int, rel: float = 0.1) -> np.ndarray:
    """Multiplicative Gaussian noise, roughly how minibatch losses scatter around their mean."""
    rng = np.random.default_rng(seed)
    return curve * (1.0 + rel * rng.standard_normal(curve.size))


def flat_then_fall(n: int = 1500, flat_until: int = 600, tau: float = 200.0) -> tuple[np.ndarray, np.ndarray]:
    """ln 10 (chance on 10 classes) for `flat_until` steps, then exponential decay."""
    t = np.arange(n, dtype=float)
    return t, np.where(t < flat_until, LN10, LN10 * np.exp(-(t - flat_until) / tau))


def two_plateaus() -> tuple[np.ndarray, np.ndarray]:
    """Flat ln 10 on [0, 400), ramp down to 1.8 on [400, 500), flat 1.8 on [500, 1000), decay from 1000."""
    t = np.arange(1600, dtype=float)
    y = np.piecewise(
        t,
        [t < 400, (t >= 400) & (t < 500), (t >= 500) & (t < 1000), t >= 1000],
        [LN10, lambda x: LN10 + (1.8 - LN10) * (x - 400) / 100, 1.8, lambda x: 1.8 * np.exp(-(x - 1000) / 200)],
    )
    return t, y


def assert_bounds(found: Plateau, start: float, end: float, tol: float = W) -> None:
    assert abs(found.start - start) <= tol, (found, start)
    assert abs(found.end - end) <= tol, (found, end)


# ---- ema ---------------------------------------------------------------------------------------------------
def test_ema_matches_hand_computation():
    # beta = 0.5: m = 0.5, 1.25, 2.125; corrections 1 - 0.5**k = 0.5, 0.75, 0.875
    np.testing.assert_allclose(pl.ema([1.0, 2.0, 3.0], beta=0.5), [1.0, 1.25 / 0.75, 2.125 / 0.875])


def test_ema_of_constant_is_constant_thanks_to_bias_correction():
    np.testing.assert_allclose(pl.ema(np.full(500, 2.5)), 2.5, rtol=1e-12)
    np.testing.assert_allclose(pl.ema([3.0, 3.0, 3.0], beta=0.9), 3.0, rtol=1e-12)


def test_ema_beta_zero_is_identity_and_empty_is_empty():
    np.testing.assert_allclose(pl.ema([4.0, 1.0, 7.0], beta=0.0), [4.0, 1.0, 7.0])
    assert pl.ema([]).shape == (0,)


def test_ema_non_finite_propagates_as_nan_from_that_point():
    out = pl.ema([1.0, 1.0, float("inf"), 1.0, 1.0], beta=0.5)
    np.testing.assert_allclose(out[:2], 1.0)
    assert np.isnan(out[2:]).all()
    assert np.isnan(pl.ema([float("nan"), 1.0])).all()


def test_ema_rejects_beta_of_one():
    with pytest.raises(ValueError):
        pl.ema([1.0, 2.0], beta=1.0)


# ---- find_plateaus -----------------------------------------------------------------------------------------
def test_flat_then_fall_one_plateau_within_a_window():
    t, y = flat_then_fall()
    (p,) = pl.find_plateaus(t, pl.ema(y), W, 0.05)
    assert_bounds(p, 0, 600)
    assert p.level == pytest.approx(LN10)  # the bias-corrected EMA of a flat start is exactly flat


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_flat_then_fall_with_noise(seed):
    t, y = flat_then_fall()
    (p,) = pl.find_plateaus(t, pl.ema(noisy(y, seed)), W, 0.05)
    assert_bounds(p, 0, 600)
    assert p.level == pytest.approx(LN10, rel=0.02)


@pytest.mark.parametrize("seed", [None, 3, 4])
def test_two_plateaus_within_a_window(seed):
    t, y = two_plateaus()
    y = y if seed is None else noisy(y, seed)
    first, second = pl.find_plateaus(t, pl.ema(y), W, 0.05)
    assert_bounds(first, 0, 400)
    assert_bounds(second, 500, 1000)
    assert first.level == pytest.approx(LN10, rel=0.02)
    assert second.level == pytest.approx(1.8, rel=0.02)


def test_start_after_a_sudden_drop_lags_by_the_ema_settling_time():
    # A step from h to l at T: far from the bias-corrected start the EMA is l + (h-l) * beta**(k+1) at T+k.
    # The window [T+k, T+k+W] is flat enough once (h-l) beta**(k+1) (1 - beta**W) < r (l + (h-l) beta**(k+1)),
    # and the last stalled point before the drop is T+k with (h-l)(1 - beta**(k+1)) < r h.
    beta, r, h, low, T, n = 0.98, 0.05, LN10, 1.2, 800, 1600
    y = np.where(np.arange(n) < T, h, low)
    first, second = pl.find_plateaus(np.arange(n), pl.ema(y, beta), W, r)

    k_start = math.ceil(math.log(r * low / ((h - low) * (1 - beta**W - r))) / math.log(beta)) - 1
    k_end = math.ceil(math.log(1 - r * h / (h - low)) / math.log(beta)) - 2
    assert first.start == 0 and first.end == T + k_end
    assert second.start == T + k_start  # ~134 steps late for this halving: documented, not a bug
    assert second.end == n - 1
    assert second.level == pytest.approx(low, rel=1e-3)


def test_plateau_after_an_immediate_fall_is_found_later_and_not_at_the_start():
    # Linear fall ln10 -> 2.0 over 150 steps (~9% per window, more than r), flat 2.0 to 800, then decay.
    t = np.arange(1400, dtype=float)
    y = np.piecewise(
        t,
        [t < 150, (t >= 150) & (t < 800), t >= 800],
        [lambda x: LN10 + (2.0 - LN10) * x / 150, 2.0, lambda x: 2.0 * np.exp(-(x - 800) / 200)],
    )
    (p,) = pl.find_plateaus(t, pl.ema(y), W, 0.05)
    assert p.start > 0
    assert_bounds(p, 150, 800)


def test_exponential_decay_has_no_plateau():
    t = np.arange(2000, dtype=float)
    sm = pl.ema(LN10 * np.exp(-t / 500))  # loses 18% per window everywhere
    plateaus = pl.find_plateaus(t, sm, W, 0.05)
    assert plateaus == []
    assert pl.escape(t, sm, plateaus, 0.2) is None
    assert pl.plateau_fraction(t, plateaus) == 0.0


@pytest.mark.parametrize("seed", [5, 6])
def test_noisy_inverse_sqrt_decay_has_no_plateau(seed):
    # ln10 / sqrt(1 + t/20) loses more than r per window until t ~ 900 (1 - sqrt(620/720) = 7% at t = 600);
    # past that it would be a plateau by definition, so the run stops at 600.
    t = np.arange(601, dtype=float)
    res = run_analysis.analyze_run(t, np.full(t.size, 0.1), noisy(LN10 / np.sqrt(1 + t / 20), seed), [], [])
    assert res["plateaus"] == []
    assert res["escape_step"] is None and res["escape_lr"] is None
    assert res["plateau_fraction"] == 0.0


def test_slow_tail_counts_as_plateau_by_definition():
    # The same 1/sqrt curve continued to 3000 steps loses < 5% per window after t ~ 900.
    t = np.arange(3001, dtype=float)
    (p,) = pl.find_plateaus(t, pl.ema(LN10 / np.sqrt(1 + t / 20)), W, 0.05)
    assert abs(p.start - 906) <= W and p.end == 3000


def test_plateau_until_the_end_is_never_escaped():
    t = np.arange(800, dtype=float)
    sm = pl.ema(LN10 * (1 - 0.04 * t / 800))  # drifts down 4% in total: stalled throughout
    plateaus = pl.find_plateaus(t, sm, W, 0.05)
    assert plateaus == [Plateau(0, 799, pytest.approx(float(np.median(sm))))]
    assert pl.escape(t, sm, plateaus, 0.2) is None
    assert pl.plateau_fraction(t, plateaus) == 1.0


def test_steps_not_starting_at_zero_shift_the_answer():
    t, y = flat_then_fall()
    base = pl.find_plateaus(t, pl.ema(y), W, 0.05)
    shifted = pl.find_plateaus(t + 5000, pl.ema(y), W, 0.05)
    assert [(p.start - 5000, p.end - 5000, p.level) for p in shifted] == [(p.start, p.end, p.level) for p in base]


def test_sparse_logging_window_is_in_steps():
    # Logged every 10 steps, flat to step 6000 then decay; window 1000 steps = 100 points, beta per point.
    t, y = flat_then_fall()
    (p,) = pl.find_plateaus(10 * t, pl.ema(y), 10 * W, 0.05)
    assert_bounds(p, 0, 6000, tol=10 * W)


def test_series_shorter_than_window_has_no_plateau():
    t = np.arange(50, dtype=float)
    assert pl.find_plateaus(t, pl.ema(np.full(50, LN10)), W, 0.05) == []
    assert pl.find_plateaus([], [], W, 0.05) == []
    assert pl.find_plateaus([7], [1.0], W, 0.05) == []


def test_window_of_exactly_the_span_gives_a_plateau():
    t = np.arange(101, dtype=float)  # steps 0..100: one full window
    assert pl.find_plateaus(t, np.full(101, 1.0), W, 0.05) == [Plateau(0, 100, 1.0)]


def test_diverged_tail_is_neither_plateau_nor_escape():
    t, y = flat_then_fall(n=1000)
    y = y.copy()
    y[650:] = np.inf  # diverges 50 steps after the fall began, before any escape (~675)
    sm = pl.ema(y)
    (p,) = pl.find_plateaus(t, sm, W, 0.05)
    assert p.start == 0 and p.end < 650
    assert pl.escape(t, sm, [p], 0.2) is None
    assert pl.plateau_fraction(t, [p]) == pytest.approx((p.end + 1) / 1000)


def test_everything_after_the_first_non_finite_point_is_ignored():
    # A smoothed series passed in directly may recover after a NaN; the detector still stops at the NaN.
    sm = np.concatenate([np.full(300, LN10), [np.nan], np.full(300, 0.5)])
    t = np.arange(sm.size)
    (p,) = pl.find_plateaus(t, sm, W, 0.05)
    assert (p.start, p.end) == (0, 299)
    assert pl.escape(t, sm, [p], 0.2) is None


def test_non_finite_escape_lr_becomes_none():
    t, y = flat_then_fall()
    res = run_analysis.analyze_run(t, np.full(t.size, np.nan), y, [], [])
    assert res["escape_step"] is not None and res["escape_lr"] is None


def test_inputs_as_lists_and_validation():
    assert pl.find_plateaus(list(range(200)), [1.0] * 200, 100, 0.05) == [Plateau(0, 199, 1.0)]
    with pytest.raises(ValueError):
        pl.find_plateaus([0, 1, 2], [1.0, 1.0], W, 0.05)  # length mismatch
    with pytest.raises(ValueError):
        pl.find_plateaus([0, 2, 1], [1.0, 1.0, 1.0], W, 0.05)  # steps not increasing


# ---- escape ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [None, 7])
def test_escape_is_first_step_below_threshold(seed):
    t, y = flat_then_fall()
    y = y if seed is None else noisy(y, seed)
    sm = pl.ema(y)
    plateaus = pl.find_plateaus(t, sm, W, 0.05)
    level = plateaus[0].level
    expected = int(np.flatnonzero(sm < 0.8 * level)[0])
    assert pl.escape(t, sm, plateaus, 0.2) == expected
    if seed is None:
        # Noise-free the level is ln 10 exactly; the reference "escape" is EMA(0.98) < 0.8 ln 10.
        assert expected == int(np.flatnonzero(sm < 0.8 * LN10)[0])
        assert 600 < expected < 700


def test_escape_uses_the_first_plateau_and_searches_from_its_start():
    t, y = two_plateaus()
    sm = pl.ema(y)
    plateaus = pl.find_plateaus(t, sm, W, 0.05)
    # Dropping to 1.8 is below 0.8 ln 10 = 1.84, so the first plateau is escaped on the way down.
    assert pl.escape(t, sm, plateaus, 0.2) == int(np.flatnonzero(sm < 0.8 * plateaus[0].level)[0])
    # From the second plateau (level 1.8) the escape needs < 1.44, reached only in the final decay.
    second = pl.escape(t, sm, plateaus[1:], 0.2)
    assert second == int(np.flatnonzero(sm < 0.8 * plateaus[1].level)[0]) and second > 1000
    assert pl.escape(t, sm, [], 0.2) is None


def test_plateau_climbed_into_from_below_is_escaped_only_after_it():
    # Quick fall to ~1.0, climb to 2.0 over [200, 300) (a rise counts as stalled), flat to 900, decay.
    t = np.arange(1500, dtype=float)
    y = np.piecewise(
        t,
        [t < 200, (t >= 200) & (t < 300), (t >= 300) & (t < 900), t >= 900],
        [
            lambda x: 1.0 + (LN10 - 1.0) * np.exp(-x / 30),
            lambda x: 1.0 + (x - 200) / 100,
            2.0,
            lambda x: 2.0 * np.exp(-(x - 900) / 200),
        ],
    )
    sm = pl.ema(y)
    (p,) = pl.find_plateaus(t, sm, W, 0.05)
    assert p.start < 300 and abs(p.end - 900) <= W and p.level == pytest.approx(2.0, rel=0.01)
    threshold = 0.8 * p.level
    assert sm[p.start] < threshold  # starts on the low point before the climb
    # Directly: the first point below the threshold after the decay at 900 begins.
    expected = 900 + int(np.flatnonzero(sm[900:] < threshold)[0])
    assert pl.escape(t, sm, [p], 0.2) == expected


def test_analyze_run_escape_lr_is_the_lr_at_the_escape_step():
    t, y = flat_then_fall()
    t = t + 100  # steps need not start at 0
    lrs = 1e-3 + 1e-5 * np.arange(t.size)  # distinct LR per step
    res = run_analysis.analyze_run(t, lrs, y, [], [], beta=0.98, window=W, rel_drop=0.05, escape_drop=0.2, targets=[])
    idx = int(np.flatnonzero(pl.ema(y) < 0.8 * LN10)[0])
    assert res["escape_step"] == idx + 100
    assert res["escape_lr"] == pytest.approx(lrs[idx])


# ---- plateau_fraction --------------------------------------------------------------------------------------
def test_plateau_fraction_known_layouts():
    t = np.arange(1000)
    assert pl.plateau_fraction(t, [Plateau(0, 99, 1.0), Plateau(500, 749, 1.0)]) == pytest.approx(0.35)
    assert pl.plateau_fraction(t, [Plateau(0, 999, 1.0)]) == 1.0
    assert pl.plateau_fraction(t, []) == 0.0
    assert pl.plateau_fraction([], [Plateau(0, 10, 1.0)]) == 0.0
    # Logged every 10 steps: 50 of 100 points (0, 10, ..., 490) lie on [0, 495].
    assert pl.plateau_fraction(np.arange(0, 1000, 10), [Plateau(0, 495, 1.0)]) == pytest.approx(0.5)


# ---- steps_to_target ---------------------------------------------------------------------------------------
def test_target_key_is_compact():
    assert [targets.target_key(x) for x in (0.9, 0.90, 0.95, 1, 1.0, 0.999, 9e-1)] == [
        "0.9",
        "0.9",
        "0.95",
        "1",
        "1",
        "0.999",
        "0.9",
    ]


def test_steps_to_target_non_monotone_never_reached_and_first_eval():
    eval_steps = [100, 200, 300, 400]
    acc = [0.5, 0.92, 0.85, 0.96]  # reaches 0.9, drops back, then 0.95
    got = targets.steps_to_target(eval_steps, acc, [0.4, 0.9, 0.95, 0.99])
    assert got == {"0.4": 100, "0.9": 200, "0.95": 400, "0.99": None}
    assert list(got) == ["0.4", "0.9", "0.95", "0.99"]


def test_steps_to_target_edge_cases():
    assert targets.steps_to_target([], [], [0.9]) == {"0.9": None}
    assert targets.steps_to_target([10, 20], [float("nan"), 0.95], [0.9]) == {"0.9": 20}
    assert targets.steps_to_target([10], [0.95], 0.9) == {"0.9": 10}  # a single target
    assert targets.steps_to_target([10], [0.95], []) == {}


# ---- analyze_run -------------------------------------------------------------------------------------------
def test_analyze_run_is_json_ready():
    t, y = two_plateaus()
    res = run_analysis.analyze_run(
        t,
        np.full(t.size, 0.05),
        noisy(y, 8),
        [400, 800, 1200, 1600],
        np.array([0.2, 0.5, 0.91, 0.96]),
        beta=0.98,
        window=W,
        rel_drop=0.05,
        escape_drop=0.2,
        targets=[0.9, 0.95, 0.99],
    )
    assert set(res) == {"plateaus", "escape_step", "escape_lr", "plateau_fraction", "steps_to_target"}
    assert len(res["plateaus"]) == 2 and set(res["plateaus"][0]) == {"start", "end", "level"}
    assert res["steps_to_target"] == {"0.9": 1200, "0.95": 1600, "0.99": None}
    assert 0.5 < res["plateau_fraction"] < 0.8
    text = json.dumps(res, allow_nan=False)  # plain Python types only, no NaN
    assert json.loads(text) == res
    types = {type(v) for p in res["plateaus"] for v in p.values()}
    assert types <= {int, float}
    assert type(res["escape_step"]) is int and type(res["escape_lr"]) is float
    assert type(res["plateau_fraction"]) is float


@pytest.mark.parametrize(
    "losses",
    [[], [1.0] * 10, [float("nan")] * 300, [2.3] * 50 + [float("inf")] * 250],
    ids=["empty", "short", "all-nan", "diverged-early"],
)
def test_analyze_run_degenerate_runs(losses):
    n = len(losses)
    res = run_analysis.analyze_run(list(range(n)), [0.1] * n, losses, [], [], targets=[0.9])
    assert res == {
        "plateaus": [],
        "escape_step": None,
        "escape_lr": None,
        "plateau_fraction": 0.0,
        "steps_to_target": {"0.9": None},
    }
    json.dumps(res, allow_nan=False)


def test_analyze_run_accepts_missing_lrs():
    t, y = flat_then_fall()
    res = run_analysis.analyze_run(t, None, y, [], [])
    assert res["escape_step"] is not None and res["escape_lr"] is None
