"""A resume keeps what changes the numbers: the thread count the run started with (when trainer.threads was not
given) and the device its checkpoint was written on; a move to another device is allowed, warned about and
recorded in summary.json."""

from __future__ import annotations

import logging
import signal
from types import SimpleNamespace

import pytest
import torch

from runner.training import checkpoint as ckpt
from runner.training import pins
from runner.training.build import THREADS_ENV
from support import read_json


def cfg(threads=None, device="auto"):
    return SimpleNamespace(trainer=SimpleNamespace(threads=threads, device=device))


def test_a_fresh_run_chooses_and_a_resume_keeps_its_threads(machine, monkeypatch):
    machine(cuda=0)
    monkeypatch.setenv(THREADS_ENV, "2")
    assert pins.choose(cfg(), None, None).threads is None  # fresh: threads_for_run decides
    kept = pins.choose(cfg(), {"threads": 1, "device": "cpu", "step": 40}, 1)
    assert (kept.threads, kept.threads_from, str(kept.device), kept.moved_from) == (1, "resumed", "cpu", None)
    # A checkpoint from before checkpoints held the count: summary.json's count, which is the one it started with.
    assert pins.choose(cfg(), {"step": 40}, 1).threads == 1
    assert pins.choose(cfg(threads=1), {"threads": 1, "step": 40}, 1).threads is None  # explicit: the same anyway


def test_auto_resumes_on_the_checkpoints_device_when_it_is_there(machine, caplog):
    machine(cuda=2)
    state = {"threads": 4, "device": "cuda:1", "step": 10}
    assert str(pins.choose(cfg(), state, 4).device) == "cuda:1"  # not auto's cuda:0
    machine(cuda=0)
    with caplog.at_level(logging.WARNING, logger="runner"):
        moved = pins.choose(cfg(), state, 4)
    assert (str(moved.device), moved.moved_from) == ("cpu", "cuda:1")
    assert "no longer bit-identical" in caplog.text
    # An old checkpoint was written on the CPU: auto keeps it there even where a GPU is.
    machine(cuda=1)
    assert str(pins.choose(cfg(), {"step": 10}, 2).device) == "cpu"


def test_an_explicit_other_device_is_taken_with_a_warning(machine, caplog):
    machine(cuda=1)
    with caplog.at_level(logging.WARNING, logger="runner"):
        moved = pins.choose(cfg(device="cuda"), {"threads": 2, "device": "cpu", "step": 10}, 2)
    assert (str(moved.device), moved.moved_from) == ("cuda:0", "cpu")
    assert "resuming on cuda:0, not on cpu" in caplog.text


COMMON = ["trainer.max_steps=120", "trainer.checkpoint_every=25", "schedule.step_size=20", "hydra.run.dir=run"]


@pytest.mark.slow
def test_a_run_started_with_one_thread_resumes_with_one(cli, tmp_path):
    """Killed, then resumed where the default would now give 2 threads: the records are those of an uninterrupted
    1-thread run, which differ from a 2-thread run's."""
    one, two = {THREADS_ENV: "1"}, {THREADS_ENV: "2"}
    assert cli(*COMMON[:-1], "hydra.run.dir=ref1", env=one).returncode == 0
    assert cli(*COMMON[:-1], "hydra.run.dir=ref2", env=two).returncode == 0
    ref1, ref2, run = tmp_path / "ref1", tmp_path / "ref2", tmp_path / "run"
    assert (ref1 / "metrics.csv").read_bytes() != (ref2 / "metrics.csv").read_bytes()  # the count matters here
    assert cli(*COMMON, "faults.kill_at_step=60", env=one).returncode == -signal.SIGKILL
    resumed = cli(*COMMON, env=two)
    assert resumed.returncode == 0, resumed.stderr
    assert "1 threads (resumed)" in (run / "run.log").read_text()
    assert read_json(run / "summary.json")["threads"] == 1
    for records in ("metrics.csv", "eval.csv"):
        assert (run / records).read_bytes() == (ref1 / records).read_bytes()


def test_a_resume_on_another_device_is_recorded(cli, tmp_path):
    run = tmp_path / "run"
    assert cli(*COMMON, "trainer.threads=1", "faults.kill_at_step=60").returncode == -signal.SIGKILL
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    assert (state["device"], state["threads"]) == ("cpu", 1)
    state["device"] = "cuda:3"  # as if written on a GPU that this machine does not have
    state[ckpt.DIGEST_KEY] = ckpt.content_digest(state)  # a checkpoint that proves itself, as one written there would
    torch.save(state, run / "checkpoint.pt")
    resumed = cli(*COMMON, "trainer.threads=1")
    assert resumed.returncode == 0, resumed.stderr
    summary = read_json(run / "summary.json")
    assert summary["device_changes"] == [{"step": 50, "from": "cuda:3", "to": "cpu"}]
    assert summary["status"] == "completed" and summary["device"] == "cpu"
    assert "no longer bit-identical" in (run / "run.log").read_text()
