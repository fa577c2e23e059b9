"""index.html: every sweep and every single run under an output folder, newest first, with links to their pages.

Written by `python -m runner.report outputs/` (any folder that is not a sweep but holds runs or sweeps), and
refreshed at the end of every run and every sweep whose folder follows the default layout
(`<root>/runs/<date>/<run>`, `<root>/sweeps/<date>/<sweep>`): the index then goes to `<root>/index.html`. A run or
sweep written elsewhere (hydra.run.dir, hydra.sweep.dir) refreshes no index, as its grandparent may be any folder
of the user's; `python -m runner.report THAT_FOLDER` indexes it on demand.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from runner.report.catalog import RunEntry, SweepEntry, finite, scan
from runner.report.pages import Cell, Table, link, number, render
from runner.status import Status

FILENAME = "index.html"
LAYOUT = ("runs", "sweeps")  # the default layout's two folders under the output root (conf/config.yaml)
# Worst first: the status a sweep's row takes from its jobs.
SWEEP_STATUS_ORDER = ("running", "failed", "diverged", "broken", "missing", "interrupted")

log = logging.getLogger("runner.report")


def index_root(folder: Path) -> Path | None:
    """The output root of a run or sweep folder in the default layout (outputs/ for outputs/runs/<date>/<run>), or
    None for a folder elsewhere. A sweep's job folder answers for its sweep."""
    folder = Path(folder).absolute()
    for candidate in (folder, folder.parent):
        if len(candidate.parents) >= 3 and candidate.parents[1].name in LAYOUT:
            if candidate.parents[1].name == "runs" and candidate is not folder:
                continue  # a folder inside a single run is no run of its own
            return candidate.parents[2]
    return None


def refresh_index(folder: Path) -> Path | None:
    """Rewrite the index of `folder`'s output root, if it has one; never raises (a run's result matters more)."""
    try:
        root = index_root(folder)
        if root is None:
            return None
        path, _ = write_index(root)
        return path
    except Exception as e:  # noqa: BLE001 - the index is a convenience: a warning, never a failed run
        log.warning("index.html not refreshed: %s: %s", type(e).__name__, e)
        return None


def write_index(
    root: Path, found: tuple[list[SweepEntry], list[RunEntry]] | None = None
) -> tuple[Path, dict[str, int]]:
    """Write `root`/index.html (of `found`, scan(root) when not given); returns its path and how many sweeps and
    single runs it lists."""
    root = Path(root)
    sweeps, runs = found if found is not None else scan(root)
    path = render(
        "index.html.j2",
        root / FILENAME,
        title=f"clr-lab outputs: {root.absolute().name or root.absolute()}",
        root=str(root.absolute()),
        generated=datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
        sweeps=_sweep_table(root, sweeps),
        runs=_run_table(root, runs),
        n_jobs=sum(len(s.jobs) for s in sweeps),
    )
    return path, {"sweeps": len(sweeps), "runs": len(runs)}


def _date(started: datetime) -> Cell:
    return Cell(started.strftime("%Y-%m-%d %H:%M:%S"), sort=started.timestamp())


def _css_status(status: str) -> str:
    return "status-" + "".join(c if c.isalnum() else "_" for c in status)


def _file_link(root: Path, folder: Path, files: set[str], name: str) -> Cell:
    return Cell(name, href=link(root, folder / name)) if name in files else Cell("–")


def _run_table(root: Path, runs: list[RunEntry]) -> Table:
    head = ["started", "folder", "overrides", "status", "schedule", "steps", "final val_acc", "best val_acc"]
    head += ["curves", "summary"]
    table = Table(head, numeric=[False, False, False, False, False, True, True, True, False, False])
    for r in runs:
        s = r.summary
        curves = (
            Cell("curves.png", href=link(root, r.folder / "curves.png"), img=link(root, r.folder / "curves.png"))
            if "curves.png" in r.files
            else Cell("–")
        )
        table.rows.append(
            [
                _date(r.started),
                Cell(r.folder.name, href=link(root, r.folder)),
                Cell(" ".join(r.overrides) or "(defaults)", code=bool(r.overrides), css="wrap"),
                Cell(r.status, css=_css_status(r.status) + " wrap", note=r.problem or ""),
                Cell((s.schedule if s else None) or "–"),
                number(s.steps if s else None),
                number(s.final_val_acc if s else None),
                number(s.best_val_acc if s else None),
                curves,
                _file_link(root, r.folder, r.files, "summary.json"),
            ]
        )
    return table


def _sweep_status(sweep: SweepEntry) -> str:
    counts = sweep.counts()
    worst = next((s for s in SWEEP_STATUS_ORDER if s in counts), None)
    if worst is not None:
        return worst
    return Status.COMPLETED.value if counts else "empty"


def _sweep_table(root: Path, sweeps: list[SweepEntry]) -> Table:
    head = ["started", "sweep", "overrides", "status", "runs", "schedules", "final val_acc", "best val_acc"]
    head += ["report"]
    table = Table(head, numeric=[False, False, False, False, False, False, True, True, False])
    for sw in sweeps:
        done = [j.summary for j in sw.jobs if j.summary and j.status == Status.COMPLETED]
        finals = finite([s.final_val_acc for s in done])
        bests = finite([s.best_val_acc for s in done])
        schedules = sorted({j.summary.schedule for j in sw.jobs if j.summary and j.summary.schedule})
        counts = ", ".join(f"{n} {s}" for s, n in sorted(sw.counts().items())) or "no job folder yet"
        final = Cell("–")
        if finals:
            text = f"{min(finals):.3f}" if len(finals) == 1 else f"{min(finals):.3f} – {max(finals):.3f}"
            final = Cell(text, sort=max(finals), note="range over completed runs" if len(finals) > 1 else "")
        page = next((n for n in ("report.html", "report.md") if n in sw.files), None)
        status = _sweep_status(sw)
        table.rows.append(
            [
                _date(sw.started),
                Cell(sw.folder.name, href=link(root, sw.folder / page) if page else link(root, sw.folder)),
                Cell(" ".join(sw.overrides), code=bool(sw.overrides), css="wrap"),
                Cell(status, css=_css_status(status)),
                Cell(counts, sort=len(sw.jobs)),
                Cell(", ".join(schedules) or "–", css="wrap"),
                final,
                number(max(bests) if bests else None),
                Cell(page, href=link(root, sw.folder / page)) if page else Cell("not written yet"),
            ]
        )
    return table
