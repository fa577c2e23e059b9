"""The sweep report: runs.csv, schedules.csv, compare.png and report.md, built from a sweep folder's files alone.

The same code runs as a Hydra callback at the end of every multirun (runner/sweep/callbacks.py) and on demand as
`python -m runner.report DIR`. Runs that are missing, unfinished or failed are listed, never silently averaged in.
"""

from __future__ import annotations

from pathlib import Path

from runner.files import write_rows
from runner.report.groups import group_runs, smith_comparison, target_keys
from runner.report.markdown import write_markdown
from runner.report.tables import group_rows, run_rows
from runner.sweep.collect import collect


def build_report(sweep_dir: Path) -> dict:
    """Write runs.csv, schedules.csv, compare.png and report.md; return counts of runs by status."""
    from runner.report.figures import plot_compare

    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"sweep folder {sweep_dir} does not exist")
    records = collect(sweep_dir)
    if not records:
        raise FileNotFoundError(f"{sweep_dir}: no multirun.yaml and no run folders: not a sweep folder")
    groups = group_runs(records)
    targets = target_keys(records)
    smith_target, smith = smith_comparison(groups)
    write_rows(sweep_dir / "runs.csv", *run_rows(records, targets))
    write_rows(sweep_dir / "schedules.csv", *group_rows(groups, targets, smith))
    plot_compare(sweep_dir / "compare.png", [(g.label, [r.folder for r in g.done]) for g in groups])
    write_markdown(sweep_dir, records, groups, targets, smith_target, smith)
    counts: dict[str, int] = {}
    for r in records:
        counts[r.status] = counts.get(r.status, 0) + 1
    return counts
