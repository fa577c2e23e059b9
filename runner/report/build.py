"""The sweep report: runs.csv, schedules.csv, comparisons.csv, compare.png, report.md and report.html, from a sweep
folder's files.

The same code runs as a Hydra callback at the end of every multirun (runner/sweep/callbacks.py) and on demand as
`python -m runner.report DIR`. Runs that are missing, unfinished or failed are listed and left out; diverged runs
stay in every comparison as their worst outcome (runner/report/measures.py).
"""

from __future__ import annotations

from pathlib import Path

from runner.files import write_rows
from runner.report.baseline import choose_baseline, sweep_baseline
from runner.report.compare import comparison_rows, comparisons
from runner.report.groups import group_runs, target_keys
from runner.report.headline import headline
from runner.report.html import write_html
from runner.report.markdown import write_markdown
from runner.report.measures import compared_figures, run_length
from runner.report.smith import smith_table
from runner.report.tables import group_rows, run_rows
from runner.sweep.collect import collect


def build_report(sweep_dir: Path, baseline_label: str | None = None) -> dict:
    """Write the report's files; return counts of runs by status. `baseline_label` (a group label) overrides the
    runs' analysis.baseline, to ask the same sweep another question (e.g. against an annealed control)."""
    from runner.report.figures import plot_compare

    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"sweep folder {sweep_dir} does not exist")
    records = collect(sweep_dir)
    if not records:
        raise FileNotFoundError(f"{sweep_dir}: no multirun.yaml and no run folders: not a sweep folder")
    groups = group_runs(records)
    targets = target_keys(records)
    figures = compared_figures(records, targets)
    length = run_length(records)
    if baseline_label:
        baseline = choose_baseline(groups, baseline_label)
        if baseline.group is None:  # asked for by name on the command line: a bad name is an error, not a report
            labels = ", ".join(g.label for g in groups)
            raise ValueError(
                f"--baseline={baseline_label}: not a group of this sweep with runs to count; its groups: {labels}"
            )
    else:
        baseline = sweep_baseline(groups, records)
    rows = comparisons(groups, baseline.group, figures, length)
    smith_target, smith = smith_table(groups, baseline.group, length)
    write_rows(sweep_dir / "runs.csv", *run_rows(records, targets))
    write_rows(sweep_dir / "schedules.csv", *group_rows(groups, targets, smith))
    write_rows(sweep_dir / "comparisons.csv", *comparison_rows(rows, baseline.group))
    plot_compare(sweep_dir / "compare.png", [(g.label, [r.folder for r in g.done]) for g in groups])
    # report.md and report.html: the same objects, two renderings
    content = {
        "headline": headline(groups, baseline, rows),
        "baseline": baseline,
        "rows": rows,
        "smith_target": smith_target,
        "smith": smith,
    }
    write_markdown(sweep_dir, records, groups, figures, **content)
    write_html(sweep_dir, records, groups, figures, **content)
    counts: dict[str, int] = {}
    for r in records:
        counts[r.status] = counts.get(r.status, 0) + 1
    return counts
