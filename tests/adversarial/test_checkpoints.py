"""Checkpoints that prove themselves: a damaged one is refused with one line, and the previous one resumes instead.

A run is killed after its fourth checkpoint (steps 25, 50, 75, 100: checkpoint.pt holds step 100 and
checkpoint.prev.pt step 75); then its checkpoint.pt is damaged the way disks and copies damage files.
"""

from __future__ import annotations

import signal

import pytest
import torch

from support import folder_state, read_json, run_cli

# A refused command still took the folder's lock, and the lock file names its last holder: that file aside, a
# refused command must leave the folder exactly as it was.
LOCK = (".lock",)

STEPS = 120
ARGS = [
    "schedule=triangular2",
    "schedule.step_size=20",
    f"trainer.max_steps={STEPS}",
    "trainer.checkpoint_every=25",
    "trainer.threads=1",
    "trainer.progress=false",
    "model.dropout=0.2",  # the torch RNG state must come back too
]


def run(run_dir, *extra, cwd):
    return run_cli(*ARGS, *extra, f"hydra.run.dir={run_dir}", cwd=cwd)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    root = tmp_path_factory.mktemp("reference")
    proc = run(root / "run", cwd=root)
    assert proc.returncode == 0, proc.stderr
    return root / "run"


def killed_run(tmp_path):
    run_dir = tmp_path / "run"
    proc = run(run_dir, "faults.kill_at_step=101", cwd=tmp_path)
    assert proc.returncode == -signal.SIGKILL
    return run_dir


def flip_one_weight_bit(path) -> None:
    """Flip one bit inside the bytes of the largest weight tensor, where no zip or pickle check looks."""
    weights = torch.load(path, weights_only=True)["model"]
    tensor = max(weights.values(), key=lambda t: t.numel())
    raw = bytearray(path.read_bytes())
    at = raw.find(tensor.contiguous().numpy().tobytes())
    assert at > 0
    raw[at + 1001] ^= 0x04
    path.write_bytes(bytes(raw))


def assert_one_line_refusal(proc, run_dir, before) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "refused to load the checkpoint" in lines[0] and "checkpoint.pt" in lines[0]
    assert folder_state(run_dir, LOCK) == before


def test_a_bit_flipped_checkpoint_is_refused_and_the_previous_one_resumes_identically(reference, tmp_path):
    run_dir = killed_run(tmp_path)
    flip_one_weight_bit(run_dir / "checkpoint.pt")
    resumed = run(run_dir, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    log = resumed.stdout + resumed.stderr
    warning = next(line for line in log.splitlines() if "WARNING" in line and "checkpoint.prev.pt" in line)
    assert str(run_dir / "checkpoint.pt") in warning and "does not match its sha256" in warning
    assert "resuming at step 75" in log
    for name in ("metrics.csv", "eval.csv"):
        assert (run_dir / name).read_bytes() == (reference / name).read_bytes()
    a = torch.load(run_dir / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(reference / "checkpoint.pt", weights_only=True)["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert read_json(run_dir / "summary.json")["status"] == "completed"


def test_a_checkpoint_cut_to_half_with_no_previous_one_is_refused_with_one_line(tmp_path):
    run_dir = killed_run(tmp_path)
    (run_dir / "checkpoint.prev.pt").unlink()
    path = run_dir / "checkpoint.pt"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    before = folder_state(run_dir, LOCK)
    assert_one_line_refusal(run(run_dir, cwd=tmp_path), run_dir, before)


def test_a_checkpoint_without_its_config_is_refused_with_one_line(tmp_path):
    run_dir = killed_run(tmp_path)
    (run_dir / "checkpoint.prev.pt").unlink()
    path = run_dir / "checkpoint.pt"
    state = torch.load(path, weights_only=True)
    del state["config"]
    torch.save(state, path)
    before = folder_state(run_dir, LOCK)
    assert_one_line_refusal(run(run_dir, cwd=tmp_path), run_dir, before)
