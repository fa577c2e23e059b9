"""Reliability through the real CLI: SIGKILL and resume, random kills, SIGTERM, divergence, crafted checkpoints.

A resumed run must be the run that would have happened: metrics.csv, eval.csv and the final weights are compared
byte for byte and tensor for tensor with an uninterrupted run of the same command.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from support import read_csv, read_json, run_cli

STEPS = 120
# One command per policy; threads pinned because results repeat bit for bit per thread count.
POLICIES = {
    "constant": ["schedule=constant"],
    "triangular": ["schedule=triangular", "schedule.step_size=20"],
    "triangular2": ["schedule=triangular2", "schedule.step_size=20"],
    "exp_range": ["schedule=exp_range", "schedule.step_size=20", "schedule.gamma=0.99"],
    "one_cycle": ["schedule=one_cycle"],  # cycles momentum too: the optimizer state must come back exactly
}
COMMON = [
    f"trainer.max_steps={STEPS}",
    "trainer.checkpoint_every=25",
    "trainer.threads=1",
    "trainer.progress=false",
    "model.dropout=0.2",
]  # dropout: the torch RNG state must come back too


def run(run_dir, *args, cwd):
    return run_cli(*args, *COMMON, f"hydra.run.dir={run_dir}", cwd=cwd)


def final_weights(run_dir) -> dict:
    return torch.load(run_dir / "checkpoint.pt", weights_only=True)["model"]


def assert_same_run(a, b) -> None:
    assert (a / "metrics.csv").read_bytes() == (b / "metrics.csv").read_bytes()
    assert (a / "eval.csv").read_bytes() == (b / "eval.csv").read_bytes()
    wa, wb = final_weights(a), final_weights(b)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert read_json(b / "summary.json")["status"] == "completed"


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    """One uninterrupted run per policy."""
    root = tmp_path_factory.mktemp("reference")
    out = {}
    for name, args in POLICIES.items():
        proc = run(root / name, *args, cwd=root)
        assert proc.returncode == 0, proc.stderr
        out[name] = root / name
    return out


@pytest.mark.parametrize("kill_at", [10, 60, 101])  # before the first checkpoint, mid-run, after the last one
@pytest.mark.parametrize("policy", list(POLICIES))
def test_sigkill_then_resume_is_identical_to_an_uninterrupted_run(references, tmp_path, policy, kill_at):
    run_dir = tmp_path / "run"
    killed = run(run_dir, *POLICIES[policy], f"faults.kill_at_step={kill_at}", cwd=tmp_path)
    assert killed.returncode == -signal.SIGKILL
    assert read_json(run_dir / "summary.json")["status"] == "running"  # the kill left no "completed" behind
    resumed = run(run_dir, *POLICIES[policy], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    if kill_at > 25:
        assert "resuming at step" in resumed.stdout + resumed.stderr
    assert_same_run(references[policy], run_dir)


def assert_clean_records(run_dir) -> None:
    """Whole lines only, steps 0, 1, 2, ... with no gap and no repeat."""
    for name, column in (("metrics.csv", "step"), ("eval.csv", None)):
        path = run_dir / name
        if not path.exists():
            continue
        text = path.read_text()
        assert text == "" or text.endswith("\n"), f"{name} ends with a partial line"
        if column:
            steps = [int(r[column]) for r in read_csv(path)]
            assert steps == list(range(len(steps))), f"{name}: a duplicated or missing step"


@pytest.mark.slow
def test_twenty_random_kills_never_corrupt_the_records_or_block_a_resume(tmp_path):
    args = [
        "schedule=triangular2",
        "schedule.step_size=40",
        "trainer.max_steps=800",
        "trainer.threads=1",
        "trainer.checkpoint_every=7",
        "trainer.flush_every=5",
        "trainer.progress=false",
    ]
    reference = tmp_path / "reference"
    assert run_cli(*args, f"hydra.run.dir={reference}", cwd=tmp_path).returncode == 0
    run_dir = tmp_path / "run"
    rng = random.Random(20)
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    env.pop("HYDRA_FULL_ERROR", None)
    kills = 0
    while kills < 20:
        proc = subprocess.Popen(
            [sys.executable, "-m", "runner", *args, f"hydra.run.dir={run_dir}"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Wait until the process trains (imports take a while), then kill at a random moment, often mid-write:
        # a checkpoint every 7 steps and a flush every 5 rows.
        deadline = time.monotonic() + 60
        while not (run_dir / "metrics.csv").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.4))
        if proc.poll() is not None:
            break  # it finished before the kill: fine, the resume below still checks everything
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        assert_clean_records(run_dir)
        assert not (run_dir / "summary.json").exists() or read_json(run_dir / "summary.json")["status"] == "running"
    assert kills >= 10, "the run finished before enough kills landed"
    final = run_cli(*args, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert final.returncode == 0, final.stderr
    assert_clean_records(run_dir)
    assert_same_run(reference, run_dir)
    assert read_json(run_dir / "summary.json")["resumes"] >= 1


def test_sigterm_checkpoints_exits_143_and_the_rerun_completes_identically(tmp_path):
    args = [
        "schedule=triangular",
        "schedule.step_size=100",
        "trainer.max_steps=2000",
        "trainer.threads=1",
        "trainer.progress=false",
    ]
    reference = tmp_path / "reference"
    assert run_cli(*args, f"hydra.run.dir={reference}", cwd=tmp_path).returncode == 0
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    env.pop("HYDRA_FULL_ERROR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner", *args, f"hydra.run.dir={run_dir}"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while (
        time.monotonic() < deadline
        and len((run_dir / "metrics.csv").read_text().splitlines() if (run_dir / "metrics.csv").exists() else []) < 2
    ):
        time.sleep(0.02)  # the handler is in place once rows are being written
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    summary = read_json(run_dir / "summary.json")
    assert summary["status"] == "interrupted" and 0 < summary["steps"] < 2000
    assert len(read_csv(run_dir / "metrics.csv")) == summary["steps"]
    rerun = run_cli(*args, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert_same_run(reference, run_dir)


def test_injected_nan_ends_diverged_with_earlier_rows_and_curves(cli, tmp_path):
    run_dir = tmp_path / "run"
    proc = cli("trainer.max_steps=100", "faults.nan_at_step=30", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 1
    summary = read_json(run_dir / "summary.json")
    assert summary["status"] == "diverged" and summary["diverged_at"]["step"] == 30
    assert summary["diverged_at"]["loss"] == "nan"  # strict JSON has no NaN: the loss as text, not null
    rows = read_csv(run_dir / "metrics.csv")
    assert [int(r["step"]) for r in rows] == list(range(31)) and rows[-1]["loss"] == "nan"
    assert all(float(r["loss"]) > 0 for r in rows[:-1])
    assert (run_dir / "curves.png").exists()


def test_an_absurd_max_lr_diverges_and_the_rest_of_the_sweep_completes(cli, tmp_path):
    sweep = tmp_path / "sweep"
    proc = cli(
        "-m", "schedule.max_lr=1e6,0.1", "schedule.step_size=20", "trainer.max_steps=100", f"hydra.sweep.dir={sweep}"
    )
    assert proc.returncode == 1  # a run without a result makes the sweep exit non-zero, after every job ran
    runs = {r["job"]: r for r in read_csv(sweep / "runs.csv")}
    assert runs["0"]["status"] == "diverged" and runs["1"]["status"] == "completed"
    bad = sweep / runs["0"]["folder"]
    summary = read_json(bad / "summary.json")
    assert summary["diverged_at"]["lr"] > 0.1
    assert len(read_csv(bad / "metrics.csv")) == summary["diverged_at"]["step"] + 1
    assert (bad / "curves.png").exists()
    assert "diverged" in (sweep / "report.md").read_text()


class _Exploit:
    """Unpickling this would call os.system: a checkpoint must never be able to run code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_crafted_checkpoint_with_a_pickled_callable_is_refused_without_running_it(cli, tmp_path):
    run_dir = tmp_path / "run"
    assert (
        cli(
            "trainer.max_steps=30", "trainer.checkpoint_every=10", "faults.kill_at_step=25", f"hydra.run.dir={run_dir}"
        ).returncode
        == -signal.SIGKILL
    )
    marker = tmp_path / "pwned"
    (run_dir / "checkpoint.prev.pt").unlink()  # else the resume falls back on it, and the refusal is a warning
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    state["payload"] = _Exploit(marker)
    with open(run_dir / "checkpoint.pt", "wb") as f:
        torch.save(state, f)
    proc = cli("trainer.max_steps=30", "trainer.checkpoint_every=10", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "refused to load the checkpoint" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not marker.exists()


def test_a_changed_config_on_resume_is_refused_naming_the_keys(cli, tmp_path):
    run_dir = tmp_path / "run"
    base = ["trainer.max_steps=60", "trainer.checkpoint_every=10", f"hydra.run.dir={run_dir}"]
    assert cli(*base, "faults.kill_at_step=35").returncode == -signal.SIGKILL
    before = (run_dir / "metrics.csv").read_bytes()
    proc = cli(*base, "seed=5", "schedule.max_lr=0.2")
    assert proc.returncode == 2
    assert "seed: 0 -> 5" in proc.stderr and "schedule.max_lr: 0.1 -> 0.2" in proc.stderr
    assert (run_dir / "metrics.csv").read_bytes() == before
    assert cli(*base).returncode == 0  # the original command still resumes


def test_every_random_stream_comes_back_from_a_saved_checkpoint(tmp_path):
    """Python's, numpy's and torch's generators continue exactly where they were, through a real file; so do the
    states of checkpoints written while Python's state was still a list of ints."""
    import numpy as np

    from runner.training import checkpoint

    def draws() -> tuple:
        return random.random(), random.gauss(0, 1), float(np.random.rand()), float(torch.rand(1))

    random.seed(5), np.random.seed(7), torch.manual_seed(3), random.gauss(0, 1)  # a cached gauss value too
    checkpoint.save(tmp_path / "c.pt", {"rng": checkpoint.rng_state()})
    expected = draws()
    random.seed(0), np.random.seed(0), torch.manual_seed(0)
    checkpoint.set_rng_state(checkpoint.load(tmp_path / "c.pt")["rng"])
    assert draws() == expected

    state = checkpoint.rng_state()
    version, words, gauss = state["python"]
    state["python"] = [version, words.tolist(), gauss]  # the earlier layout
    expected = draws()
    checkpoint.set_rng_state(state)
    assert draws() == expected


def test_a_resume_with_eval_every_and_eval_size_is_identical_to_an_uninterrupted_run(tmp_path):
    """Periodic evaluations on a validation subset, the whole-split ones and the final test measurement all come
    back exactly: eval.csv (val_n included), the weights, and summary.json's accuracies."""
    args = ["schedule=triangular", "schedule.step_size=20", "trainer.eval_every=9", "trainer.eval_size=100"]
    reference = tmp_path / "reference"
    assert run(reference, *args, cwd=tmp_path).returncode == 0
    run_dir = tmp_path / "run"
    assert run(run_dir, *args, "faults.kill_at_step=60", cwd=tmp_path).returncode == -signal.SIGKILL
    resumed = run(run_dir, *args, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming at step 50" in resumed.stdout + resumed.stderr
    assert_same_run(reference, run_dir)
    evals = read_csv(run_dir / "eval.csv")
    assert [int(r["step"]) for r in evals if r["when"] == "periodic"] == list(range(9, STEPS + 1, 9))
    # No multiple of 9 up to 120 is an epoch end (34, 68, 102), a cycle end (40, 80, 120) or the final step.
    assert {(r["when"] == "periodic", r["val_n"]) for r in evals} == {(True, "100"), (False, "359")}
    a, b = read_json(reference / "summary.json"), read_json(run_dir / "summary.json")
    for key in ("final_val_acc", "best_val_acc", "test_acc", "test_loss", "steps_to_target"):
        assert a[key] == b[key], key
    assert b["test_acc"] is not None and b["resumes"] == 1
