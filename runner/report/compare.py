"""Every group against the baseline on every compared figure: the rows of comparisons.csv and report.md's table."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from runner.report.groups import Group
from runner.report.measures import Figure, censor_at, no_plateau, sample
from runner.report.stats import Comparison, compare

COLUMNS = [
    "group",
    "figure",
    "baseline",
    "n",
    "n_baseline",
    "reached",
    "difference",
    "ci_low",
    "ci_high",
    "p",
    "test",
    "verdict",
    "reached_baseline",
    "no_plateau",
]


@dataclass(frozen=True)
class Row:
    group: Group
    figure: Figure
    result: Comparison


def comparisons(groups: list[Group], base: Group | None, figures: list[Figure], length: float) -> list[Row]:
    """One row per group other than the baseline and per figure, in sweep order; none without a baseline."""
    if base is None:
        return []
    rows = []
    for g in groups:
        if g is base:
            continue
        for f in figures:
            result = compare(
                sample(g.counted, f),
                sample(base.counted, f),
                higher_is_better=f.higher_is_better,
                censor_at=censor_at(f, length),
            )
            if f.key == "escape_step" and not (result.n and result.n_baseline):
                # every seed of one side had no plateau: there is nothing to escape, which is not a missing result
                flat = f"{no_plateau(g.counted)}/{len(g.counted)} and {no_plateau(base.counted)}/{len(base.counted)}"
                result = replace(result, verdict=f"nothing to escape (no plateau in {flat} seeds)")
            rows.append(Row(g, f, result))
    return rows


def comparison_rows(rows: list[Row], base: Group | None) -> tuple[list[str], list[list[Any]]]:
    out = []
    for row in rows:
        c = row.result
        out.append(
            [
                row.group.label,
                row.figure.key,
                base.label if base else "",
                c.n,
                c.n_baseline,
                c.reached,
                c.difference,
                c.ci_low,
                c.ci_high,
                c.p,
                c.test,
                c.verdict,
                c.reached_baseline,
                no_plateau(row.group.counted) if row.figure.key == "escape_step" else "",
            ]
        )
    return COLUMNS, out
