"""runner/report/stats.py on its own: the t band of compare.png, the symmetry of a comparison, Smith's ratio CI."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from runner.report.stats import NO_VERDICT, Sample, compare, mean_band, ratio


def test_the_band_is_the_t_interval_of_the_mean_per_step():
    runs = [[1.0, 2.0, 4.0], [2.0, 2.5, 5.0], [4.0, 3.0, 5.5]]  # seeds x steps
    mean, low, high = mean_band(runs)
    for i in range(3):
        column = [r[i] for r in runs]
        expected = stats.t.interval(0.95, 2, loc=np.mean(column), scale=stats.sem(column))
        assert (low[i], high[i]) == pytest.approx(expected)
        assert mean[i] == pytest.approx(np.mean(column))
    mean, low, high = mean_band([[1.0, 2.0]])  # one seed: no band
    assert list(low) == list(mean) == list(high) == [1.0, 2.0]


@pytest.mark.parametrize(
    "a, b",
    [
        (Sample((0.95, 0.96, 0.97)), Sample((0.90, 0.91, 0.92))),  # Welch
        (Sample((30.0, 40.0, 50.0, 45.0)), Sample((100.0, 120.0), censored=2)),  # Mann-Whitney, censored
    ],
)
def test_swapping_the_groups_flips_the_verdict_and_the_sign(a, b):
    higher = a.values[0] < 1
    there = compare(a, b, higher_is_better=higher, censor_at=0.0 if higher else 300.0)
    back = compare(b, a, higher_is_better=higher, censor_at=0.0 if higher else 300.0)
    assert there.verdict == "better" and back.verdict == "worse"
    assert there.difference == pytest.approx(-back.difference) and there.p == pytest.approx(back.p)
    assert there.ci_low == pytest.approx(-back.ci_high) and there.ci_high == pytest.approx(-back.ci_low)


def test_fewer_than_three_seeds_give_a_difference_but_no_test():
    c = compare(Sample((0.99, 0.98)), Sample((0.5, 0.6, 0.55)), higher_is_better=True, censor_at=0.0)
    assert c.verdict == NO_VERDICT and c.p is None and c.ci_low is None and c.test == ""
    assert c.difference == pytest.approx(0.985 - 0.55)


def test_smiths_ratio_has_a_bootstrap_ci_around_it_from_three_seeds_on():
    value, low, high = ratio(Sample((50.0, 60.0, 55.0)), Sample((100.0, 110.0, 105.0)), 300.0)
    assert value == pytest.approx(55 / 105) and low < value < high < 1
    assert ratio(Sample((50.0, 60.0)), Sample((100.0, 110.0, 105.0)), 300.0)[1:] == (None, None)
