"""Every sweep and every single run under an output folder (e.g. outputs/), read cheaply for index.html.

A folder holding multirun.yaml is a sweep (its job folders are its runs); a folder holding .hydra/ is a single run;
any other folder is searched, down to MAX_DEPTH levels. Per run only summary.json and .hydra/overrides.yaml are
read (never the CSV records), so thousands of runs take seconds. A folder that cannot be read is listed as broken
with the reason, never skipped silently and never an exception: the index must show what is there.
"""

from __future__ import annotations

import math
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml

from runner import summary as summary_file
from runner.status import Status
from runner.summary import RunSummary

# outputs/sweeps/<date>/<time>/<job> is 3 levels below outputs/; a few more for folders users make themselves.
MAX_DEPTH = 6
# The default layout's names (conf/config.yaml): <date>/<time>[-<schedule>]; they date a folder without a stat.
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIME_RE = re.compile(r"^(\d{2})-(\d{2})-(\d{2})")
BROKEN = "broken"  # summary.json exists but is not a summary (damaged, or written by something else)
# Folders of other tasks: no summary.json, by design.
TASK_FILES = (("schedule.csv", "preview"), ("range_test.json", "range_test"))
# yaml's C loader when built (the overrides of a thousand runs parse in a fraction of the time)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class RunEntry:
    folder: Path
    started: datetime
    overrides: list[str]
    status: str
    summary: RunSummary | None = None
    problem: str | None = None  # why the folder has no usable result, or how old a running run's last record is
    files: set[str] = field(default_factory=set)  # which of curves.png, summary.json, run.log, ... exist


@dataclass
class SweepEntry:
    folder: Path
    started: datetime
    jobs: list[RunEntry]
    files: set[str] = field(default_factory=set)  # report.html, report.md, ...

    @property
    def overrides(self) -> list[str]:
        """The sweep as its command gave it: each key with its values in job order (schedule=constant,triangular)."""
        values: dict[str, list[str]] = {}
        for job in self.jobs:
            for o in job.overrides:
                key, _, value = o.partition("=")
                if value not in values.setdefault(key, []):
                    values[key].append(value)
        return [f"{k}={','.join(v)}" for k, v in values.items()]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for job in self.jobs:
            out[job.status] = out.get(job.status, 0) + 1
        return out


def _started(folder: Path, stamp_file: Path) -> datetime:
    """When the folder's run began: from the default layout's names (<date>/<HH-MM-SS>...), else the mtime of the
    file Hydra writes first."""
    t = TIME_RE.match(folder.name)
    if t and DATE_RE.match(folder.parent.name):
        try:
            return datetime.strptime(f"{folder.parent.name} {':'.join(t.groups())}", "%Y-%m-%d %H:%M:%S")
        except ValueError:
            pass
    try:
        return datetime.fromtimestamp(stamp_file.stat().st_mtime)
    except OSError:
        return datetime.fromtimestamp(0)


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{max(0, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


def read_run(folder: Path, names: set[str] | None = None) -> RunEntry:
    """One run folder as the index shows it; `names`: its file names when the caller has listed them already."""
    if names is None:
        names = set(os.listdir(folder))
    started = _started(folder, folder / ".hydra" / "config.yaml")
    overrides: list[str] = []
    problem = None
    try:
        with open(folder / ".hydra" / "overrides.yaml", encoding="utf-8") as f:
            loaded = yaml.load(f, Loader=_Loader)
        overrides = [str(o) for o in loaded] if isinstance(loaded, list) else []
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as e:
        problem = f".hydra/overrides.yaml unreadable ({type(e).__name__})"
    summary = summary_file.read(folder) if "summary.json" in names else None
    if summary is not None:
        status = str(summary.status)
        if status == Status.RUNNING:
            # A killed run also says running: how long ago it last wrote tells the two apart.
            written = max((folder / n).stat().st_mtime for n in ("summary.json", "metrics.csv") if n in names)
            problem = f"last record written {_age(time.time() - written)} ago"
        elif summary.error:
            problem = summary.error
        elif summary.diverged_at:
            at = summary.diverged_at
            lr = at.get("lr")
            problem = f"diverged at step {at.get('step')}" + (f" (lr {lr:.3g})" if isinstance(lr, float) else "")
    elif "summary.json" in names:
        status, problem = BROKEN, "summary.json is not a run summary (damaged or unreadable)"
    else:
        task = next((t for name, t in TASK_FILES if name in names), None)
        status = task or Status.MISSING.value
        problem = None if task else "no summary.json (killed before it started, or not a run folder)"
    return RunEntry(folder, started, overrides, status, summary, problem, names)


def _safe_run(folder: Path, names: set[str] | None = None) -> RunEntry:
    try:
        return read_run(folder, names)
    except (OSError, ValueError, TypeError, AttributeError) as e:  # a folder changing under us, an odd file
        return RunEntry(folder, datetime.fromtimestamp(0), [], BROKEN, problem=f"{type(e).__name__}: {e}")


def read_sweep(folder: Path, names: set[str]) -> SweepEntry:
    jobs = []
    for name in sorted(names):
        child = folder / name
        try:
            child_names = set(os.listdir(child)) if child.is_dir() else set()
        except OSError:
            continue
        if ".hydra" in child_names:
            jobs.append(_safe_run(child, child_names))
    return SweepEntry(folder, _started(folder, folder / "multirun.yaml"), jobs, names)


def is_sweep(folder: Path) -> bool:
    """A sweep folder, as the report reads one: multirun.yaml, or job folders (with .hydra/) right inside it."""
    folder = Path(folder)
    return (folder / "multirun.yaml").is_file() or any(folder.glob("*/.hydra"))


def scan(root: Path) -> tuple[list[SweepEntry], list[RunEntry]]:
    """(sweeps, single runs) under `root`, each newest first."""
    sweeps: list[SweepEntry] = []
    runs: list[RunEntry] = []

    def visit(folder: Path, depth: int) -> None:
        try:
            names = set(os.listdir(folder))
        except OSError:
            return
        if "multirun.yaml" in names:
            sweeps.append(read_sweep(folder, names))
            return
        if ".hydra" in names:
            runs.append(_safe_run(folder, names))
            return
        if depth >= MAX_DEPTH:
            return
        for name in sorted(names):
            if not name.startswith(".") and (folder / name).is_dir():
                visit(folder / name, depth + 1)

    root = Path(root)
    if ".hydra" not in set(os.listdir(root)):  # a run folder itself is no output folder
        visit(root, 0)
    sweeps.sort(key=lambda s: s.started, reverse=True)
    runs.sort(key=lambda r: r.started, reverse=True)
    return sweeps, runs


def finite(values: list[float | None]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]
