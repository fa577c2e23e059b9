"""The group every other group of a sweep is compared with: `analysis.baseline`, or a constant or step-decay group.

With analysis.baseline null: of several constant groups (a grid of constant LRs) the best by mean final val_acc
(the validation split: the test split never chooses anything), else the one constant group, else the fixed (step
decay) group(s) by the same rule, else none. docs/report.md says why.
"""

from __future__ import annotations

from dataclasses import dataclass

from runner.report.groups import Group
from runner.report.measures import CENSORED_ACCURACY
from runner.status import Status
from runner.sweep.collect import RunRecord

# The policies a schedule is measured against when the sweep does not say: Smith's constant LR, then step decay.
DEFAULT_POLICIES = ("constant", "fixed")


@dataclass(frozen=True)
class Baseline:
    group: Group | None
    note: str  # one line for the report: which group and why, or why there is none


def mean_final_val_acc(group: Group) -> float:
    """Mean final val_acc over the counted seeds, a diverged seed counting as accuracy 0."""
    values = [
        CENSORED_ACCURACY if r.status == Status.DIVERGED else r.summary.final_val_acc
        for r in group.counted
        if r.status == Status.DIVERGED or r.summary.final_val_acc is not None
    ]
    return sum(values) / len(values) if values else float("-inf")


def requested_baseline(records: list[RunRecord]) -> tuple[str | None, str]:
    """analysis.baseline as the runs' configs give it, and a note when they disagree."""
    values = list(dict.fromkeys(r.baseline for r in records if r.baseline))
    if len(values) > 1:
        return values[0], f"the runs name different analysis.baseline values ({', '.join(values)}); using the first"
    return (values[0] if values else None), ""


def choose_baseline(groups: list[Group], requested: str | None) -> Baseline:
    if requested is not None:
        wanted = requested.strip().strip("`").strip()
        for g in groups:
            if g.label == wanted:
                if not g.counted:
                    note = f"analysis.baseline={requested}: that group has no counted run to compare with"
                    return Baseline(None, note)
                return Baseline(g, f"`{g.label}` (analysis.baseline)")
        labels = ", ".join(f"`{g.label}`" for g in groups)
        return Baseline(None, f"analysis.baseline={requested} names no group of this sweep (its groups: {labels})")
    for policy in DEFAULT_POLICIES:
        candidates = [g for g in groups if g.schedule == policy and g.counted]
        if len(candidates) == 1:
            return Baseline(candidates[0], f"`{candidates[0].label}` (the sweep's only {policy} group)")
        if candidates:
            best = max(candidates, key=mean_final_val_acc)  # max keeps the first of equals: sweep order decides
            labels = ", ".join(f"`{g.label}`" for g in candidates)
            kind = "constant" if policy == "constant" else f"{policy} group"
            return Baseline(best, f"grid-chosen {kind}: `{best.label}`, best of {labels} by validation accuracy")
    return Baseline(
        None,
        "the sweep has no constant or fixed (step decay) group and analysis.baseline is not set",
    )


def sweep_baseline(groups: list[Group], records: list[RunRecord]) -> Baseline:
    """The baseline the runs' analysis.baseline asks for, or the default; the note says when the runs disagree."""
    requested, disagreement = requested_baseline(records)
    chosen = choose_baseline(groups, requested)
    return Baseline(chosen.group, f"{chosen.note} ({disagreement})") if disagreement else chosen
