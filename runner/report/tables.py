"""The report's CSV tables: runs.csv (one row per planned job) and schedules.csv (one row per group); comparisons.csv
comes from runner/report/compare.py."""

from __future__ import annotations

from typing import Any

from runner.report.groups import FIGURES, Group, spread
from runner.report.measures import escape_status, no_plateau, steps_to_target
from runner.report.smith import SmithRow
from runner.sweep.collect import RunRecord


def run_rows(records: list[RunRecord], targets: list[str]) -> tuple[list[str], list[list[Any]]]:
    columns = [
        "job",
        "folder",
        "overrides",
        "schedule",
        "seed",
        "status",
        "steps",
        "final_val_acc",
        "best_val_acc",
        "test_acc",
        *[f"steps_to_{t}" for t in targets],
        "escape_status",
        "escape_step",
        "escape_lr",
        "plateau_fraction",
        "wall_s",
        "threads",
        "problem",
    ]
    rows = []
    for r in records:

        def field(name: str, r: RunRecord = r) -> Any:
            return getattr(r.summary, name) if r.summary else None

        stt = steps_to_target(r)
        problem = r.problem or field("error")
        rows.append(
            [
                r.job,
                r.folder.name if r.folder else "",
                " ".join(r.overrides),
                field("schedule"),
                r.seed,
                r.status,
                field("steps"),
                field("final_val_acc"),
                field("best_val_acc"),
                field("test_acc"),
                *[stt.get(t) for t in targets],
                escape_status(r),
                field("escape_step"),
                field("escape_lr"),
                field("plateau_fraction"),
                field("wall_s"),
                field("threads"),
                problem,
            ]
        )
    return columns, rows


def group_rows(
    groups: list[Group], targets: list[str], smith: dict[str, SmithRow]
) -> tuple[list[str], list[list[Any]]]:
    """Per group: the runs by outcome, each figure's statistics over the completed runs (std only from two values;
    `_n` counts the values, so steps_to_<t>_n of `counted` reached the target), and Smith's ratio to the baseline."""
    figures = [*FIGURES, *[f"steps_to_{t}" for t in targets]]
    columns = ["group", "schedule", "runs", "completed", "diverged", "counted", "no_plateau"]
    for f in figures:
        columns += [f"{f}_mean", f"{f}_std", f"{f}_min", f"{f}_max", f"{f}_n"]
    columns += ["steps_to_baseline_final_mean", "steps_to_baseline_final_reached", "ratio_to_baseline"]
    columns += ["ratio_ci_low", "ratio_ci_high"]
    rows = []
    for g in groups:
        row: list[Any] = [g.label, g.schedule, len(g.runs), len(g.done), len(g.diverged), len(g.counted)]
        row.append(no_plateau(g.counted))
        for f in figures:
            if f.startswith("steps_to_"):
                values = [steps_to_target(r).get(f[len("steps_to_") :]) for r in g.done]
            else:
                values = [getattr(r.summary, f) for r in g.done]
            st = spread(values)
            row += [st["mean"], st["std"], st["min"], st["max"], st["n"]]
        comp = smith.get(g.label)
        if comp is None:
            row += [None] * 5
        else:
            mean = spread(list(comp.sample.values))["mean"]
            row += [mean, comp.sample.reached, comp.ratio, comp.ci_low, comp.ci_high]
        rows.append(row)
    return columns, rows
