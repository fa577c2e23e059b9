"""logger=tensorboard through the real CLI: the event files hold what metrics.csv and eval.csv hold, a kill and
resume leaves no step twice, and without the package the choice is a one-line error that leaves no folder."""

from __future__ import annotations

import signal
import textwrap

import numpy as np

from runner.analysis.plateaus import ema
from support import read_csv, read_json

SHORT = ["logger=tensorboard", "trainer.max_steps=100", "trainer.threads=1"]


def scalars(run_dir) -> dict[str, list[tuple[int, float]]]:
    """Every scalar series of the run folder's event files, as TensorBoard reads them (orphans purged)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def assert_events_match_records(run_dir) -> None:
    metrics, evals = read_csv(run_dir / "metrics.csv"), read_csv(run_dir / "eval.csv")
    board = scalars(run_dir)
    steps = [int(r["step"]) for r in metrics]
    for tag, column in (("lr", "lr"), ("momentum", "momentum"), ("loss", "loss")):
        assert [s for s, _ in board[tag]] == steps, tag  # every step once, in order
        # event files store float32
        np.testing.assert_allclose([v for _, v in board[tag]], [float(r[column]) for r in metrics], rtol=1e-6)
    smoothed = ema([float(r["loss"]) for r in metrics], 0.98)  # analysis.smoothing, as curves.png draws it
    np.testing.assert_allclose([v for _, v in board["loss_smoothed"]], smoothed, rtol=1e-5)
    by_step = {int(r["step"]): r for r in evals}  # a step evaluated for two reasons has two equal rows
    for tag in ("val_loss", "val_acc"):
        assert [s for s, _ in board[tag]] == sorted(by_step), tag
        np.testing.assert_allclose([v for _, v in board[tag]], [float(by_step[s][tag]) for s, _ in board[tag]])


def test_event_files_hold_the_records_scalars(cli, tmp_path):
    run_dir = tmp_path / "run"
    proc = cli(*SHORT, f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr
    assert list(run_dir.glob("events.out.tfevents.*"))
    assert_events_match_records(run_dir)


def test_kill_and_resume_leaves_no_duplicate_step(cli, tmp_path):
    run_dir = tmp_path / "run"
    # flush_every=5: the killed process has already written steps past its last checkpoint (50) to the event file
    args = [*SHORT, "trainer.checkpoint_every=25", "trainer.flush_every=5", f"hydra.run.dir={run_dir}"]
    killed = cli(*args, "faults.kill_at_step=62")
    assert killed.returncode == -signal.SIGKILL
    before = scalars(run_dir)["loss"]
    assert max(s for s, _ in before) >= 55  # the steps a resume from step 50 redoes are in the first file
    resumed = cli(*args)
    assert resumed.returncode == 0, resumed.stderr
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 2
    assert read_json(run_dir / "summary.json")["resumes"] == 1
    assert_events_match_records(run_dir)


def test_csv_logger_writes_no_event_files(cli, tmp_path):
    run_dir = tmp_path / "run"
    assert cli("trainer.max_steps=5", "trainer.threads=1", f"hydra.run.dir={run_dir}").returncode == 0
    assert (run_dir / "metrics.csv").is_file()
    assert not list(run_dir.glob("events.out.tfevents.*"))


def test_tensorboard_without_the_package_is_one_line_and_no_folder(cli, tmp_path):
    hide = tmp_path / "hide"
    hide.mkdir()
    # sitecustomize runs at start-up: a None entry in sys.modules makes `import tensorboard` fail as if absent.
    (hide / "sitecustomize.py").write_text(
        textwrap.dedent("""
            import sys
            sys.modules["tensorboard"] = None
        """)
    )
    proc = cli("logger=tensorboard", "trainer.max_steps=5", env={"PYTHONPATH": str(hide)})
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        'error: logger=tensorboard: the tensorboard package is not installed; pip install "clr-lab[tensorboard]", '
        "or use logger=csv"
    ]
    assert not (tmp_path / "outputs").exists()


def test_an_unknown_logger_is_one_line(cli, tmp_path):
    proc = cli("logger=wandb", "trainer.max_steps=5")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["error: logger='wandb': unknown logger; allowed: csv, tensorboard"]
    assert not (tmp_path / "outputs").exists()
