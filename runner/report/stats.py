"""One group's seeds against the baseline's: the test, the 95% confidence interval and the verdict (scipy.stats only).

A `Sample` is what the seeds of one group measured for one figure: the values, and how many seeds are censored
(never reached the target, never escaped their plateau, diverged). docs/report.md explains every choice made here.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE
MIN_N = 3  # below this, in either group, the report gives numbers but no p and no verdict
N_RESAMPLES = 9999
# Bootstrap and permutation resampling draw from this seed, so a rebuilt report is byte for byte the same.
RESAMPLING_SEED = 20170103

WELCH = "welch_t"
MANN_WHITNEY = "mann_whitney_u"
BETTER, WORSE = "better", "worse"
NO_VERDICT = "no verdict (n < 3)"
NEITHER = "reached by neither"
NOTHING = "no seed to compare (n = 0)"


@dataclass(frozen=True)
class Sample:
    """One group's seeds on one figure: the measured values and the count of censored seeds (worst outcome)."""

    values: tuple[float, ...]
    censored: int = 0

    @property
    def n(self) -> int:
        return len(self.values) + self.censored

    @property
    def reached(self) -> str:
        return f"{len(self.values)}/{self.n}"

    def filled(self, censor_at: float) -> np.ndarray:
        """The values with each censored seed counted at `censor_at` (the run length, or accuracy 0)."""
        return np.array([*self.values, *[censor_at] * self.censored], dtype=float)


@dataclass(frozen=True)
class Comparison:
    """A group minus the baseline on one figure. `difference` is of means (Welch) or medians (Mann-Whitney)."""

    n: int
    n_baseline: int
    reached: str
    reached_baseline: str
    difference: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p: float | None = None
    test: str = ""
    verdict: str = NO_VERDICT
    # "group", "baseline" or "both" when half the seeds or more are censored there: that median is the run length
    # (or accuracy 0) by convention, so the difference is a convention too, not a size to quote.
    censored_median: str = ""

    @property
    def detected(self) -> bool:
        return self.verdict in (BETTER, WORSE)


def n_text(n: int, n_baseline: int) -> str:
    return f"n = {n}" if n == n_baseline else f"n = {n} and {n_baseline}"


def compare(sample: Sample, base: Sample, *, higher_is_better: bool, censor_at: float) -> Comparison:
    """`sample` against `base`: Welch's t on the mean difference when no seed is censored, else Mann-Whitney U with
    censored seeds at the worst rank and a bootstrap CI of the median difference (censored seeds at `censor_at`)."""
    head = dict(n=sample.n, n_baseline=base.n, reached=sample.reached, reached_baseline=base.reached)
    if not sample.n or not base.n:
        return Comparison(**head, verdict=NOTHING)
    if not sample.values and not base.values:
        return Comparison(**head, verdict=NEITHER)
    if min(sample.n, base.n) < MIN_N:
        return Comparison(**head, difference=_median_or_mean(sample, base, censor_at))
    x, y = sample.filled(censor_at), base.filled(censor_at)
    no_spread = np.ptp(x) == 0 and np.ptp(y) == 0  # t is undefined or infinite: the ranks still say something
    if sample.censored == 0 and base.censored == 0 and not no_spread:
        with warnings.catch_warnings():
            # scipy warns of precision loss when one side's seeds are (nearly) equal, e.g. every seed reaching a
            # target at the same evaluation; the other side's spread still makes t and its CI well defined.
            warnings.simplefilter("ignore", RuntimeWarning)
            result = stats.ttest_ind(x, y, equal_var=False)
            ci = result.confidence_interval(CONFIDENCE)
        difference, low, high, p, test = float(x.mean() - y.mean()), float(ci.low), float(ci.high), result.pvalue, WELCH
    else:
        worst = -math.inf if higher_is_better else math.inf
        p = _rank_p(sample.filled(worst), base.filled(worst))
        difference = float(np.median(x) - np.median(y))
        low, high = _bootstrap(x, y, lambda a, b, axis: np.median(a, axis=axis) - np.median(b, axis=axis))
        test = MANN_WHITNEY
    sides = (2 * sample.censored >= sample.n, 2 * base.censored >= base.n)
    censored_median = {(True, False): "group", (False, True): "baseline", (True, True): "both"}.get(sides, "")
    p = float(p)
    # Both must agree before a difference is called: the p of the test and a CI that leaves 0 out.
    detected = p < ALPHA and (low > 0 or high < 0)
    if detected:
        verdict = BETTER if (difference > 0) == higher_is_better else WORSE
    else:
        verdict = f"no detectable difference at {n_text(sample.n, base.n)}"
    return Comparison(
        **head,
        difference=difference,
        ci_low=low,
        ci_high=high,
        p=p,
        test=test,
        verdict=verdict,
        censored_median=censored_median if test == MANN_WHITNEY else "",
    )


def ratio(sample: Sample, base: Sample, censor_at: float) -> tuple[float | None, float | None, float | None]:
    """Mean of `sample` over mean of `base` (censored seeds at `censor_at`), with a bootstrap 95% CI that resamples
    the seeds of both groups; no CI with n < 3 in either."""
    if not sample.n or not base.n:
        return None, None, None
    x, y = sample.filled(censor_at), base.filled(censor_at)
    if y.mean() == 0:
        return None, None, None
    value = float(x.mean() / y.mean())
    if min(sample.n, base.n) < MIN_N:
        return value, None, None
    low, high = _bootstrap(x, y, lambda a, b, axis: np.mean(a, axis=axis) / np.mean(b, axis=axis))
    return value, low, high


def mean_band(columns: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column (one value per seed): the mean and its t-based 95% confidence band; no band for a single seed."""
    data = np.asarray(columns, dtype=float)  # seeds x points
    mean = data.mean(axis=0)
    n = data.shape[0]
    if n < 2:
        return mean, mean, mean
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * stats.sem(data, axis=0)
    return mean, mean - half, mean + half


def _median_or_mean(sample: Sample, base: Sample, censor_at: float) -> float:
    """The difference a table shows without a test: of medians when a seed is censored, else of means."""
    x, y = sample.filled(censor_at), base.filled(censor_at)
    if sample.censored or base.censored:
        return float(np.median(x) - np.median(y))
    return float(x.mean() - y.mean())


def _rank_p(x: np.ndarray, y: np.ndarray) -> float:
    # Ties are common (censored seeds, steps counted at evaluations): a permutation p is exact for small groups
    # where the normal approximation is not, and the fixed seed makes it repeat for large ones.
    method = stats.PermutationMethod(n_resamples=N_RESAMPLES, rng=np.random.default_rng(RESAMPLING_SEED))
    return float(stats.mannwhitneyu(x, y, alternative="two-sided", method=method).pvalue)


def _bootstrap(x: np.ndarray, y: np.ndarray, statistic: Callable) -> tuple[float, float]:
    """Percentile bootstrap CI (BCa is undefined when the resampled statistic has no spread, common here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns on degenerate resamples; the percentile CI is still right
        result = stats.bootstrap(
            (x, y),
            statistic,
            vectorized=True,
            n_resamples=N_RESAMPLES,
            confidence_level=CONFIDENCE,
            method="percentile",
            rng=np.random.default_rng(RESAMPLING_SEED),
        )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)
