"""The report's CSV tables: runs.csv (one row per planned job) and schedules.csv (one row per group)."""

from __future__ import annotations

from typing import Any

from runner.report.groups import FIGURES, Group, spread, steps_to_target
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
        *[f"steps_to_{t}" for t in targets],
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
                *[stt.get(t) for t in targets],
                field("escape_step"),
                field("escape_lr"),
                field("plateau_fraction"),
                field("wall_s"),
                field("threads"),
                problem,
            ]
        )
    return columns, rows


def group_rows(groups: list[Group], targets: list[str], smith: dict) -> tuple[list[str], list[list[Any]]]:
    figures = [*FIGURES, *[f"steps_to_{t}" for t in targets]]
    columns = ["group", "schedule", "runs", "completed"]
    for f in figures:
        columns += [f"{f}_mean", f"{f}_std", f"{f}_min", f"{f}_max", f"{f}_n"]
    columns += ["steps_to_constant_final_mean", "ratio_to_constant"]
    rows = []
    for g in groups:
        row: list[Any] = [g.label, g.schedule, len(g.runs), len(g.done)]
        for f in figures:
            if f.startswith("steps_to_"):
                values = [steps_to_target(r).get(f[len("steps_to_") :]) for r in g.done]
            else:
                values = [getattr(r.summary, f) for r in g.done]
            st = spread(values)
            row += [st["mean"], st["std"], st["min"], st["max"], st["n"]]
        comp = smith.get(g.label, {})
        row += [(comp.get("steps") or {}).get("mean"), comp.get("ratio")]
        rows.append(row)
    return columns, rows
