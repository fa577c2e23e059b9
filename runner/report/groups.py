"""A sweep's runs in groups (the configurations apart from the seed) and the numbers the report gives per group."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.analysis.targets import steps_to_target as first_reaching
from runner.analysis.targets import target_key
from runner.report.measures import COUNTED, steps_to_target
from runner.status import OK, Status
from runner.sweep.collect import RunRecord
from runner.training.records import accuracy_points

# The per-group statistics of schedules.csv (over completed runs), beside the steps to each target.
FIGURES = ("final_val_acc", "best_val_acc", "test_acc", "escape_step", "plateau_fraction", "wall_s")


@dataclass
class Group:
    """The runs of one configuration across seeds (e.g. schedule=triangular2)."""

    label: str
    runs: list[RunRecord]

    @property
    def done(self) -> list[RunRecord]:
        """Completed runs: the ones whose numbers the tables describe."""
        return [r for r in self.runs if r.status in OK]

    @property
    def counted(self) -> list[RunRecord]:
        """Completed and diverged runs: the seeds every comparison counts (a divergence as the worst outcome)."""
        return [r for r in self.runs if r.status in COUNTED]

    @property
    def diverged(self) -> list[RunRecord]:
        return [r for r in self.runs if r.status == Status.DIVERGED]

    @property
    def excluded(self) -> list[RunRecord]:
        """Failed, missing, interrupted or unfinished runs: no evidence about the schedule, listed and left out."""
        return [r for r in self.runs if r.status not in COUNTED]

    @property
    def schedule(self) -> str:
        names = {r.summary.schedule for r in self.runs if r.summary}
        return ",".join(sorted(n for n in names if n)) or "?"


def varying_keys(records: list[RunRecord]) -> list[str]:
    """Override keys whose value differs between jobs: these name the groups (the seed aside)."""
    values: dict[str, set] = {}
    for r in records:
        for o in r.overrides:
            key, _, value = o.partition("=")
            values.setdefault(key, set()).add(value)
    present = [set(o.partition("=")[0] for o in r.overrides) for r in records]
    keys = [k for k, v in values.items() if len(v) > 1 or any(k not in p for p in present)]
    return [k for k in keys if k != "seed"]


def short_override(override: str) -> str:
    """A group-choice override as a reader says it: `experiment/plateau_escape@_global_=constant` reads
    `plateau_escape=constant`; plain key=value overrides stay as they are."""
    key, sep, value = override.partition("=")
    return f"{key.split('@', 1)[0].rsplit('/', 1)[-1]}{sep}{value}"


def used_overrides(record: RunRecord) -> list[str]:
    """The run's overrides without the keys its summary.json lists as ignored: a key a sweep gave every policy
    (`schedule.step_size` for constant) or a length overruled by a stronger form describes nothing this run did."""
    ignored = set(record.summary.ignored_keys or []) if record.summary else set()
    return [o for o in record.overrides if o.partition("=")[0].lstrip("+~") not in ignored]


def group_runs(records: list[RunRecord]) -> list[Group]:
    """Runs grouped by the overrides that vary across the sweep (the seed aside), each label naming only the keys
    the run used. Two jobs that differ only in a key both ignored ran the same configuration: the repeat of a seed
    already in its group (in runs.csv all the same) is not counted twice."""
    keys = varying_keys(records)
    groups: dict[str, list[RunRecord]] = {}
    for r in records:
        label = " ".join(short_override(o) for o in used_overrides(r) if o.partition("=")[0] in keys) or "(all runs)"
        runs = groups.setdefault(label, [])
        if r.seed is None or all(other.seed != r.seed for other in runs):
            runs.append(r)
    return [Group(label, runs) for label, runs in groups.items()]


def target_keys(records: list[RunRecord]) -> list[str]:
    keys: list[str] = []
    for r in records:
        for k in steps_to_target(r):
            if k not in keys:
                keys.append(k)
    return sorted(keys, key=float)


def first_step_reaching(folder: Path | None, accuracy: float) -> int | None:
    """The first evaluation step whose val_acc reaches `accuracy` (Smith's iterations-to-accuracy)."""
    if folder is None:
        return None
    points = accuracy_points(folder)
    return first_reaching(list(points), list(points.values()), [accuracy])[target_key(accuracy)]


def spread(values: list[float | None]) -> dict[str, Any]:
    """Mean, sample std (None for a single value: one seed has no spread to show), min and max of the values that
    exist, and how many there were."""
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not xs:
        return {"mean": None, "std": None, "min": None, "max": None, "n": 0}
    return {
        "mean": statistics.fmean(xs),
        "std": statistics.stdev(xs) if len(xs) > 1 else None,
        "min": min(xs),
        "max": max(xs),
        "n": len(xs),
    }
