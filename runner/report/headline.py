"""The one sentence at the top of report.md: what the sweep says against its baseline, with its uncertainty.

It names only differences a test detected (p < 0.05 and a 95% CI that leaves 0 out), each with its CI; everything
else is "no detectable difference". It never ranks groups against each other, so a tie is never crowned.
"""

from __future__ import annotations

from runner.report.baseline import Baseline
from runner.report.compare import Row
from runner.report.groups import Group
from runner.report.stats import BETTER, MIN_N, WORSE

# Findings the headline spells out before it counts the rest: final accuracy first, then the plateau escape and the
# steps to each target (the sweep's questions), then best and test accuracy.
MAX_FINDINGS = 6
ORDER = ("final_val_acc", "escape_step", "steps_to_", "best_val_acc", "test_acc")


def priority(row: Row) -> int:
    return next((i for i, key in enumerate(ORDER) if row.figure.key.startswith(key)), len(ORDER))


def number(value: float, steps: bool) -> str:
    return f"{value:.0f}" if steps else f"{value:.3f}"


def ci_text(row: Row) -> str:
    """The CI of the size of the difference, smaller end first ("95% CI 40 to 200")."""
    c = row.result
    low, high = sorted((abs(c.ci_low), abs(c.ci_high)))
    steps = row.figure.is_steps
    return f"95% CI {number(low, steps)} to {number(high, steps)}"


def finding(row: Row) -> str:
    """One detected difference in words, e.g. "`schedule=triangular2` reaches 0.9 in 120 fewer steps (95% CI ...)"."""
    c, f = row.result, row.figure
    better = c.verdict == BETTER
    target = f.key[len("steps_to_") :]
    if c.censored_median:
        # Most seeds of one side never got there: a direction and the counts, no size (it would be the convention's).
        never = c.reached.startswith("0/")
        if never and f.key == "escape_step":
            text = "never escapes its plateau"
        elif never and f.is_steps:
            text = f"never reaches {target}"
        elif never:
            text = f"has no {f.label} (every seed diverged)"
        else:
            text = direction(row, better, target)
        return f"`{row.group.label}` {text} (reached {c.reached}, the baseline {c.reached_baseline})"
    what = "median" if c.test != "welch_t" else "mean"
    text = direction(row, better, target, number(abs(c.difference), f.is_steps))
    return f"`{row.group.label}` {text} ({what}, {ci_text(row)})"


def direction(row: Row, better: bool, target: str, size: str | None = None) -> str:
    """ "escapes its plateau [N steps] earlier", "reaches 0.9 in [N] fewer steps", "has higher final val_acc [by N]"."""
    f = row.figure
    if f.key == "escape_step":
        return f"escapes its plateau {f'{size} steps ' if size else ''}{'earlier' if better else 'later'}"
    if f.is_steps:
        return f"reaches {target} in {f'{size} ' if size else ''}{'fewer' if better else 'more'} steps"
    return f"has {'higher' if better else 'lower'} {f.label}" + (f" by {size}" if size else "")


def sizes(groups: list[Group]) -> str:
    ns = sorted({len(g.counted) for g in groups})
    return f"n={ns[0]} each" if len(ns) == 1 else f"n={ns[0]} to {ns[-1]} per group"


def headline(groups: list[Group], baseline: Baseline, rows: list[Row]) -> str:
    base = baseline.group
    if base is None:
        return f"Nothing to compare with: {baseline.note}; the tables below describe each group."
    others = [g for g in groups if g is not base and g.counted]
    if not others:
        return f"Only `{base.label}` has runs to count: nothing to compare it with."
    # The grid the baseline was chosen from answers "which constant?", not the user's question: its other points
    # stay in the tables and the headline speaks of the schedules being compared, unless there is nothing else.
    grid = [g for g in others if g.schedule == base.schedule] if baseline.note.startswith("grid-chosen") else []
    if len(grid) == len(others):
        grid = []  # a sweep of constants alone: they are what it compares
    others = [g for g in others if g not in grid]
    head = f"Against `{base.label}` ({sizes([base, *others])})"
    judged = [g for g in others if min(len(g.counted), len(base.counted)) >= MIN_N]
    wrecked = [g for g in others if len(g.diverged) == len(g.counted)]  # every seed diverged: one clause says it
    clauses = []
    if not judged:
        clauses.append(f"no verdict is possible with fewer than {MIN_N} seeds per group")
    judged_rest = [g for g in judged if g not in wrecked]
    if judged_rest:
        found = [r for r in rows if r.group in judged_rest and r.result.detected]
        final = [finding(r) for r in found if r.figure.key == "final_val_acc"]
        other = [finding(r) for r in sorted(found, key=priority) if r.figure.key != "final_val_acc"]
        if len(final) + len(other) > MAX_FINDINGS:  # one readable sentence; the table holds every row
            keep = max(0, MAX_FINDINGS - len(final))
            rest = len(other) - keep
            other = other[:keep] + [f"{rest} further detected difference{'s' * (rest != 1)} in the table below"]
        nobody = f"`{judged_rest[0].label}` does not differ" if len(judged_rest) == 1 else "no group differs"
        if not final and not other:
            clauses.append(f"{nobody} detectably in any compared figure")
        else:
            clauses += final or [f"{nobody} detectably in final val_acc"]
            clauses += other or ["no other figure differs detectably"]
    for g in wrecked:
        worse = [r.figure.label for r in rows if r.group is g and r.result.verdict == WORSE]
        clause = f"`{g.label}` diverged in every seed ({len(g.diverged)}/{len(g.counted)})"
        if worse:
            clause += f": worse in {', '.join(worse)}"
        elif g in judged:
            clause += f", not detectably worse at n = {len(g.counted)}"
        clauses.append(clause)
    unjudged = [g for g in others if g not in judged]
    if judged and unjudged:
        labels = ", ".join(f"`{g.label}`" for g in unjudged)
        clauses.append(f"{labels}: fewer than {MIN_N} seeds, no verdict")
    partly = [g for g in [base, *others] if g.diverged and g not in wrecked]
    clauses += [f"`{g.label}` diverged in {len(g.diverged)}/{len(g.counted)} seeds" for g in partly]
    if grid:
        clauses.append(f"the grid's other {base.schedule} groups are compared in the table below")
    return f"{head}: {'; '.join(clauses)}."
