"""The LR range test: the LR ramp, Smith's rule on synthetic curves with known answers, the model and optimizer
left untouched, the three files through the real CLI (one test per seed, a test that never improved), and
schedule.bounds_from chaining into training from both range_test.json layouts. The other two rules, the median
over seeds and the warnings: test_seeds.py."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from runner.analysis.plateaus import ema
from runner.config import validate
from runner.data import load_dataset
from runner.errors import ConfigError
from runner.models import build_model
from runner.optimizers import build_optimizer
from runner.range_test.bounds import ema_lag, suggest_bounds
from runner.range_test.loop import lr_at, lr_range_test
from runner.range_test.rules import RULES
from runner.range_test.task import range_test_seed
from runner.schedules.bounds_file import read_bounds
from support import DEBIAN_DIR, compose, read_csv, read_json, real_fashion_mnist_or_skip


# ---- the ramp and the rule ----------------------------------------------------------------------------------
def test_lr_ramp_runs_from_min_to_max_linearly_or_evenly_over_decades():
    assert lr_at(0, 101, 1e-4, 1.0, "linear") == 1e-4
    assert lr_at(100, 101, 1e-4, 1.0, "linear") == pytest.approx(1.0)
    assert lr_at(50, 101, 0.0, 1.0, "linear") == pytest.approx(0.5)
    assert lr_at(100, 101, 1e-4, 1.0, "exponential") == pytest.approx(1.0)
    assert lr_at(25, 101, 1e-4, 1.0, "exponential") == pytest.approx(1e-3)  # a quarter of four decades


def test_suggestion_on_a_synthetic_curve_with_known_answers():
    # Flat at 2.0 for 100 steps, a linear fall to 0.5 by step 200, flat to 250, then a climb: the smoothed minimum
    # sits at the end of the flat bottom (the EMA is still catching up); base where 10% of the fall is done.
    steps = 300
    lrs = [lr_at(i, steps, 1e-4, 10.0, "exponential") for i in range(steps)]
    raw = np.concatenate([np.full(100, 2.0), np.linspace(2.0, 0.5, 100), np.full(50, 0.5), np.linspace(0.5, 3, 50)])
    beta = 0.9
    smoothed = ema(raw, beta)
    got = suggest_bounds(lrs, smoothed, beta, improve_fraction=0.1)
    lag = ema_lag(beta)
    assert lag == 9
    i_min = int(np.argmin(smoothed))
    assert 240 <= i_min <= 252
    assert got["suggested_max_lr"] == lrs[i_min - lag]
    i_base = int(np.argmax(smoothed <= smoothed[0] - 0.1 * (smoothed[0] - smoothed[i_min])))
    assert 105 <= i_base <= 130 and got["suggested_base_lr"] == lrs[i_base - lag]
    assert got["suggested_base_lr"] < got["suggested_max_lr"] and got["base_rule"] == "improve_fraction"


def test_suggestion_ignores_the_diverged_tail_and_falls_back_to_a_quarter_of_max():
    lrs = list(np.linspace(0.01, 1.0, 50))
    smoothed = [2.0] * 30 + [1.0] + [float("nan")] * 19  # one sudden drop, then NaN
    got = suggest_bounds(lrs, smoothed, beta=0.0)
    assert got["suggested_max_lr"] == lrs[30]
    assert got["suggested_base_lr"] == pytest.approx(lrs[30] / 4) and got["base_rule"] == "max_lr/4"
    with pytest.raises(ValueError):
        suggest_bounds(lrs, [float("nan")] * 50, beta=0.9)


# ---- the test leaves what it was given untouched ------------------------------------------------------------
def digits_setup(*overrides: str):
    cfg = validate(compose(*overrides))
    data = load_dataset(cfg.dataset)
    torch.manual_seed(0)
    model = build_model(cfg.model, data.input_shape, data.num_classes)
    optimizer = build_optimizer(cfg.optimizer, model.parameters())
    return cfg, data, model, optimizer


def test_model_optimizer_and_rng_are_identical_after_the_test():
    _, data, model, optimizer = digits_setup("model.dropout=0.2")  # dropout draws from the global RNG
    # One real step first, so the optimizer holds momentum buffers the test must not touch.
    optimizer.param_groups[0]["lr"] = 0.01
    torch.nn.functional.cross_entropy(model(data.train_x[:32]), data.train_y[:32]).backward()
    optimizer.step()
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    buffers = {i: s["momentum_buffer"].clone() for i, s in enumerate(optimizer.state.values())}
    groups = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    rng = torch.get_rng_state()
    result = lr_range_test(
        model,
        optimizer,
        data,
        min_lr=1e-3,
        max_lr=1.0,
        steps=60,
        mode="exponential",
        batch_size=32,
        seed=0,
        smoothing=0.9,
        diverge_factor=4.0,
        eval_every=20,
        eval_size=100,
    )
    assert len(result.lrs) > 10
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    assert all(torch.equal(buffers[i], s["momentum_buffer"]) for i, s in enumerate(optimizer.state.values()))
    assert [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups] == groups
    assert torch.equal(torch.get_rng_state(), rng)
    assert model.training


def test_the_test_stops_once_the_loss_diverges():
    _, data, model, optimizer = digits_setup()
    result = lr_range_test(
        model,
        optimizer,
        data,
        min_lr=1e-3,
        max_lr=1e4,
        steps=200,
        mode="exponential",
        batch_size=32,
        seed=0,
        smoothing=0.9,
        diverge_factor=4.0,
        eval_every=50,
        eval_size=100,
    )
    assert result.stopped in ("diverged", "not_finite") and len(result.lrs) < 200


# ---- schedule.bounds_from -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "content,detail",
    [
        (None, "no range-test result"),
        ("{not json", "is not a range-test result"),
        ('{"suggested_base_lr": 0.01}', "missing 'suggested_max_lr'"),
        ('{"suggested_base_lr": 0.1, "suggested_max_lr": 0.01}', "unusable bounds"),
        ('{"suggested_base_lr": NaN, "suggested_max_lr": 0.01}', "unusable bounds"),
    ],
)
def test_a_missing_or_malformed_result_is_one_line_naming_the_key(tmp_path, content, detail):
    if content is not None:
        (tmp_path / "range_test.json").write_text(content)
    with pytest.raises(ConfigError) as err:
        read_bounds(str(tmp_path))
    assert str(err.value).startswith("schedule.bounds_from=") and detail in str(err.value)
    assert "\n" not in str(err.value)


def new_layout(**aggregate) -> dict:
    """A range_test.json of layout 2 whose chosen rule is smith (only what bounds_from reads, plus a distractor)."""
    return {"layout": 2, "rule": "smith", "aggregate": aggregate, "warnings": [], "per_seed": []}


def test_bounds_from_reads_the_single_seed_layout(tmp_path, monkeypatch):
    # Study 1's range test as it was written before range_test.seeds existed (kept verbatim in tests/range_test/data):
    # top-level suggestions, no layout key. Folders users made then must keep working.
    old = tmp_path / "old_range_test"
    old.mkdir()
    (old / "range_test.json").write_text((Path(__file__).parent / "data" / "single_seed_range_test.json").read_text())
    data = read_json(old / "range_test.json")
    assert "layout" not in data and "aggregate" not in data
    assert read_bounds(str(old)) == (data["suggested_base_lr"], data["suggested_max_lr"])
    monkeypatch.chdir(tmp_path)
    assert read_bounds("old_range_test") == read_bounds(str(old))


def test_bounds_from_reads_the_median_of_the_chosen_rule(tmp_path):
    doc = new_layout(
        smith={"base_lr": 0.001, "max_lr": 0.06}, steepest={"base_lr": 0.0005, "max_lr": 0.002}, min_over_10={}
    )
    (tmp_path / "range_test.json").write_text(json.dumps(doc))
    assert read_bounds(str(tmp_path)) == (0.001, 0.06)
    (tmp_path / "range_test.json").write_text(json.dumps({**doc, "rule": "steepest"}))
    assert read_bounds(str(tmp_path)) == (0.0005, 0.002)


@pytest.mark.parametrize(
    "doc,detail",
    [
        (
            {"layout": 2, "rule": "smith", "aggregate": None, "warnings": ["no usable bounds (seed 0: ...)"]},
            "suggests no bounds (no usable bounds (seed 0: ...))",
        ),
        (new_layout(steepest={"base_lr": 0.1, "max_lr": 0.2}), "missing 'smith'"),
        (new_layout(smith={"base_lr": 0.2, "max_lr": 0.1}), "unusable bounds"),
        ([1, 2], "is not a range-test result"),
    ],
)
def test_a_new_layout_without_usable_bounds_is_one_line(tmp_path, doc, detail):
    (tmp_path / "range_test.json").write_text(json.dumps(doc))
    with pytest.raises(ConfigError) as err:
        read_bounds(str(tmp_path))
    assert str(err.value).startswith("schedule.bounds_from=") and detail in str(err.value)
    assert "\n" not in str(err.value)


def test_bounds_from_replaces_base_and_max_lr(tmp_path):
    (tmp_path / "range_test.json").write_text(json.dumps({"suggested_base_lr": 0.003, "suggested_max_lr": 0.2}))
    cfg = validate(compose("schedule=triangular2", f"schedule.bounds_from={tmp_path}", "schedule.base_lr=0.05"))
    assert (cfg.schedule.base_lr, cfg.schedule.max_lr) == (0.003, 0.2)
    assert read_bounds(str(tmp_path / "range_test.json")) == (0.003, 0.2)


# ---- end to end through the command line --------------------------------------------------------------------
def assert_range_test_folder(out, seeds=(0, 1, 2)) -> dict:
    """The three files of a usable range test over `seeds`; returns range_test.json."""
    for name in ("range_test.csv", "range_test.json", "range_test.png"):
        assert (out / name).is_file(), name
    assert (out / "range_test.png").read_bytes()[:4] == b"\x89PNG"
    rows = read_csv(out / "range_test.csv")
    assert list(rows[0]) == ["seed", "step", "lr", "loss", "smoothed_loss", "val_acc"]
    assert sorted({int(r["seed"]) for r in rows}) == list(seeds)
    result = read_json(out / "range_test.json")
    assert result["layout"] == 2 and result["seeds"] == list(seeds)
    for seed, entry in zip(seeds, result["per_seed"]):
        mine = [r for r in rows if int(r["seed"]) == seed]
        assert [int(r["step"]) for r in mine] == list(range(len(mine))) and len(mine) == entry["steps_run"]
        lrs = [float(r["lr"]) for r in mine]
        assert lrs == sorted(lrs)
        losses = [float(r["loss"]) for r in mine]
        assert np.allclose([float(r["smoothed_loss"]) for r in mine], ema(losses, 0.9), equal_nan=True)
        assert any(r["val_acc"] for r in mine) and any(not r["val_acc"] for r in mine)
        assert entry["seed"] == seed and entry["usable"] is True and entry["model_unchanged"] is True
        assert set(entry["rules"]) == set(RULES)
        for rule, bounds in entry["rules"].items():
            assert lrs[0] / 100 <= bounds["base_lr"] < bounds["max_lr"] <= lrs[-1], (seed, rule)
    assert set(result["aggregate"]) == set(RULES) and set(result["rules"]) == set(RULES)
    for rule, agg in result["aggregate"].items():
        tops = sorted(e["rules"][rule]["max_lr"] for e in result["per_seed"])
        bases = sorted(e["rules"][rule]["base_lr"] for e in result["per_seed"])
        if len(seeds) == 3:
            assert agg["max_lr"] == tops[1] and agg["base_lr"] == bases[1]  # the median
        assert agg["spread"]["max_lr"] == {"min": tops[0], "max": tops[-1], "ratio": pytest.approx(tops[-1] / tops[0])}
        assert math.isfinite(agg["base_lr"]) and 0 < agg["base_lr"] < agg["max_lr"]
    ratio = result["aggregate"][result["rule"]]["spread"]["max_lr"]["ratio"]
    assert any("disagree" in w for w in result["warnings"]) == (ratio > result["max_spread"])
    assert result["model_unchanged"] is True
    return result


def test_range_test_then_training_with_its_bounds(cli, tmp_path):
    proc = cli("task=range_test", "range_test.steps=120", "hydra.run.dir=rt")  # relative: to the cwd
    assert proc.returncode == 0, proc.stderr
    result = assert_range_test_folder(tmp_path / "rt")
    assert not (tmp_path / "rt" / "metrics.csv").exists()
    result = result["aggregate"]["smith"]  # the default rule's median is what bounds_from uses
    # The bounds chain into training: an explicit base_lr gives way to the file's, and metrics.csv shows them.
    proc = cli(
        "schedule=triangular",
        "schedule.bounds_from=rt",
        "schedule.base_lr=0.0123",
        "schedule.step_size=10",
        "trainer.max_steps=40",
        "hydra.run.dir=train",
    )
    assert proc.returncode == 0, proc.stderr
    lrs = [float(r["lr"]) for r in read_csv(tmp_path / "train" / "metrics.csv")]
    assert lrs[0] == lrs[20] == lrs[40 - 20] == result["base_lr"]
    assert lrs[10] == lrs[30] == result["max_lr"]
    assert min(lrs) == result["base_lr"] and max(lrs) == result["max_lr"]


def test_one_test_per_seed_from_the_top_level_seed(cli, tmp_path):
    overrides = ("task=range_test", "seed=4", "range_test.steps=40", "range_test.eval_every=10", "trainer.threads=1")
    proc = cli(*overrides, "hydra.run.dir=rt")
    assert proc.returncode == 0, proc.stderr
    assert_range_test_folder(tmp_path / "rt", seeds=(4, 5, 6))
    # The log has one progress line per seed, and the spread of every rule.
    assert [ln.split("] - ")[1].split(":")[0] for ln in proc.stdout.splitlines() if "] - seed " in ln] == [
        "seed 4",
        "seed 5",
        "seed 6",
    ]
    assert all(f"{rule} rule: base_lr" in proc.stdout for rule in RULES)
    # Seed 5's curve is the test a training run with seed=5 would start from: its weights and its batch order.
    entry, curve, _, _ = range_test_seed(validate(compose(*overrides)), 5)
    rows = [r for r in read_csv(tmp_path / "rt" / "range_test.csv") if r["seed"] == "5"]
    assert [float(r["loss"]) for r in rows] == curve["losses"]
    assert entry["rules"] == read_json(tmp_path / "rt" / "range_test.json")["per_seed"][1]["rules"]


def test_a_test_that_never_improved_exits_with_one_line_and_suggests_nothing(cli, tmp_path):
    proc = cli(
        "task=range_test", "range_test.min_lr=1000", "range_test.max_lr=1e6", "range_test.steps=10", "hydra.run.dir=rt"
    )
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: range_test.min_lr=1000.0: no usable bounds (seeds 0, 1, 2:")
    result = read_json(tmp_path / "rt" / "range_test.json")
    assert result["aggregate"] is None and result["warnings"] and "no usable bounds" in result["warnings"][0]
    assert all(b["max_lr"] is None for e in result["per_seed"] for b in e["rules"].values())
    assert "suggested" not in proc.stdout  # no bounds offered in the log either
    # Training refuses to take bounds from it, before any work.
    proc = cli("schedule.bounds_from=rt", "hydra.run.dir=train")
    assert proc.returncode == 2 and "suggests no bounds" in proc.stderr
    assert not (tmp_path / "train").exists()


def test_bounds_from_a_missing_folder_exits_2_before_any_work(cli, tmp_path):
    proc = cli("schedule.bounds_from=no/such/folder", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: schedule.bounds_from='no/such/folder'")
    assert not (tmp_path / "run").exists()


def test_bad_range_test_values_are_refused_naming_the_key(cli, tmp_path):
    for override, key in (
        ("range_test.mode=cosine", "range_test.mode"),
        ("range_test.max_lr=0.00001", "range_test.max_lr"),
        ("range_test.diverge_factor=1", "range_test.diverge_factor"),
    ):
        proc = cli("task=range_test", override, f"hydra.run.dir={tmp_path / 'run'}")
        assert proc.returncode == 2 and proc.stderr.startswith(f"error: {key}"), proc.stderr


def test_range_test_on_the_real_fashion_mnist(cli, tmp_path):
    real_fashion_mnist_or_skip()
    proc = cli(
        "task=range_test",
        "dataset=fashion_mnist",
        "dataset.subset=10000",
        f"dataset.root={tmp_path}/data",
        f"dataset.system_dir={DEBIAN_DIR}",
        "trainer.threads=1",
        "hydra.run.dir=rt",
    )
    assert proc.returncode == 0, proc.stderr
    result = assert_range_test_folder(tmp_path / "rt")
    assert result["dataset"] == "fashion_mnist" and result["train_images"] == 10000
    assert all(e["best_val_acc"] > 0.6 for e in result["per_seed"])  # every seed learned on the way up
