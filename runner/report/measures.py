"""What each run contributes to each compared figure: a value, a censored seed (the worst outcome), or nothing.

A run that completed gives its value, or is censored when it never reached the target or never escaped the plateau
it had. A run that diverged is censored on every figure: the schedule's fault, so its worst outcome. A run that
failed, is missing or still running is no evidence about the schedule: it is excluded (the report lists it), and so
is a run without a plateau, on the escape figure only, since it had nothing to escape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runner.report.stats import Sample
from runner.status import Status
from runner.sweep.collect import RunRecord

# The runs whose outcome is the schedule's: their seeds are counted on every figure, none dropped.
COUNTED = (Status.COMPLETED, Status.DIVERGED)
CENSORED = "censored"
CENSORED_ACCURACY = 0.0
ESCAPED, NOT_ESCAPED, NO_PLATEAU = "escaped", "not_escaped", "no_plateau"


@dataclass(frozen=True)
class Figure:
    """A number the report compares between groups."""

    key: str  # as in runs.csv: final_val_acc, steps_to_0.9, escape_step
    label: str  # as the report says it: final val_acc, steps to 0.9, escape step
    higher_is_better: bool

    @property
    def is_steps(self) -> bool:
        return not self.higher_is_better


def compared_figures(records: list[RunRecord], targets: list[str]) -> list[Figure]:
    """Final and best val_acc, test_acc when some run measured it, steps to each target, the plateau escape step."""
    figures = [Figure("final_val_acc", "final val_acc", True), Figure("best_val_acc", "best val_acc", True)]
    if any(r.summary and r.summary.test_acc is not None for r in records):
        figures.append(Figure("test_acc", "test_acc", True))
    figures += [Figure(f"steps_to_{t}", f"steps to {t}", False) for t in targets]
    return [*figures, Figure("escape_step", "escape step", False)]


def steps_to_target(record: RunRecord) -> dict[str, Any]:
    """{target: first step reaching it} of a run's summary ({} when it has none)."""
    return (record.summary.steps_to_target if record.summary else None) or {}


def escape_status(record: RunRecord) -> str | None:
    """escaped, not_escaped or no_plateau; older summaries without the field say it through their plateaus."""
    s = record.summary
    if s is None:
        return None
    if s.escape_status is not None:
        return s.escape_status
    if s.escape_step is not None:
        return ESCAPED
    if s.plateaus is None:  # no analysis: nothing is known
        return None
    return NOT_ESCAPED if s.plateaus else NO_PLATEAU


def outcome(record: RunRecord, figure: Figure) -> float | str | None:
    """The run's value on `figure`, CENSORED (worst outcome), or None (excluded from this figure)."""
    if record.status not in COUNTED or record.summary is None:
        return None
    if record.status == Status.DIVERGED:
        return CENSORED
    s = record.summary
    if figure.key == "escape_step":
        status = escape_status(record)
        if status == ESCAPED and s.escape_step is not None:
            return float(s.escape_step)
        return CENSORED if status == NOT_ESCAPED else None
    if figure.key.startswith("steps_to_"):
        reached = steps_to_target(record)
        key = figure.key[len("steps_to_") :]
        if key not in reached:
            return None  # this run was not asked for that target
        return CENSORED if reached[key] is None else float(reached[key])
    value = getattr(s, figure.key, None)
    return None if value is None else float(value)


def sample(records: list[RunRecord], figure: Figure) -> Sample:
    """The group's seeds on `figure`: values and censored seeds, excluded runs left out."""
    outcomes = [outcome(r, figure) for r in records]
    return Sample(
        tuple(v for v in outcomes if isinstance(v, float)),
        sum(v == CENSORED for v in outcomes),
    )


def no_plateau(records: list[RunRecord]) -> int:
    """Completed runs whose loss never stalled: nothing to escape, counted apart from the escape comparison."""
    return sum(r.status == Status.COMPLETED and escape_status(r) == NO_PLATEAU for r in records)


def run_length(records: list[RunRecord]) -> float:
    """Where censored seeds count on a steps figure: the longest counted run (every completed run's length)."""
    return float(max((r.summary.steps for r in records if r.summary and r.status in COUNTED), default=0))


def censor_at(figure: Figure, length: float) -> float:
    """Where a censored seed counts in a difference: the run length on steps figures; accuracy 0 (a diverged run
    leaves no usable model) on accuracy figures."""
    return length if figure.is_steps else CENSORED_ACCURACY
