"""What task=train says about its lengths and records about its LR: the mid-cycle note for every policy with
cycles (runs shorter than one cycle too; a note, so a short first run prints no warning), the half-cycle warning
outside 1-10 epochs, and the LR bounds used."""

from __future__ import annotations

import json
import logging

import pytest

from runner.config import validate
from runner.schedules import build_schedule
from runner.training.run import note_cycle_end, run_train, warn_half_cycle
from support import compose, read_json


def warnings_of(caplog, fn, *args) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="runner"):
        fn(*args)
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def notes_of(caplog, fn, *args) -> list[str]:
    """The log's "note:" lines (level INFO), and no warning beside them."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="runner"):
        fn(*args)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("note:")]


@pytest.mark.parametrize(
    "values,steps,suggested",
    [
        ({"name": "triangular", "step_size": 10}, 30, "trainer.max_steps=20 or trainer.max_steps=40"),
        ({"name": "triangular", "step_size": 100}, 30, "inside the first cycle"),  # shorter than one cycle
        ({"name": "triangular2", "step_size": 100}, 30, "trainer.max_steps=200"),
        ({"name": "exp_range", "step_size": 10, "step_size_down": 5}, 20, "trainer.max_steps=15 or"),
        ({"name": "sgdr", "T_0": 10, "T_mult": 2}, 5, "trainer.max_steps=10"),  # inside its first period
        ({"name": "sgdr", "T_0": 10, "T_mult": 2}, 40, "trainer.max_steps=30 or trainer.max_steps=70"),
        ({"name": "one_cycle", "total_steps": 100}, 60, "trainer.max_steps=100"),
    ],
)
def test_every_policy_with_cycles_notes_when_the_run_stops_mid_cycle(caplog, values, steps, suggested):
    schedule = build_schedule(values).resolve(10, steps)
    (message,) = notes_of(caplog, note_cycle_end, schedule, steps)
    assert "mid-cycle" in message and suggested in message


@pytest.mark.parametrize(
    "values,steps",
    [
        ({"name": "triangular", "step_size": 10}, 40),
        ({"name": "sgdr", "T_0": 10, "T_mult": 2}, 30),
        ({"name": "one_cycle"}, 55),  # total_steps null: the run's own length
        ({"name": "constant"}, 33),
        ({"name": "linear_decay"}, 33),
        ({"name": "fixed"}, 33),
    ],
)
def test_no_note_at_a_cycle_end_or_without_cycles(caplog, values, steps):
    assert notes_of(caplog, note_cycle_end, build_schedule(values).resolve(10, steps), steps) == []


@pytest.mark.parametrize("step_size,warned", [(9, True), (10, False), (40, False), (100, False), (101, True)])
def test_a_half_cycle_under_1_or_over_10_epochs_is_warned(caplog, step_size, warned):
    schedule = build_schedule({"name": "triangular", "step_size": step_size}).resolve(10, 1000)
    messages = warnings_of(caplog, warn_half_cycle, schedule, 10)
    assert bool(messages) == warned and all("half cycle" in m for m in messages)
    assert warnings_of(caplog, warn_half_cycle, build_schedule({"name": "constant"}), 10) == []


@pytest.mark.slow
def test_the_bounds_from_a_range_test_are_recorded_and_logged(tmp_path, caplog):
    (tmp_path / "range_test.json").write_text(json.dumps({"suggested_base_lr": 0.003, "suggested_max_lr": 0.2}))
    cfg = validate(
        compose(
            f"schedule.bounds_from={tmp_path}",
            "schedule.step_size=10",
            "trainer.max_steps=20",
            "trainer.threads=1",
            "trainer.progress=false",
        )
    )
    (tmp_path / "run").mkdir()  # Hydra makes the run folder before the task starts
    with caplog.at_level(logging.INFO, logger="runner"):
        run_train(cfg, tmp_path / "run")
    summary = read_json(tmp_path / "run" / "summary.json")
    assert (summary["base_lr"], summary["max_lr"]) == (0.003, 0.2)
    assert f"LR bounds: base_lr 0.003, max_lr 0.2 (range test {tmp_path})" in caplog.text
