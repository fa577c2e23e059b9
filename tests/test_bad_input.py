"""Table-driven: malformed overrides through the real CLI. Each exits 2 before any work with one line that names the
key, prints no traceback, and leaves no run folder behind."""
from __future__ import annotations

import pytest

from conftest import run_cli

BAD_VALUES = {
    "schedule.base_lr": ["abc", "-1", "0", "nan", "inf", "[1]", "null", "0.5", "true"],
    "schedule.max_lr": ["abc", "-1", "0", "0.005", "null", "{a:1}"],
    "schedule.step_size": ["0", "-1", "2.5", "abc", "[20]"],
    "trainer.batch_size": ["0", "-1", "1.5", "abc", "null", "[32]"],
    "trainer.epochs": ["0", "-3", "2.5", "abc"],
    "trainer.max_steps": ["0", "-5", "1.5", "abc"],
    "trainer.threads": ["0", "-1", "abc"],
    "trainer.checkpoint_every": ["0", "-1"],
    "trainer.flush_every": ["0"],
    "trainer.eval_batch_size": ["0"],
    "trainer.progress": ["3", "maybe"],
    "optimizer.momentum": ["-0.1", "1.0", "2", "abc"],
    "optimizer.weight_decay": ["-1", "abc"],
    "optimizer.nesterov": ["maybe"],
    "seed": ["-1", "abc", "1.5", "null"],
    "task": ["fly", "3", "null"],
    "dataset.val_fraction": ["0", "1", "1.5", "-0.1", "abc"],
    "dataset.split_seed": ["-1"],
    "model.channels": ["[]", "[0]", "[-4]", "abc", "[a]"],
    "model.dropout": ["1.0", "-0.1", "abc"],
    "preview.steps": ["0", "-1", "abc"],
    "analysis.smoothing": ["1.0", "-0.1", "abc"],
    "analysis.targets": ["[0]", "[1.5]", "abc", "[abc]"],
    "analysis.plateau.window": ["1", "0", "abc"],
    "analysis.plateau.rel_drop": ["0", "1", "abc"],
    "analysis.plateau.escape_drop": ["0", "1.5"],
    "faults.nan_at_step": ["-1"],
    "faults.kill_at_step": ["abc"],
}
# Values that only make sense with another choice first.
IN_CONTEXT = [
    (["schedule=exp_range", "schedule.gamma={}"], "schedule.gamma", ["0", "-1", "1.5", "abc", "null"]),
    (["schedule=constant", "schedule.lr={}"], "schedule.lr", ["0", "-0.1", "abc", "nan", "inf", "null"]),
    (["schedule.step_size=null", "schedule.step_size_epochs={}"], "schedule.step_size_epochs", ["0", "-2", "abc"]),
    (["optimizer=adam", "optimizer.beta1={}"], "optimizer.beta1", ["1.0", "-0.5"]),
    (["optimizer=adam", "optimizer.beta2={}"], "optimizer.beta2", ["1.5"]),
    (["optimizer=adam", "optimizer.eps={}"], "optimizer.eps", ["0", "-1"]),
    (["schedule=one_cycle", "schedule.pct_start={}"], "schedule.pct_start", ["0", "1.5"]),
    (["schedule=sgdr", "schedule.T_0={}"], "schedule.T_0", ["0"]),
    (["schedule=sgdr", "schedule.T_mult={}"], "schedule.T_mult", ["0"]),
    (["schedule=triangular2", "schedule.scale_mode={}"], "schedule.scale_mode", ["iterations"]),
    (["schedule=clr", "schedule.scale_fn={}"], "schedule.scale_fn", ["nope"]),
]
WHOLE = [
    (["schedule=bogus"], "schedule=bogus"), (["model=bogus"], "model=bogus"), (["dataset=bogus"], "dataset=bogus"),
    (["optimizer=bogus"], "optimizer=bogus"), (["trainer=bogus"], "trainer=bogus"),
    (["analysis=bogus"], "analysis=bogus"), (["experiment=bogus"], "experiment=bogus"),
    (["schedule.bogus=1"], "schedule.bogus"), (["trainer.bogus=1"], "trainer.bogus"), (["bogus=1"], "bogus"),
    (["schedule.step_size_epochs=4"], "schedule.step_size"), (["schedule.step_size=null"], "schedule.step_size"),
    (["schedule.base_lr=0.1"], "schedule.base_lr"),
]

CASES = ([([f"{k}={v}"], k) for k, values in BAD_VALUES.items() for v in values]
         + [([o.format(v) for o in overrides], key) for overrides, key, values in IN_CONTEXT for v in values]
         + WHOLE)


def test_the_table_holds_at_least_a_hundred_cases():
    assert len(CASES) >= 100


@pytest.mark.parametrize("overrides,key", CASES, ids=[" ".join(o) for o, _ in CASES])
def test_malformed_override_is_refused_with_one_line_naming_the_key(tmp_path, overrides, key):
    run_dir = tmp_path / "run"
    proc = run_cli(*overrides, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and key in lines[0], lines[0]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not run_dir.exists() and not (tmp_path / "outputs").exists()


@pytest.mark.parametrize("args,key", [
    (["hydra.run.dir=outputs/../../escaped"], "hydra.run.dir"),
    (["-m", "hydra.sweep.dir=sweeps/../../escaped"], "hydra.sweep.dir"),
    (["-m", "hydra.sweep.subdir=../escaped"], "hydra.sweep.subdir"),
])
def test_output_paths_cannot_climb_out_with_dot_dot(tmp_path, args, key):
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    proc = run_cli(*args, "trainer.max_steps=5", cwd=inner)
    assert proc.returncode == 2 and proc.stderr.startswith(f"error: {key}=") and "'..'" in proc.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b"]  # nothing written anywhere
