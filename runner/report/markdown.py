"""report.md: the headline, the baseline, the runs without a result, the per-group table, the comparisons with the
baseline, Smith's Table 1 and the figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner.files import atomic_file
from runner.report.baseline import Baseline
from runner.report.compare import Row
from runner.report.groups import Group, spread
from runner.report.measures import COUNTED, Figure, escape_status, no_plateau, sample
from runner.report.smith import SmithRow
from runner.report.stats import MANN_WHITNEY, MIN_N, WELCH
from runner.status import OK, Status
from runner.sweep.collect import RunRecord
from runner.sweep.stop import read_stop_file

TEST_NAMES = {WELCH: "Welch t", MANN_WHITNEY: "Mann-Whitney U"}


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _mean_pm(values: list[float], digits: int = 3) -> str:
    """Mean ± std for two or more values, the value alone for one (a single seed has no spread), "–" for none."""
    st = spread(values)
    if st["mean"] is None:
        return "–"
    if st["n"] < 2:
        return _fmt(st["mean"], digits)
    return f"{_fmt(st['mean'], digits)} ± {_fmt(st['std'], digits)}"


def _digits(figure: Figure) -> int:
    return 0 if figure.is_steps else 3


def _signed(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:+.{digits}f}"


def _p(p: float | None) -> str:
    if p is None:
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def write_markdown(
    sweep_dir: Path,
    records: list[RunRecord],
    groups: list[Group],
    figures: list[Figure],
    *,
    headline: str,
    baseline: Baseline,
    rows: list[Row],
    smith_target: float | None,
    smith: dict[str, SmithRow],
) -> Path:
    base = baseline.group
    waiting = [r for r in records if r.status == Status.NOT_STARTED]  # not a result, and not a failure either
    problems = [r for r in records if r.status not in OK and r.status != Status.NOT_STARTED]
    excluded = [r for r in problems if r.status not in COUNTED]
    diverged = len(problems) - len(excluded)
    lines = [
        f"# Sweep report: {sweep_dir.name}",
        "",
        f"**{headline}**",
        "",
        f"Baseline: {baseline.note}." if base else f"Baseline: none ({baseline.note}).",
        "",
        f"Folder `{sweep_dir}`: {len(records) - len(waiting)} runs, {sum(r.status in OK for r in records)} "
        f"completed, {diverged} diverged (counted as the worst outcome on every figure), {len(excluded)} excluded "
        "(failed, missing or unfinished: no evidence about the schedule)"
        + (f", and {len(waiting)} not started" if waiting else "")
        + ". How each number is computed: docs/report.md in clr-lab.",
        "",
    ]
    lines += _stopped(sweep_dir, records, waiting)
    if problems:
        lines += _problems(problems)
    lines += _group_table(groups, figures)
    if base is not None:
        lines += _comparison_table(rows, base)
    lines += _smith_table(groups, base, smith_target, smith)
    lines += [
        "## Curves",
        "",
        "![LR, smoothed loss and validation accuracy per group](compare.png)",
        "",
        "Lines are the mean over a group's completed seeds; bands the t-based 95% confidence interval of that mean "
        "(none for a single seed). Per-run figures:",
        "",
    ]
    lines += [f"- [{r.folder.name}]({r.folder.name}/curves.png) ({r.status})" for r in records if r.folder]
    lines += [
        "",
        "Tables: [runs.csv](runs.csv) (one row per run), [schedules.csv](schedules.csv) "
        "(per group: mean, std, min, max, n), [comparisons.csv](comparisons.csv) (per group and figure: the test "
        "against the baseline).",
        "",
    ]
    path = sweep_dir / "report.md"
    with atomic_file(path) as f:
        f.write("\n".join(lines))
    return path


def _stopped(sweep_dir: Path, records: list[RunRecord], waiting: list[RunRecord]) -> list[str]:
    """What a signal left: the sweep's stop file (runner/sweep/stop.py), the jobs it interrupted and those it kept
    from starting, and how to finish the sweep."""
    stop = read_stop_file(sweep_dir)
    if stop is None and not waiting:
        return []
    interrupted = sum(r.status == Status.INTERRUPTED for r in records)
    by = f"by {stop['name']}" if stop and isinstance(stop.get("name"), str) else "by a signal"
    lines = [
        "## Stopped",
        "",
        f"The sweep was stopped {by}: {interrupted} run(s) interrupted (checkpointed), {len(waiting)} not started. "
        f"Run the same command again with `hydra.sweep.dir={sweep_dir}` to finish it: interrupted runs resume "
        "from their checkpoints, the others start, and the report is written again.",
        "",
    ]
    if waiting:
        lines += ["| job | folder | overrides |", "|---|---|---|"]
        lines += [f"| {r.job} | {r.folder.name if r.folder else '–'} | `{' '.join(r.overrides)}` |" for r in waiting]
        lines.append("")
    return lines


def _problems(problems: list[RunRecord]) -> list[str]:
    lines = ["## Runs without a result", "", "| job | folder | overrides | status | why |", "|---|---|---|---|---|"]
    for r in problems:
        s = r.summary
        why = r.problem or (s.error if s else None) or (s.diverged_at if s else None) or ""
        if not why and r.status == Status.INTERRUPTED and s is not None:
            why = f"stopped at step {s.steps}; the same command resumes it"
        folder = r.folder.name if r.folder else "(missing)"
        lines.append(f"| {r.job} | {folder} | `{' '.join(r.overrides)}` | {r.status} | {why} |")
    return lines + [
        "",
        "A diverged run is the schedule's outcome: it stays in every comparison as its worst case (never reached, "
        "accuracy 0). The others are left out of every table below.",
        "",
    ]


def _group_table(groups: list[Group], figures: list[Figure]) -> list[str]:
    accuracy = [f for f in figures if not f.is_steps]
    steps = [f for f in figures if f.is_steps and f.key != "escape_step"]
    head = ["group", "seeds counted", *[f.label for f in accuracy], *[f.label for f in steps]]
    head += ["plateau escape step", "plateau fraction"]
    lines = [
        "## Per group",
        "",
        "Accuracies: mean ± std over the completed seeds (the value alone for one seed). Steps: over the seeds that "
        "got there, with how many did out of every counted seed (a diverged seed never gets there).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for g in groups:
        seeds = f"{len(g.counted)}/{len(g.runs)}" + (f" ({len(g.diverged)} diverged)" if g.diverged else "")
        cells = [f"`{g.label}`", seeds]
        cells += [_mean_pm([getattr(r.summary, f.key) for r in g.done]) for f in accuracy]
        for f in steps:
            s = sample(g.counted, f)
            cells.append(f"{_mean_pm(list(s.values), 0)} (reached {s.reached})")
        esc = next(f for f in figures if f.key == "escape_step")
        s = sample(g.counted, esc)
        flat = no_plateau(g.counted)
        unknown = sum(escape_status(r) is None for r in g.done)
        note = f"escaped {s.reached}" + (f", no plateau {flat}/{len(g.counted)}" if flat else "")
        note += f", {unknown} without analysis" if unknown else ""
        cells.append(f"{_mean_pm(list(s.values), 0)} ({note})")
        cells.append(_mean_pm([r.summary.plateau_fraction for r in g.done], 2))
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def _comparison_table(rows: list[Row], base: Group) -> list[str]:
    lines = [
        f"## Against `{base.label}`",
        "",
        "Difference: the group minus the baseline (steps: negative is fewer). Welch t: difference of means, every "
        "seed got there. Mann-Whitney U: some seed never got there or diverged; it ranks last and counts at the run "
        f"length (accuracy 0) in the difference of medians, whose CI is a bootstrap over seeds. With n < {MIN_N} in "
        "either group there is no test and no verdict.",
        "",
    ]
    if not rows:
        return lines + ["No other group has runs to compare.", ""]
    lines += [
        "| group | figure | n | reached (baseline) | difference (95% CI) | p | test | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        c, d = row.result, _digits(row.figure)
        n = str(c.n) if c.n == c.n_baseline else f"{c.n} vs {c.n_baseline}"
        diff = _signed(c.difference, d)
        if c.ci_low is not None:
            diff += f" ({_signed(c.ci_low, d)} to {_signed(c.ci_high, d)})"
        lines.append(
            f"| `{row.group.label}` | {row.figure.label} | {n} | {c.reached} ({c.reached_baseline}) | {diff} "
            f"| {_p(c.p)} | {TEST_NAMES.get(c.test, '–')} | {c.verdict} |"
        )
    return lines + [""]


def _smith_table(
    groups: list[Group], base: Group | None, target: float | None, smith: dict[str, SmithRow]
) -> list[str]:
    if base is None or target is None:
        return ["No baseline with a completed run, so no Smith (2017) Table 1 ratio.", ""]
    lines = [
        f"## Iterations to `{base.label}`'s final accuracy (Smith 2017, Table 1 style)",
        "",
        f"Target: the baseline's mean final val_acc, {target:.4f}. Steps: the first evaluation at or above it, over "
        "the seeds that got there. Ratio: mean steps over the baseline's, a seed that never got there (or diverged) "
        "counting as the run length, so the ratio is a bound when one did (>=: this group's, <=: the baseline's). "
        f"95% CI: bootstrap over the seeds of both groups (none with n < {MIN_N}). Below 1: fewer iterations.",
        "",
        f"| group | reached | steps (mean ± std) | ratio to {base.schedule} (95% CI) |",
        "|---|---|---|---|",
    ]
    for g in groups:
        row = smith.get(g.label)
        if row is None or not row.sample.n:
            continue
        ratio = "–" if row.ratio is None else f"{row.bound}{row.ratio:.2f}".replace(">=", "≥ ").replace("<=", "≤ ")
        if row.ci_low is not None:
            ratio += f" ({row.ci_low:.2f} to {row.ci_high:.2f})"
        lines.append(f"| `{g.label}` | {row.sample.reached} | {_mean_pm(list(row.sample.values), 0)} | {ratio} |")
    return lines + [""]
