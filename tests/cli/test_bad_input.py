"""Table-driven: malformed overrides, each refused with one line that names the key.

The table runs in-process, through Hydra's compose API and the project's own validation and one-line formatting:
the same composed config and the same message the command prints after `error: `. A sample of it (BAD_CLI in
tests/cli/test_cli.py and END_TO_END below) goes through the real command line, where the exit status, the absence
of a traceback and of any folder are checked too.
"""

from __future__ import annotations

import pytest

from runner.config import validate
from runner.hydra_compat import one_line
from support import compose, run_cli

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
    (["schedule=bogus"], "schedule=bogus"),
    (["model=bogus"], "model=bogus"),
    (["dataset=bogus"], "dataset=bogus"),
    (["optimizer=bogus"], "optimizer=bogus"),
    (["trainer=bogus"], "trainer=bogus"),
    (["analysis=bogus"], "analysis=bogus"),
    (["experiment=bogus"], "experiment=bogus"),
    (["schedule.bogus=1"], "schedule.bogus"),
    (["trainer.bogus=1"], "trainer.bogus"),
    (["bogus=1"], "bogus"),
    (["schedule.step_size_epochs=null"], "schedule.step_size"),
    (["schedule.step_size=null", "schedule.step_size_epochs=null"], "schedule.step_size"),
    (["schedule.base_lr=0.1"], "schedule.base_lr"),
]

CASES = (
    [([f"{k}={v}"], k) for k, values in BAD_VALUES.items() for v in values]
    + [([o.format(v) for o in overrides], key) for overrides, key, values in IN_CONTEXT for v in values]
    + WHOLE
)


def test_the_table_holds_at_least_a_hundred_cases():
    assert len(CASES) >= 100


def refusal(overrides: list[str]) -> str:
    """The one line `python -m runner OVERRIDES` prints after `error: `, computed in-process."""
    try:
        validate(compose(*overrides))
    except Exception as e:  # noqa: BLE001 - whatever composition or validation raises must be a config error
        line = one_line(e)
        assert line is not None, f"{overrides}: not reported as a config error but as {type(e).__name__}: {e}"
        return line
    pytest.fail(f"{overrides}: accepted")


@pytest.mark.parametrize("overrides,key", CASES, ids=[" ".join(o) for o, _ in CASES])
def test_malformed_override_is_refused_with_one_line_naming_the_key(overrides, key):
    line = refusal(overrides)
    assert "\n" not in line and key in line, line


# One case of each kind through the real command line: a wrong type, a range, a relation between keys, an unknown
# choice, an unknown key, a value that needs another choice first, a bad length, a top-level value.
END_TO_END = [
    (["trainer.batch_size=abc"], "trainer.batch_size"),
    (["optimizer.momentum=1.0"], "optimizer.momentum"),
    (["schedule.max_lr=0.005"], "schedule.max_lr"),
    (["optimizer=bogus"], "optimizer=bogus"),
    (["trainer.bogus=1"], "trainer.bogus"),
    (["schedule=sgdr", "schedule.T_0=0"], "schedule.T_0"),
    (["schedule.step_size=null", "schedule.step_size_epochs=null"], "schedule.step_size"),
    (["seed=-1"], "seed"),
    (["task=fly"], "task"),
    (["analysis.targets=[1.5]"], "analysis.targets"),
]


@pytest.mark.parametrize("overrides,key", END_TO_END, ids=[" ".join(o) for o, _ in END_TO_END])
def test_the_command_line_exits_2_with_that_line_and_leaves_nothing(tmp_path, overrides, key):
    run_dir = tmp_path / "run"
    proc = run_cli(*overrides, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"error: {refusal(overrides)}"]
    assert key in lines[0] and "Traceback" not in proc.stdout + proc.stderr
    assert not run_dir.exists() and not (tmp_path / "outputs").exists()


@pytest.mark.parametrize(
    "args,key",
    [
        (["hydra.run.dir=outputs/../../escaped"], "hydra.run.dir"),
        (["-m", "hydra.sweep.dir=sweeps/../../escaped"], "hydra.sweep.dir"),
        (["-m", "hydra.sweep.subdir=../escaped"], "hydra.sweep.subdir"),
    ],
)
def test_output_paths_cannot_climb_out_with_dot_dot(tmp_path, args, key):
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    proc = run_cli(*args, "trainer.max_steps=5", cwd=inner)
    assert proc.returncode == 2 and proc.stderr.startswith(f"error: {key}=") and "'..'" in proc.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b"]  # nothing written anywhere
