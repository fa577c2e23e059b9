"""A sweep's runs in groups (the configurations apart from the seed) and the numbers the report gives per group."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.analysis.targets import steps_to_target as first_reaching
from runner.analysis.targets import target_key
from runner.status import OK
from runner.sweep.collect import RunRecord
from runner.training.records import accuracy_points

FIGURES = ("final_val_acc", "best_val_acc", "escape_step", "plateau_fraction", "wall_s")


def steps_to_target(record: RunRecord) -> dict[str, Any]:
    """{target: first step reaching it} of a run's summary ({} when it has none)."""
    return (record.summary.steps_to_target if record.summary else None) or {}


@dataclass
class Group:
    """The runs of one configuration across seeds (e.g. schedule=triangular2)."""

    label: str
    runs: list[RunRecord]

    @property
    def done(self) -> list[RunRecord]:
        return [r for r in self.runs if r.status in OK]

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


def group_runs(records: list[RunRecord]) -> list[Group]:
    keys = varying_keys(records)
    groups: dict[str, list[RunRecord]] = {}
    for r in records:
        label = " ".join(short_override(o) for o in r.overrides if o.partition("=")[0] in keys) or "(all runs)"
        groups.setdefault(label, []).append(r)
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
    """Mean, sample std, min and max of the values that exist, and how many there were."""
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not xs:
        return {"mean": None, "std": None, "min": None, "max": None, "n": 0}
    return {
        "mean": statistics.fmean(xs),
        "std": statistics.stdev(xs) if len(xs) > 1 else 0.0,
        "min": min(xs),
        "max": max(xs),
        "n": len(xs),
    }


def baseline_group(groups: list[Group]) -> Group | None:
    """The constant-LR group Smith compares against (the first, if a sweep holds several constant LRs)."""
    for g in groups:
        if g.schedule == "constant" and g.done:
            return g
    return None


def smith_comparison(groups: list[Group]) -> tuple[float | None, dict[str, dict]]:
    """Per group: the steps to reach the constant policy's mean final accuracy, and the ratio to constant's."""
    base = baseline_group(groups)
    if base is None:
        return None, {}
    target = statistics.fmean(r.summary.final_val_acc for r in base.done)
    steps = {g.label: spread([first_step_reaching(r.folder, target) for r in g.done]) for g in groups}
    base_steps = steps[base.label]["mean"]
    out = {}
    for g in groups:
        s = steps[g.label]
        ratio = s["mean"] / base_steps if s["mean"] is not None and base_steps else None
        out[g.label] = {"steps": s, "ratio": ratio, "reached": s["n"], "of": len(g.done)}
    return target, out
