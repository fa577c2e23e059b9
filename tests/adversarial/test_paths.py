"""Output paths stay where the user put them: after interpolation, a run or sweep folder is an explicit absolute
path or lies below the current folder, a sweep's subdir lies below the sweep folder, and none is empty."""

from __future__ import annotations

import pytest

from support import run_cli

CLIMBING_ROOT = ["dataset=mnist", "dataset.root=../../esc"]  # a value that climbs, used through an interpolation
ESCAPES = [
    (["-m", "hydra.sweep.subdir={tmp}/escaped"], "hydra.sweep.subdir", "relative path"),
    (["-m", *CLIMBING_ROOT, "hydra.sweep.subdir=${dataset.root}"], "hydra.sweep.subdir", ".."),
    ([*CLIMBING_ROOT, "hydra.run.dir=${dataset.root}"], "hydra.run.dir", ".."),
    (["hydra.run.dir="], "hydra.run.dir", "current folder"),
    (["hydra.run.dir=."], "hydra.run.dir", "current folder"),
    (["-m", "hydra.sweep.dir="], "hydra.sweep.dir", "current folder"),
    (["-m", "hydra.sweep.subdir="], "hydra.sweep.subdir", "sweep folder"),
]


@pytest.mark.parametrize("args,key,why", ESCAPES, ids=[" ".join(a) for a, _, _ in ESCAPES])
def test_an_output_path_outside_its_root_or_empty_is_refused_and_nothing_is_written(tmp_path, args, key, why):
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    proc = run_cli(*(a.replace("{tmp}", str(tmp_path)) for a in args), "trainer.max_steps=2", cwd=inner)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith(f"error: {key}=") and why in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b"]  # nothing written anywhere


def test_an_explicit_absolute_run_folder_is_still_allowed(tmp_path):
    run_dir = tmp_path / "elsewhere" / "run"
    proc = run_cli(f"hydra.run.dir={run_dir}", "trainer.max_steps=2", "trainer.progress=false", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (run_dir / "summary.json").is_file()
