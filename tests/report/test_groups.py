"""Groups of a sweep over policies with shared keys: a key a run ignored never labels its group or splits it."""

from __future__ import annotations

import json

from runner.report.groups import group_runs
from runner.sweep.collect import collect


def ignore(folder, *keys: str) -> None:
    """What the run wrote: the keys it was given but did not use (summary.json's ignored_keys)."""
    summary = json.loads((folder / "summary.json").read_text())
    (folder / "summary.json").write_text(json.dumps({**summary, "ignored_keys": list(keys)}))


def test_an_ignored_shared_key_neither_labels_nor_splits_a_group(fake_sweep):
    for step_size in (17, 34):
        for seed in (0, 1, 2):
            ignore(fake_sweep.run(f"schedule=constant schedule.step_size={step_size}", seed), "schedule.step_size")
            fake_sweep.run(f"schedule=triangular schedule.step_size={step_size}", seed)
    groups = {g.label: g for g in group_runs(collect(fake_sweep.folder))}
    assert sorted(groups) == [
        "schedule=constant",
        "schedule=triangular schedule.step_size=17",
        "schedule=triangular schedule.step_size=34",
    ]
    # constant ran the same configuration twice per seed: each seed counts once
    assert sorted(r.seed for r in groups["schedule=constant"].runs) == [0, 1, 2]


def test_a_shared_key_given_to_all_keeps_one_group_per_policy(fake_sweep):
    for seed in (0, 1):
        ignore(fake_sweep.run("schedule=constant schedule.step_size=50", seed), "schedule.step_size")
        fake_sweep.run("schedule=triangular schedule.step_size=50", seed)
    labels = sorted(g.label for g in group_runs(collect(fake_sweep.folder)))
    assert labels == ["schedule=constant", "schedule=triangular"]
