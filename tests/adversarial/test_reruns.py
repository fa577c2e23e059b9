"""Reruns never cost a finished result: a changed config is refused before anything is written, a finished run is
never redone (exit 0), and a folder serves one task.

"Left as it was" is checked file by file: size, modification time and bytes. Two files are set aside: the lock file
(every command that takes the folder writes its name there) and, where the command ran and had nothing to do,
run.log (it logs that it had nothing to do).
"""

from __future__ import annotations

import shutil
import signal

import pytest

from support import folder_state, read_json, run_cli

QUIET = ["trainer.threads=1", "trainer.progress=false"]
LOCK = (".lock",)
LOCK_AND_LOG = (".lock", "run.log")
RANGE_TEST = ["task=range_test", "range_test.steps=60", "range_test.seeds=1"]
PREVIEW = ["task=preview", "preview.steps=500"]
TRAIN = ["trainer.max_steps=40", "trainer.checkpoint_every=20"]


def cli(*args, cwd):
    return run_cli(*args, *QUIET, cwd=cwd)


def assert_refused(proc, *words) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert all(w in lines[0] for w in words), lines[0]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """One finished folder per task."""
    root = tmp_path_factory.mktemp("finished")
    out = {}
    for task, args in (("train", TRAIN), ("preview", PREVIEW), ("range_test", RANGE_TEST)):
        proc = cli(*args, f"hydra.run.dir={root / task}", cwd=root)
        assert proc.returncode == 0, proc.stderr
        out[task] = root / task
    return out


def test_a_sweep_rerun_with_a_changed_value_leaves_every_finished_job_byte_identical(tmp_path):
    sweep = tmp_path / "sweep"
    first = cli("-m", "schedule=constant,triangular", "trainer.max_steps=30", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    before = folder_state(sweep, LOCK)
    again = cli("-m", "schedule=constant,triangular", "trainer.max_steps=40", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert_refused(again, "hydra.sweep.subdir=", "trainer.max_steps: 30 -> 40", "in sweep job:")
    assert folder_state(sweep, LOCK) == before
    assert {read_json(p)["status"] for p in sweep.glob("*/summary.json")} == {"completed"}


def test_a_run_diverged_before_its_first_checkpoint_is_not_retrained_and_the_rerun_exits_0(tmp_path):
    run_dir = tmp_path / "run"
    diverged = cli(*TRAIN, "faults.nan_at_step=10", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert diverged.returncode == 1 and not (run_dir / "checkpoint.pt").exists()
    before = folder_state(run_dir, LOCK_AND_LOG)
    rerun = cli(*TRAIN, f"hydra.run.dir={run_dir}", cwd=tmp_path)  # faults.* may change: they change no result
    assert rerun.returncode == 0, rerun.stderr
    assert "already diverged; nothing to do" in rerun.stdout + rerun.stderr
    assert folder_state(run_dir, LOCK_AND_LOG) == before


def test_a_completed_run_whose_checkpoint_was_deleted_is_not_retrained(folders, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(folders["train"], run_dir)
    for name in ("checkpoint.pt", "checkpoint.prev.pt"):
        (run_dir / name).unlink()
    before = folder_state(run_dir, LOCK_AND_LOG)
    rerun = cli(*TRAIN, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert "already completed; nothing to do" in rerun.stdout + rerun.stderr
    assert folder_state(run_dir, LOCK_AND_LOG) == before


def test_a_refused_command_in_a_folder_without_hydra_record_never_makes_the_original_command_refused(tmp_path):
    run_dir = tmp_path / "run"
    killed = cli(*TRAIN, "faults.kill_at_step=30", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert killed.returncode == -signal.SIGKILL
    shutil.rmtree(run_dir / ".hydra")
    before = folder_state(run_dir, LOCK)
    other_seed = cli(*TRAIN, "seed=1", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert_refused(other_seed, "seed: 0 -> 1")
    assert folder_state(run_dir, LOCK) == before  # no .hydra/ written with seed 1
    original = cli(*TRAIN, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert original.returncode == 0, original.stderr
    assert "resuming at step 20" in original.stdout + original.stderr
    assert read_json(run_dir / "summary.json")["status"] == "completed"
    assert "seed: 0" in (run_dir / ".hydra" / "config.yaml").read_text()  # the record is back


@pytest.mark.parametrize("task", ["preview", "range_test"])
def test_the_same_preview_or_range_test_again_does_nothing_and_exits_0(folders, task):
    run_dir = folders[task]
    before = folder_state(run_dir, LOCK_AND_LOG)
    again = cli(*(PREVIEW if task == "preview" else RANGE_TEST), f"hydra.run.dir={run_dir}", cwd=run_dir.parent)
    assert again.returncode == 0, again.stderr
    assert "already" in again.stdout + again.stderr
    assert folder_state(run_dir, LOCK_AND_LOG) == before


@pytest.mark.parametrize(
    ("task", "changed", "shown"),
    [
        ("preview", [*PREVIEW, "schedule=triangular2"], "schedule.name: 'triangular' -> 'triangular2'"),
        ("range_test", [*RANGE_TEST, "range_test.steps=70"], "range_test.steps: 60 -> 70"),
    ],
)
def test_a_changed_preview_or_range_test_is_refused_and_its_config_record_kept(folders, task, changed, shown):
    run_dir = folders[task]
    before = folder_state(run_dir, LOCK)
    assert_refused(cli(*changed, f"hydra.run.dir={run_dir}", cwd=run_dir.parent), shown)
    assert folder_state(run_dir, LOCK) == before


@pytest.mark.parametrize(
    ("args", "held", "asked"),
    [
        (TRAIN, "range_test", "train"),
        (PREVIEW, "train", "preview"),
        (RANGE_TEST, "preview", "range_test"),
    ],
)
def test_one_task_never_reuses_another_tasks_folder(folders, args, held, asked):
    run_dir = folders[held]
    before = folder_state(run_dir, LOCK)
    proc = cli(*args, f"hydra.run.dir={run_dir}", cwd=run_dir.parent)
    assert_refused(proc, f"holds a {held} run", f"task={asked} needs a folder of its own")
    assert folder_state(run_dir, LOCK) == before
