"""report.md: the runs without a result, the per-group table, one line per question, Smith's comparison, figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner.files import atomic_file
from runner.report.groups import Group, spread, steps_to_target
from runner.status import OK
from runner.sweep.collect import RunRecord


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _mean_pm(st: dict, digits: int = 3, empty: str = "never") -> str:
    if st["mean"] is None:
        return empty
    text = f"{_fmt(st['mean'], digits)} ± {_fmt(st['std'], digits)}"
    return text


def write_markdown(
    sweep_dir: Path,
    records: list[RunRecord],
    groups: list[Group],
    targets: list[str],
    smith_target: float | None,
    smith: dict,
) -> Path:
    problems = [r for r in records if r.status not in OK]
    lines = [
        f"# Sweep report: {sweep_dir.name}",
        "",
        f"Folder `{sweep_dir}`: {len(records)} runs, "
        f"{sum(r.status in OK for r in records)} completed, {len(problems)} not.",
        "",
    ]
    if problems:
        lines += [
            "## Runs without a result",
            "",
            "| job | folder | overrides | status | why |",
            "|---|---|---|---|---|",
        ]
        for r in problems:
            why = (
                r.problem
                or (r.summary.error if r.summary else None)
                or (r.summary.diverged_at if r.summary else None)
                or ""
            )
            lines.append(
                f"| {r.job} | {r.folder.name if r.folder else '(missing)'} | `{' '.join(r.overrides)}` "
                f"| {r.status} | {why} |"
            )
        lines += ["", "Their numbers are left out of the tables below.", ""]
    lines += ["## Per schedule (mean ± std over seeds)", ""]
    head = [
        "group",
        "runs done",
        "final val_acc",
        "best val_acc",
        *[f"steps to {t}" for t in targets],
        "plateau escape step",
        "plateau fraction",
    ]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in groups:
        done = g.done
        cells = [
            f"`{g.label}`",
            f"{len(done)}/{len(g.runs)}",
            _mean_pm(spread([r.summary.final_val_acc for r in done]), empty="–"),
            _mean_pm(spread([r.summary.best_val_acc for r in done]), empty="–"),
        ]
        for t in targets:
            st = spread([steps_to_target(r).get(t) for r in done])
            cells.append(_mean_pm(st, 0) + (f" ({st['n']}/{len(done)})" if st["n"] < len(done) else ""))
        esc = spread([r.summary.escape_step for r in done])
        cells.append(_mean_pm(esc, 0) + (f" ({esc['n']}/{len(done)} escaped)" if esc["n"] else " (no plateau escaped)"))
        cells.append(_mean_pm(spread([r.summary.plateau_fraction for r in done]), 2, empty="–"))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines += headline(groups, targets)
    if smith:
        lines += [
            "## Iterations to the constant policy's final accuracy (Smith 2017, Table 1 style)",
            "",
            f"Target: the constant policy's mean final val_acc, {smith_target:.4f}. Ratio below 1: the "
            "schedule gets there in fewer iterations than constant.",
            "",
            "| group | reached | steps (mean ± std) | ratio to constant |",
            "|---|---|---|---|",
        ]
        for g in groups:
            c = smith[g.label]
            lines.append(
                f"| `{g.label}` | {c['reached']}/{c['of']} | {_mean_pm(c['steps'], 0)} | {_fmt(c['ratio'], 2)} |"
            )
        lines.append("")
    else:
        lines += ["No completed constant-LR runs in this sweep, so no ratio to constant.", ""]
    lines += [
        "## Curves",
        "",
        "![LR, smoothed loss and validation accuracy per schedule](compare.png)",
        "",
        "Lines are the mean over seeds, bands the min-max across seeds. Per-run figures:",
        "",
    ]
    lines += [f"- [{r.folder.name}]({r.folder.name}/curves.png) ({r.status})" for r in records if r.folder]
    lines += [
        "",
        "Tables: [runs.csv](runs.csv) (one row per run), [schedules.csv](schedules.csv) "
        "(per group: mean, std, min, max, n).",
        "",
    ]
    path = sweep_dir / "report.md"
    with atomic_file(path) as f:
        f.write("\n".join(lines))
    return path


def headline(groups: list[Group], targets: list[str]) -> list[str]:
    """One sentence per question the sweep answers: who escaped first, who reached each target first."""
    out = []
    esc = [(spread([r.summary.escape_step for r in g.done]), g) for g in groups]
    esc = [(st, g) for st, g in esc if st["n"]]
    if esc:
        st, g = min(esc, key=lambda x: x[0]["mean"])
        out.append(
            f"- Earliest plateau escape: `{g.label}` at step {st['mean']:.0f} on average "
            f"({st['n']}/{len(g.done)} runs escaped)."
        )
    else:
        out.append("- No run had a plateau to escape (the detector found none, or none was escaped).")
    for t in targets:
        reach = [(spread([steps_to_target(r).get(t) for r in g.done]), g) for g in groups]
        reach = [(st, g) for st, g in reach if st["n"]]
        if reach:
            st, g = min(reach, key=lambda x: (-x[0]["n"], x[0]["mean"]))
            out.append(
                f"- Fewest iterations to val_acc {t}: `{g.label}`, {st['mean']:.0f} ± {st['std']:.0f} "
                f"steps ({st['n']}/{len(g.done)} runs reached it)."
            )
        else:
            out.append(f"- No run reached val_acc {t}.")
    return out + [""]
