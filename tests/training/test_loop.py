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


def tiny_data(n_train: int = 96, n_val: int = 32, seed: int = 0, n_test: int = 0) -> DataSplit:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n_train + n_val + n_test, 1, 8, 8, generator=g)
    y = (x.mean(dim=(1, 2, 3)) > 0).long()  # learnable: the sign of the mean pixel
    test = {"test_x": x[n_train + n_val :], "test_y": y[n_train + n_val :]} if n_test else {}
    return DataSplit(
        x[:n_train], y[:n_train], x[n_train : n_train + n_val], y[n_train : n_train + n_val], num_classes=2, **test
    )


def linear_model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))


def run(tmp_path, schedule: dict, steps: int, seed: int = 0, batch_size: int = 16, data=None, plan=None, **kw):
    model = kw.pop("model", None) or linear_model(seed)
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
            tiny_data() if data is None else data,
            LoopPlan(steps=steps, batch_size=batch_size, seed=seed, **(plan or {})),
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


def steps_by_when(evals: list[dict]) -> dict[str, list[int]]:
    whens = ("epoch_end", "cycle_end", "periodic", "final")
    return {w: [int(r["step"]) for r in evals if r["when"] == w] for w in whens}


def test_eval_every_adds_exactly_its_points_and_changes_no_training_step(tmp_path):
    # 6 steps per epoch, cycles end after 10, 20, 30 steps; eval_every 4 adds 4, 8, ..., 32.
    cfg = {"name": "triangular", "base_lr": 0.01, "max_lr": 0.1, "step_size": 5}
    (tmp_path / "plain").mkdir(), (tmp_path / "every").mkdir()
    _, plain_metrics, plain = run(tmp_path / "plain", cfg, steps=32)
    _, every_metrics, every = run(tmp_path / "every", cfg, steps=32, plan={"eval_every": 4})
    assert steps_by_when(every) == {
        "epoch_end": [6, 12, 18, 24, 30],
        "cycle_end": [10, 20, 30],
        "periodic": [4, 8, 12, 16, 20, 24, 28, 32],
        "final": [32],
    }
    assert steps_by_when(plain)["periodic"] == []
    # The old points keep their rows and numbers: evaluating more often does not touch the training.
    assert [r for r in every if r["when"] != "periodic"] == plain
    assert every_metrics == plain_metrics
    assert {r["val_n"] for r in every} == {"32"}  # without eval_size every evaluation uses the whole split


def test_eval_size_measures_periodic_points_on_a_fixed_subset_and_the_rest_on_the_whole_split(tmp_path):
    cfg = {"name": "triangular", "base_lr": 0.01, "max_lr": 0.1, "step_size": 5}
    plan = {"eval_every": 4, "eval_size": 8}
    data = tiny_data()
    # The same split with every validation label after the first 8 flipped: only whole-split rows may change.
    flipped = tiny_data()
    flipped.val_y = torch.cat([data.val_y[:8], 1 - data.val_y[8:]])
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    result, _, a = run(tmp_path / "a", cfg, steps=32, data=data, plan=plan)
    _, _, b = run(tmp_path / "b", cfg, steps=32, data=flipped, plan=plan)
    only_periodic = {4, 8, 16, 28}  # 12, 20, 24 and 32 are also an epoch end, a cycle end or the final step
    assert {int(r["step"]) for r in a if r["when"] == "periodic"} - only_periodic == {12, 20, 24, 32}
    for ra, rb in zip(a, b, strict=True):
        if int(ra["step"]) in only_periodic:
            assert ra["val_n"] == "8" and ra == rb  # the first 8 images, the same ones at every point
        else:
            assert ra["val_n"] == "32" and ra["val_loss"] != rb["val_loss"]  # the whole split
    # final_val_acc is the final row's; best_val_acc is the best whole-split evaluation, never a subset one.
    whole = [float(r["val_acc"]) for r in a if r["val_n"] == "32"]
    assert result.final_val_acc == float(a[-1]["val_acc"]) and result.best_val_acc == max(whole)


def test_the_test_part_is_measured_once_on_the_final_weights(tmp_path):
    from runner.training.loop import evaluate

    data, model = tiny_data(n_test=40), linear_model()
    result, _, evals = run(
        tmp_path, {"name": "constant", "lr": 0.05}, steps=20, data=data, plan={"eval_every": 5}, model=model
    )
    loss, acc = evaluate(model, data.test_x, data.test_y, 256, data.inputs)
    assert (result.test_loss, result.test_acc) == (loss, acc)
    assert {r["val_n"] for r in evals} == {"32"}  # no evaluation row is a test measurement
    (tmp_path / "no_test").mkdir()
    assert run(tmp_path / "no_test", {"name": "constant", "lr": 0.05}, steps=20)[0].test_acc is None
    # A run that stops early has no final weights to test.
    diverged, _, _ = run(tmp_path, {"name": "constant", "lr": 1e37}, steps=50, data=data)
    assert diverged.status == "diverged" and diverged.test_acc is None


@pytest.mark.parametrize(
    "override,message",
    [
        ("trainer.eval_every=0", "trainer.eval_every=0: must be an integer >= 1 or null"),
        ("trainer.eval_size=0", "trainer.eval_size=0: must be an integer >= 1 or null"),
    ],
)
def test_bad_eval_keys_are_one_error_naming_the_key(override, message):
    from runner.config import validate
    from runner.errors import ConfigError
    from support import compose

    with pytest.raises(ConfigError, match=f"^{message}"):
        validate(compose(override))


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
