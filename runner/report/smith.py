"""Smith's Table 1 (Smith 2017): the iterations each group needs to reach the baseline's mean final val_acc, as a
ratio to the baseline's own, with a 95% bootstrap CI over the seeds of both groups and how many seeds got there."""

from __future__ import annotations

from dataclasses import dataclass

from runner.report.groups import Group, first_step_reaching
from runner.report.stats import Sample, ratio
from runner.status import Status


@dataclass(frozen=True)
class SmithRow:
    sample: Sample  # steps to the target per seed; censored: never reached it, or diverged
    ratio: float | None
    ci_low: float | None
    ci_high: float | None
    bound: str  # "" (an estimate), ">=" or "<=" (censored seeds on one side make it a bound), "~" (both sides)


def steps_to(group: Group, accuracy: float) -> Sample:
    steps = [None if r.status == Status.DIVERGED else first_step_reaching(r.folder, accuracy) for r in group.counted]
    return Sample(tuple(float(s) for s in steps if s is not None), sum(s is None for s in steps))


def smith_table(groups: list[Group], base: Group | None, length: float) -> tuple[float | None, dict[str, SmithRow]]:
    """(the target accuracy, {group label: its row}); (None, {}) without a baseline that completed a run."""
    finals = [r.summary.final_val_acc for r in base.done if r.summary.final_val_acc is not None] if base else []
    if not finals:
        return None, {}
    target = sum(finals) / len(finals)
    base_steps = steps_to(base, target)
    table = {}
    for g in groups:
        sample = steps_to(g, target)
        value, low, high = ratio(sample, base_steps, length)
        # Censored seeds count as the run length, less than the truth: a group's own make its ratio too low,
        # the baseline's make every ratio too high.
        bound = {(True, False): ">=", (False, True): "<=", (True, True): "~"}.get(
            (sample.censored > 0, base_steps.censored > 0), ""
        )
        if g is base:
            bound = ""  # 1 by definition
        table[g.label] = SmithRow(sample, value, low, high, bound)
    return target, table
