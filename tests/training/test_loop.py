"""The training loop called directly with built objects: LR per step, evaluation points, reproducibility."""

from __future__ import annotations

import math

import pytest
import torch

from runner.data.split import DataSplit
from runner.schedules import build_schedule
from runner.training.faults import fault_hook
from runner.training.loop import Hooks, LoopPlan, train
from runner.training.records import EVAL_COLUMNS, METRICS_COLUMNS, CsvLog
from runner.training.settings import FaultsConfig
from support import formula, read_csv


def tiny_data(n_train: int = 96, n_val: int = 32, seed: int = 0) -> DataSplit:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n_train + n_val, 1, 8, 8, generator=g)
    y = (x.mean(dim=(1, 2, 3)) > 0).long()  # learnable: the sign of the mean pixel
    return DataSplit(x[:n_train], y[:n_train], x[n_train:], y[n_train:], num_classes=2)


def run(tmp_path, schedule: dict, steps: int, seed: int = 0, batch_size: int = 16, **kw):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9)
    policy = build_schedule(schedule).resolve(iters_per_epoch=math.ceil(96 / batch_size), total_steps=steps)
    with (
        CsvLog(tmp_path / "metrics.csv", METRICS_COLUMNS) as metrics,
        CsvLog(tmp_path / "eval.csv", EVAL_COLUMNS) as evals,
    ):
        result = train(
            model,
            optimizer,
            policy,
            tiny_data(),
            LoopPlan(steps=steps, batch_size=batch_size, seed=seed),
            Hooks(metrics=metrics, evals=evals, **kw),
        )
    return result, read_csv(tmp_path / "metrics.csv"), read_csv(tmp_path / "eval.csv")


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_lr_of_every_step_is_the_formula(tmp_path, mode):
    cfg = {"name": mode, "base_lr": 0.001, "max_lr": 0.006, "step_size": 20}
    if mode == "exp_range":
        cfg["gamma"] = 0.99
    result, metrics, _ = run(tmp_path, cfg, steps=130)
    assert result.status == "completed" and result.steps == 130
    assert [int(r["step"]) for r in metrics] == list(range(130))
    for r in metrics:
        it = int(r["step"])
        assert float(r["lr"]) == pytest.approx(formula(it, 0.001, 0.006, 20, mode, 0.99), abs=1e-12)
        assert int(r["cycle"]) == math.floor(1 + it / 40)
        assert float(r["momentum"]) == 0.9


def test_evaluates_at_epoch_ends_cycle_ends_and_the_end(tmp_path):
    # 96 images at batch 16: 6 steps per epoch; step_size 5: cycles end after 10, 20, 30 steps.
    _, _, evals = run(tmp_path, {"name": "triangular", "base_lr": 0.01, "max_lr": 0.1, "step_size": 5}, steps=32)
    by_when = {w: [int(r["step"]) for r in evals if r["when"] == w] for w in ("epoch_end", "cycle_end", "final")}
    assert by_when == {"epoch_end": [6, 12, 18, 24, 30], "cycle_end": [10, 20, 30], "final": [32]}
    for r in evals:
        if r["when"] == "cycle_end":
            assert float(r["lr"]) == pytest.approx(0.01)  # back at base_lr
        assert float(r["epoch"]) == pytest.approx(int(r["step"]) / 6)
        assert 0.0 <= float(r["val_acc"]) <= 1.0


def test_same_seed_same_numbers_other_seed_other_numbers(tmp_path):
    cfg = {"name": "triangular2", "base_lr": 0.01, "max_lr": 0.1, "step_size": 6}
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir(), (tmp_path / "c").mkdir()
    run(tmp_path / "a", cfg, steps=40, seed=3)
    run(tmp_path / "b", cfg, steps=40, seed=3)
    run(tmp_path / "c", cfg, steps=40, seed=4)
    a, b, c = ((tmp_path / d / "metrics.csv").read_bytes() for d in "abc")
    assert a == b
    assert a != c


def test_a_nan_loss_stops_the_run_as_diverged_keeping_earlier_rows(tmp_path):
    result, metrics, _ = run(tmp_path, {"name": "constant", "lr": 1e37}, steps=50)
    assert result.status == "diverged"
    assert result.diverged["step"] == len(metrics) - 1 < 49
    assert all(math.isfinite(float(r["loss"])) for r in metrics[:-1])


def test_injected_failure_raises_at_that_step(tmp_path):
    with pytest.raises(RuntimeError, match="fail_at_step"):
        run(tmp_path, {"name": "constant", "lr": 0.01}, steps=20, on_loss=fault_hook(FaultsConfig(fail_at_step=7)))
    assert len(read_csv(tmp_path / "metrics.csv")) == 7  # the rows before the failure are on disk


def test_adam_records_beta1_as_momentum(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.0, betas=(0.85, 0.999))
    policy = build_schedule({"name": "constant", "lr": 0.01})
    with CsvLog(tmp_path / "m.csv", METRICS_COLUMNS) as m, CsvLog(tmp_path / "e.csv", EVAL_COLUMNS) as e:
        train(
            model, optimizer, policy, tiny_data(), LoopPlan(steps=5, batch_size=16, seed=0), Hooks(metrics=m, evals=e)
        )
    assert {float(r["momentum"]) for r in read_csv(tmp_path / "m.csv")} == {0.85}
