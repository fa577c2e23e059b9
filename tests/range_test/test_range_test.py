"""The LR range test: the LR ramp, the suggestion rule on synthetic curves with known answers, the model and
optimizer left untouched, the three files through the real CLI, and schedule.bounds_from chaining into training."""

from __future__ import annotations

import json
import math

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


def test_bounds_from_replaces_base_and_max_lr(tmp_path):
    (tmp_path / "range_test.json").write_text(json.dumps({"suggested_base_lr": 0.003, "suggested_max_lr": 0.2}))
    cfg = validate(compose("schedule=triangular2", f"schedule.bounds_from={tmp_path}", "schedule.base_lr=0.05"))
    assert (cfg.schedule.base_lr, cfg.schedule.max_lr) == (0.003, 0.2)
    assert read_bounds(str(tmp_path / "range_test.json")) == (0.003, 0.2)


# ---- end to end through the command line --------------------------------------------------------------------
def assert_range_test_folder(out) -> dict:
    for name in ("range_test.csv", "range_test.json", "range_test.png"):
        assert (out / name).is_file(), name
    assert (out / "range_test.png").read_bytes()[:4] == b"\x89PNG"
    rows = read_csv(out / "range_test.csv")
    assert list(rows[0]) == ["step", "lr", "loss", "smoothed_loss", "val_acc"]
    lrs = [float(r["lr"]) for r in rows]
    assert lrs == sorted(lrs)
    losses = [float(r["loss"]) for r in rows]
    assert np.allclose([float(r["smoothed_loss"]) for r in rows], ema(losses, 0.9), equal_nan=True)
    assert any(r["val_acc"] for r in rows) and any(not r["val_acc"] for r in rows)
    result = read_json(out / "range_test.json")
    base, top = result["suggested_base_lr"], result["suggested_max_lr"]
    assert math.isfinite(base) and math.isfinite(top) and 0 < base < top
    assert lrs[0] <= base and top <= lrs[-1]
    assert result["model_unchanged"] is True
    return result


def test_range_test_then_training_with_its_bounds(cli, tmp_path):
    proc = cli("task=range_test", "range_test.steps=120", "hydra.run.dir=rt")  # relative: to the cwd
    assert proc.returncode == 0, proc.stderr
    result = assert_range_test_folder(tmp_path / "rt")
    assert not (tmp_path / "rt" / "metrics.csv").exists()
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
    assert lrs[0] == lrs[20] == lrs[40 - 20] == result["suggested_base_lr"]
    assert lrs[10] == lrs[30] == result["suggested_max_lr"]
    assert min(lrs) == result["suggested_base_lr"] and max(lrs) == result["suggested_max_lr"]


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
    assert result["best_val_acc"] > 0.6  # it learned on the way up
