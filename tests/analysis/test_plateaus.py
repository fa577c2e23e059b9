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
    (p,) = pl.find_plateaus(t, pl.centred_median(y), W, 0.05)
    assert_bounds(p, 0, 600)
    assert p.level == pytest.approx(LN10)  # the bias-corrected EMA of a flat start is exactly flat


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_flat_then_fall_with_noise(seed):
    t, y = flat_then_fall()
    (p,) = pl.find_plateaus(t, pl.centred_median(noisy(y, seed)), W, 0.05)
    assert_bounds(p, 0, 600)
    assert p.level == pytest.approx(LN10, rel=0.02)


@pytest.mark.parametrize("seed", [None, 3, 4])
def test_two_plateaus_within_a_window(seed):
    t, y = two_plateaus()
    y = y if seed is None else noisy(y, seed)
    first, second = pl.find_plateaus(t, pl.centred_median(y), W, 0.05)
    assert_bounds(first, 0, 400)
    assert_bounds(second, 500, 1000)
    assert first.level == pytest.approx(LN10, rel=0.02)
    assert second.level == pytest.approx(1.8, rel=0.02)


def test_bounds_at_a_sudden_drop_are_exact_on_the_centred_median():
    # The old EMA detector started the plateau after a halving ~134 steps late (the EMA's settling time). The
    # centred median keeps a step a step, so the bounds are where the loss changed.
    h, low, T, n = LN10, 1.2, 800, 1600
    y = np.where(np.arange(n) < T, h, low)
    first, second = pl.find_plateaus(np.arange(n), pl.centred_median(y), W, 0.05)
    assert (first.start, first.end) == (0, T - 1)
    assert (second.start, second.end) == (T, n - 1)
    assert second.level == low


def test_centred_median_has_no_lag_on_a_monotone_curve_and_keeps_a_step():
    t = np.arange(500, dtype=float)
    fall = LN10 * np.exp(-t / 100)
    h = pl.half_width(0.98)
    np.testing.assert_allclose(pl.centred_median(fall)[h:-h], fall[h:-h])  # the ends use a one-sided window
    step = np.where(t < 250, 2.0, 1.0)
    np.testing.assert_array_equal(pl.centred_median(step), step)
    assert pl.half_width(0.98) == 25 and pl.half_width(0.0) == 0
    np.testing.assert_array_equal(pl.centred_median([3.0, 1.0, 2.0], beta=0.0), [3.0, 1.0, 2.0])


def test_centred_median_ignores_outliers_and_stops_at_the_first_non_finite_value():
    y = np.full(200, 2.0)
    y[100] = 50.0  # one wild minibatch
    np.testing.assert_array_equal(pl.centred_median(y), 2.0)
    out = pl.centred_median([1.0] * 60 + [np.inf] + [1.0] * 10)
    assert np.all(out[:60] == 1.0) and np.isnan(out[60:]).all()


def test_plateau_after_an_immediate_fall_is_found_later_and_not_at_the_start():
    # Linear fall ln10 -> 2.0 over 150 steps (~9% per window, more than r), flat 2.0 to 800, then decay.
    t = np.arange(1400, dtype=float)
    y = np.piecewise(
        t,
        [t < 150, (t >= 150) & (t < 800), t >= 800],
        [lambda x: LN10 + (2.0 - LN10) * x / 150, 2.0, lambda x: 2.0 * np.exp(-(x - 800) / 200)],
    )
    (p,) = pl.find_plateaus(t, pl.centred_median(y), W, 0.05)
    assert p.start > 0
    assert_bounds(p, 150, 800)


def test_exponential_decay_has_no_plateau():
    t = np.arange(2000, dtype=float)
    sm = pl.centred_median(LN10 * np.exp(-t / 500))  # loses 18% per window everywhere
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


def test_power_law_tail_is_a_plateau_only_once_flatter_than_half_r():
    # The old detector called the whole tail after t ~ 900 (less than r per window) a plateau. A plateau must
    # be flat as a whole (fall below r/2 per window): ln10/sqrt(1 + t/20) falls 50/(t+20) per window, less
    # than 2.5% only after t ~ 1980.
    t = np.arange(3001, dtype=float)
    found = pl.find_plateaus(t, pl.centred_median(LN10 / np.sqrt(1 + t / 20)), W, 0.05)
    assert all(p.start >= 1900 for p in found), found
    assert pl.find_plateaus(t[:1900], pl.centred_median(LN10 / np.sqrt(1 + t[:1900] / 20)), W, 0.05) == []


def test_slow_steady_decline_is_not_a_plateau():
    # 3% per window is below r everywhere: the old detector made the whole run one plateau and "escaped" it.
    t = np.arange(2000, dtype=float)
    assert pl.find_plateaus(t, pl.centred_median(LN10 * 0.97 ** (t / 100)), W, 0.05) == []


def test_hysteresis_keeps_one_plateau_through_dips_above_r():
    # Flat, with two short dips that fall 7% over a window (above r, below 2r) and come back: one plateau.
    t = np.arange(1200, dtype=float)
    y = LN10 * (1 - 0.07 * (np.exp(-(((t - 400) / 20) ** 2)) + np.exp(-(((t - 800) / 20) ** 2))))
    (p,) = pl.find_plateaus(t, pl.centred_median(y), W, 0.05)
    assert (p.start, p.end) == (0, 1199)


def test_plateau_until_the_end_is_never_escaped():
    t = np.arange(800, dtype=float)
    sm = pl.centred_median(LN10 * (1 - 0.04 * t / 800))  # drifts down 4% in total: stalled throughout
    plateaus = pl.find_plateaus(t, sm, W, 0.05)
    assert plateaus == [Plateau(0, 799, pytest.approx(float(np.median(sm))))]
    assert pl.escape(t, sm, plateaus, 0.2) is None
    assert pl.plateau_fraction(t, plateaus) == 1.0


def test_steps_not_starting_at_zero_shift_the_answer():
    t, y = flat_then_fall()
    base = pl.find_plateaus(t, pl.centred_median(y), W, 0.05)
    shifted = pl.find_plateaus(t + 5000, pl.centred_median(y), W, 0.05)
    assert [(p.start - 5000, p.end - 5000, p.level) for p in shifted] == [(p.start, p.end, p.level) for p in base]


def test_sparse_logging_window_is_in_steps():
    # Logged every 10 steps, flat to step 6000 then decay; window 1000 steps = 100 points, beta per point.
    t, y = flat_then_fall()
    (p,) = pl.find_plateaus(10 * t, pl.centred_median(y), 10 * W, 0.05)
    assert_bounds(p, 0, 6000, tol=10 * W)


def test_series_shorter_than_window_has_no_plateau():
    t = np.arange(50, dtype=float)
    assert pl.find_plateaus(t, pl.centred_median(np.full(50, LN10)), W, 0.05) == []
    assert pl.find_plateaus([], [], W, 0.05) == []
    assert pl.find_plateaus([7], [1.0], W, 0.05) == []


def test_a_plateau_needs_half_a_window_of_stalled_points():
    # The first point with a full window behind it is at step W; a plateau needs W/2 steps of stalled points.
    assert pl.find_plateaus(np.arange(151), np.full(151, 1.0), W, 0.05) == [Plateau(0, 150, 1.0)]
    assert pl.find_plateaus(np.arange(149), np.full(149, 1.0), W, 0.05) == []


def test_diverged_tail_is_neither_plateau_nor_escape():
    t, y = flat_then_fall(n=1000)
    y = y.copy()
    y[650:] = np.inf  # diverges 50 steps after the fall began, before any escape (~675)
    sm = pl.centred_median(y)
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
    sm = pl.centred_median(y)
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
    sm = pl.centred_median(y)
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
    sm = pl.centred_median(y)
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
    idx = int(np.flatnonzero(y < 0.8 * LN10)[0])  # where the loss itself crossed (the EMA crossed ~50 later)
    assert res["escape_status"] == "escaped" and res["escape_step"] == idx + 100
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
    assert set(res) == {"plateaus", "escape_status", "escape_step", "escape_lr", "plateau_fraction", "steps_to_target"}
    assert res["escape_status"] == "escaped"
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
        "escape_status": None,  # too short (or no finite loss) to tell
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
