"""report.html: report.md's content as a page, from the same objects build.py computes for report.md (never from
the markdown): the headline, the baseline, the runs without a result, the per-group table, the comparisons with
their 95% CIs and verdicts, Smith's Table 1, compare.png, and one row per run linking to its folder, its curves.png
and its summary.json. Images and links are relative to the sweep folder; the tables sort with a few lines of
inline script (runner/report/templates/)."""

from __future__ import annotations

from pathlib import Path

from runner.report.baseline import Baseline
from runner.report.compare import Row
from runner.report.groups import Group, spread
from runner.report.markdown import TEST_NAMES, _digits, _mean_pm, _p, _signed
from runner.report.measures import COUNTED, Figure, escape_status, no_plateau, sample
from runner.report.pages import Cell, Table, link, number, render
from runner.report.smith import SmithRow
from runner.report.stats import BETTER, MIN_N, WORSE
from runner.status import OK
from runner.sweep.collect import RunRecord

VERDICT_CSS = {BETTER: "better", WORSE: "worse"}


def write_html(
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
    problems = [r for r in records if r.status not in OK]
    excluded = [r for r in records if r.status not in COUNTED]
    return render(
        "report.html.j2",
        sweep_dir / "report.html",
        title=f"Sweep report: {sweep_dir.name}",
        headline=headline,
        baseline_note=baseline.note,
        baseline_label=base.label if base else None,
        counts={
            "runs": len(records),
            "completed": sum(r.status in OK for r in records),
            "diverged": len(problems) - len(excluded),
            "excluded": len(excluded),
        },
        problems=_problem_table(sweep_dir, problems) if problems else None,
        groups=_group_table(groups, figures),
        comparisons=_comparison_table(rows) if base is not None else None,
        min_n=MIN_N,
        smith_target=smith_target if base is not None else None,
        smith=_smith_table(groups, smith, base.schedule) if base is not None and smith_target is not None else None,
        compare_png="compare.png" if (sweep_dir / "compare.png").is_file() else None,
        runs=_run_table(sweep_dir, records),
        files=[n for n in ("report.md", "runs.csv", "schedules.csv", "comparisons.csv") if (sweep_dir / n).is_file()],
    )


def _status(status: str) -> Cell:
    return Cell(status, css=f"status-{status}")


def _folder(sweep_dir: Path, r: RunRecord) -> Cell:
    if r.folder is None or not r.folder.is_dir():
        return Cell("(missing)", css="status-missing")
    return Cell(r.folder.name, href=link(sweep_dir, r.folder))


def _problem_table(sweep_dir: Path, problems: list[RunRecord]) -> Table:
    table = Table(["job", "folder", "overrides", "status", "why"], numeric=[True, False, False, False, False])
    for r in problems:
        s = r.summary
        why = r.problem or (s.error if s else None) or (s.diverged_at if s else None) or ""
        table.rows.append(
            [
                number(r.job),
                _folder(sweep_dir, r),
                Cell(" ".join(r.overrides), code=True, css="wrap"),
                _status(r.status),
                Cell(str(why), css="wrap"),
            ]
        )
    return table


def _mean_cell(values: list, digits: int = 3, note: str = "") -> Cell:
    st = spread(values)
    return Cell(_mean_pm(values, digits), sort=st["mean"], note=note)


def _group_table(groups: list[Group], figures: list[Figure]) -> Table:
    """The columns of report.md's "Per group" table."""
    accuracy = [f for f in figures if not f.is_steps]
    steps = [f for f in figures if f.is_steps and f.key != "escape_step"]
    head = ["group", "seeds counted", *[f.label for f in accuracy], *[f.label for f in steps]]
    head += ["plateau escape step", "plateau fraction"]
    table = Table(head, numeric=[False, False] + [True] * (len(head) - 2))
    esc = next(f for f in figures if f.key == "escape_step")
    for g in groups:
        seeds = f"{len(g.counted)}/{len(g.runs)}" + (f" ({len(g.diverged)} diverged)" if g.diverged else "")
        cells = [Cell(g.label, code=True, css="wrap"), Cell(seeds, sort=len(g.counted))]
        cells += [_mean_cell([getattr(r.summary, f.key) for r in g.done]) for f in accuracy]
        for f in steps:
            s = sample(g.counted, f)
            cells.append(_mean_cell(list(s.values), 0, f"reached {s.reached}"))
        s = sample(g.counted, esc)
        flat = no_plateau(g.counted)
        unknown = sum(escape_status(r) is None for r in g.done)
        note = f"escaped {s.reached}" + (f", no plateau {flat}/{len(g.counted)}" if flat else "")
        note += f", {unknown} without analysis" if unknown else ""
        cells.append(_mean_cell(list(s.values), 0, note))
        cells.append(_mean_cell([r.summary.plateau_fraction for r in g.done], 2))
        table.rows.append(cells)
    return table


def _comparison_table(rows: list[Row]) -> Table:
    head = ["group", "figure", "n", "reached (baseline)", "difference (95% CI)", "p", "test", "verdict"]
    table = Table(head, numeric=[False, False, True, False, True, True, False, False])
    for row in rows:
        c, d = row.result, _digits(row.figure)
        n = str(c.n) if c.n == c.n_baseline else f"{c.n} vs {c.n_baseline}"
        diff = _signed(c.difference, d)
        if c.ci_low is not None:
            diff += f" ({_signed(c.ci_low, d)} to {_signed(c.ci_high, d)})"
        table.rows.append(
            [
                Cell(row.group.label, code=True, css="wrap"),
                Cell(row.figure.label),
                Cell(n, sort=c.n),
                Cell(f"{c.reached} ({c.reached_baseline})"),
                Cell(diff, sort=c.difference),
                Cell(_p(c.p), sort=c.p),
                Cell(TEST_NAMES.get(c.test, "–")),
                Cell(c.verdict, css=VERDICT_CSS.get(c.verdict, "")),
            ]
        )
    return table


def _smith_table(groups: list[Group], smith: dict[str, SmithRow], schedule: str) -> Table:
    table = Table(
        ["group", "reached", "steps (mean ± std)", f"ratio to {schedule} (95% CI)"],
        numeric=[False, False, True, True],
    )
    for g in groups:
        row = smith.get(g.label)
        if row is None or not row.sample.n:
            continue
        ratio = "–" if row.ratio is None else f"{row.bound}{row.ratio:.2f}".replace(">=", "≥ ").replace("<=", "≤ ")
        if row.ci_low is not None:
            ratio += f" ({row.ci_low:.2f} to {row.ci_high:.2f})"
        table.rows.append(
            [
                Cell(g.label, code=True, css="wrap"),
                Cell(row.sample.reached),
                _mean_cell(list(row.sample.values), 0),
                Cell(ratio, sort=row.ratio),
            ]
        )
    return table


def _run_table(sweep_dir: Path, records: list[RunRecord]) -> Table:
    head = ["job", "folder", "overrides", "schedule", "seed", "status", "steps", "final val_acc", "best val_acc"]
    head += ["test_acc", "curves", "summary"]
    numeric = [True, False, False, False, True, False, True, True, True, True, False, False]
    table = Table(head, numeric=numeric)
    for r in records:
        s = r.summary
        folder = r.folder if r.folder is not None and r.folder.is_dir() else None
        curves = folder / "curves.png" if folder else None
        summary = folder / "summary.json" if folder else None
        table.rows.append(
            [
                number(r.job),
                _folder(sweep_dir, r),
                Cell(" ".join(r.overrides), code=True, css="wrap"),
                Cell((s.schedule if s else None) or "–"),
                number(r.seed),
                _status(r.status),
                number(s.steps if s else None),
                number(s.final_val_acc if s else None),
                number(s.best_val_acc if s else None),
                number(s.test_acc if s else None),
                Cell("curves.png", href=link(sweep_dir, curves), img=link(sweep_dir, curves))
                if curves and curves.is_file()
                else Cell("–"),
                Cell("summary.json", href=link(sweep_dir, summary)) if summary and summary.is_file() else Cell("–"),
            ]
        )
    return table
