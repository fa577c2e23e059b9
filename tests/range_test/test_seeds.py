"""The three rules on synthetic curves with known answers, the median over seeds and its spread, and the warnings:
seeds that disagree by more than range_test.max_spread, and curves that never improved."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import numpy as np
import pytest

from runner.analysis.plateaus import ema
from runner.config import validate
from runner.errors import ConfigError
from runner.range_test import task
from runner.range_test.loop import RangeTestResult, lr_at
from runner.range_test.rules import MIN_OVER_10_FACTOR, RULES, STEEPEST_FACTOR, all_rules
from runner.range_test.seeds import aggregate, disagreement, middle, spread, unusable
from runner.schedules.bounds_file import read_bounds
from support import compose

STEPS, BETA = 300, 0.9
LRS = [lr_at(i, STEPS, 1e-4, 10.0, "exponential") for i in range(STEPS)]  # about 60 steps per decade
LAG = 9  # beta / (1 - beta)


def curve(shift: int = 0) -> np.ndarray:
    """A loss that falls from 2.0 to 0.5, steepest at step 150 + shift, bottoms out and climbs from 220 + shift."""
    i = np.arange(STEPS, dtype=float)
    fall = 1.25 - 0.75 * np.tanh((i - 150 - shift) / 20)
    return np.where(i < 220 + shift, fall, fall + 0.05 * (i - 220 - shift))


def test_the_three_rules_on_a_curve_with_known_answers():
    smoothed = ema(curve(), BETA)
    got = all_rules(LRS, smoothed, BETA, improve_fraction=0.1)
    assert got["usable"] and got["reason"] is None
    assert set(got) == {"usable", "reason", *RULES} == {"usable", "reason", "smith", "steepest", "min_over_10"}
    i_min = int(np.argmin(smoothed))
    # smith: the existing rule, read LAG steps before the smoothed minimum.
    assert got["smith"]["max_lr"] == LRS[i_min - LAG] and got["smith"]["min_step"] == i_min
    # steepest: the raw curve falls fastest at step 150; the EMA shows it about LAG steps later and the rule
    # reads it LAG steps earlier again.
    assert LRS[146] <= got["steepest"]["max_lr"] <= LRS[154]
    assert got["steepest"]["base_lr"] == got["steepest"]["max_lr"] / STEEPEST_FACTOR == got["steepest"]["max_lr"] / 4
    # min_over_10: the LR at the minimum (the same lag-corrected point as smith's max_lr) over 10.
    assert got["min_over_10"]["max_lr"] == pytest.approx(LRS[i_min - LAG] / 10)
    assert got["min_over_10"]["base_lr"] == pytest.approx(got["min_over_10"]["max_lr"] / MIN_OVER_10_FACTOR)
    for rule in RULES:
        assert 0 < got[rule]["base_lr"] < got[rule]["max_lr"], rule


def test_steepest_skips_the_noise_of_the_first_steps():
    raw = curve()
    raw[3] = 0.2  # one lucky batch while the EMA has seen only four losses: a steep "fall" that is noise
    got = all_rules(LRS, ema(raw, BETA), BETA, improve_fraction=0.1)
    assert LRS[146] <= got["steepest"]["max_lr"] <= LRS[154]


@pytest.mark.parametrize(
    "raw,reason",
    [
        (np.linspace(2.0, 4.0, 50), "never fell below its first value"),  # it only got worse
        (np.r_[2.0, 1.9, np.full(48, 9.0)], "within the EMA's lag"),  # best at step 1, then worse: the start
        (np.r_[2.0, np.inf, np.full(48, np.nan)], "never fell below its first value"),  # diverged at once
        (np.full(50, np.nan), "not finite at the first step"),
    ],
)
def test_a_curve_that_never_improved_suggests_nothing(raw, reason):
    got = all_rules(LRS[:50], ema(raw, BETA), BETA, improve_fraction=0.1)
    assert not got["usable"] and reason in got["reason"]
    assert all(got[rule]["base_lr"] is None and got[rule]["max_lr"] is None for rule in RULES)


def test_median_and_spread():
    assert middle([0.157, 0.083, 0.096]) == 0.096
    assert middle([0.01, 0.04]) == pytest.approx(0.02)  # even count: geometric mean of the middle two
    assert spread([0.157, 0.083, 0.096]) == {"min": 0.083, "max": 0.157, "ratio": pytest.approx(0.157 / 0.083)}


def entries(shifts: list[int]) -> list[dict]:
    out = []
    for seed, shift in enumerate(shifts):
        result = RangeTestResult(lrs=LRS, losses=list(curve(shift)), accuracy=[None] * STEPS)
        rt = SimpleNamespace(smoothing=BETA, improve_fraction=0.1)
        out.append(task.read_curve(seed, result, rt)[0])
    return out


def test_three_seeds_aggregate_to_the_median_of_each_rule():
    per_seed = entries([20, 0, 10])
    agg = aggregate(per_seed, list(RULES))
    assert set(agg) == set(RULES)
    for rule in RULES:
        tops = [e["rules"][rule]["max_lr"] for e in per_seed]
        bases = [e["rules"][rule]["base_lr"] for e in per_seed]
        assert len(set(tops)) == 3, rule  # the shifts moved every rule's suggestion
        assert agg[rule]["max_lr"] == sorted(tops)[1] == per_seed[2]["rules"][rule]["max_lr"]
        assert agg[rule]["base_lr"] == sorted(bases)[1]
        assert agg[rule]["spread"]["max_lr"] == {"min": min(tops), "max": max(tops), "ratio": max(tops) / min(tops)}
        assert agg[rule]["base_lr"] < agg[rule]["max_lr"]


def test_seeds_that_disagree_by_more_than_max_spread_are_warned_about():
    # About 60 steps per decade: minima 20 steps apart are 2.16x apart, 6 steps apart 1.26x.
    far = aggregate(entries([0, 10, 20]), list(RULES))
    assert far["smith"]["spread"]["max_lr"]["ratio"] == pytest.approx(LRS[20] / LRS[0]) == pytest.approx(2.16, abs=0.01)
    warning = disagreement(far, "smith", 1.5, [0, 1, 2])
    assert (
        warning is not None and "seeds 0, 1, 2 disagree" in warning and "2.16x > range_test.max_spread=1.5x" in warning
    )
    near = aggregate(entries([0, 3, 6]), list(RULES))
    assert near["smith"]["spread"]["max_lr"]["ratio"] == pytest.approx(LRS[6] / LRS[0]) == pytest.approx(1.26, abs=0.01)
    assert disagreement(near, "smith", 1.5, [0, 1, 2]) is None
    assert disagreement(near, "smith", 1.2, [0, 1, 2]) is not None  # the threshold is the key's


def test_unusable_seeds_are_named_with_their_reason():
    per_seed = entries([0, 0])
    assert unusable(per_seed) is None
    bad = {**per_seed[1], "seed": 7, "usable": False, "reason": "the smoothed loss never fell below its first value"}
    assert (
        unusable([per_seed[0], bad]) == "no usable bounds (seed 7: the smoothed loss never fell below its first value)"
    )


# ---- the task's wiring, on synthetic curves (no training) ---------------------------------------------------
def fake_seeds(monkeypatch, shifts: dict[int, int | None]) -> None:
    """Replace the training part of each seed's test by a synthetic curve (None: one that only gets worse)."""

    def fake(cfg, seed):
        losses = list(curve(shifts[seed])) if shifts[seed] is not None else list(np.linspace(2.0, 4.0, STEPS))
        result = RangeTestResult(lrs=LRS, losses=losses, accuracy=[None] * STEPS)
        entry, drawn = task.read_curve(seed, result, cfg.range_test)
        return {**entry, "model_unchanged": True}, drawn, SimpleNamespace(train_x=range(100), device="cpu"), 1

    monkeypatch.setattr(task, "range_test_seed", fake)


def test_the_task_writes_each_seed_the_medians_and_the_disagreement_warning(monkeypatch, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="runner")
    fake_seeds(monkeypatch, {5: 20, 6: 0, 7: 10})
    cfg = validate(compose("task=range_test", "seed=5"))
    assert task.run(cfg, tmp_path) == "completed"
    result = json.loads((tmp_path / "range_test.json").read_text())
    assert result["layout"] == 2 and result["rule"] == "smith" and result["seeds"] == [5, 6, 7]
    assert [e["seed"] for e in result["per_seed"]] == [5, 6, 7]
    assert set(result["aggregate"]) == set(result["rules"]) == set(RULES)
    assert result["aggregate"]["smith"]["max_lr"] == result["per_seed"][2]["rules"]["smith"]["max_lr"]
    assert len(result["warnings"]) == 1 and "disagree" in result["warnings"][0]
    assert any("disagree" in r.message and r.levelname == "WARNING" for r in caplog.records)
    assert sum(r.getMessage().startswith("seed ") for r in caplog.records) == 3  # one progress line per seed
    assert read_bounds(str(tmp_path)) == (
        result["aggregate"]["smith"]["base_lr"],
        result["aggregate"]["smith"]["max_lr"],
    )
    assert (tmp_path / "range_test.png").read_bytes()[:4] == b"\x89PNG"


def test_bounds_from_uses_the_median_of_the_chosen_rule(monkeypatch, tmp_path):
    fake_seeds(monkeypatch, {0: 0, 1: 3, 2: 6})
    cfg = validate(compose("task=range_test", "range_test.rule=steepest"))
    task.run(cfg, tmp_path)
    result = json.loads((tmp_path / "range_test.json").read_text())
    assert result["warnings"] == []  # 1.26x: within max_spread
    steepest = result["aggregate"]["steepest"]
    assert (
        read_bounds(str(tmp_path))
        == (steepest["base_lr"], steepest["max_lr"])
        != (
            result["aggregate"]["smith"]["base_lr"],
            result["aggregate"]["smith"]["max_lr"],
        )
    )


def test_one_seed_that_never_improved_stops_the_task_with_one_line(monkeypatch, tmp_path):
    fake_seeds(monkeypatch, {0: 0, 1: None, 2: 0})
    cfg = validate(compose("task=range_test"))
    with pytest.raises(ConfigError) as err:
        task.run(cfg, tmp_path)
    line = str(err.value)
    assert line.startswith("range_test.min_lr=") and "seed 1: the smoothed loss never fell" in line and "\n" not in line
    result = json.loads((tmp_path / "range_test.json").read_text())
    assert result["aggregate"] is None and "no usable bounds" in result["warnings"][0]
    assert result["per_seed"][1]["usable"] is False and result["per_seed"][0]["usable"] is True
    with pytest.raises(ConfigError, match="suggests no bounds"):
        read_bounds(str(tmp_path))


@pytest.mark.parametrize(
    "override,key",
    [
        ("range_test.seeds=0", "range_test.seeds"),
        ("range_test.rule=median", "range_test.rule"),
        ("range_test.max_spread=0.9", "range_test.max_spread"),
    ],
)
def test_bad_seed_settings_are_refused_naming_the_key(override, key):
    with pytest.raises(ConfigError, match=f"^{key}="):
        validate(compose(override))
