"""Read a sweep folder back: which jobs were planned, which run folders exist, what each one recorded.

Everything comes from files (multirun.yaml, each job's .hydra/ and summary.json), because with parallel launchers
the jobs run in other processes and a job that was killed leaves no return value: a report built from files is the
same whether the callback writes it at the end of a sweep or a user runs `python -m runner.report DIR` later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner import summary as summary_file
from runner.files import read_yaml
from runner.hydra_compat import expand_sweep
from runner.status import Status
from runner.summary import RunSummary

SEED_KEY = "seed"


@dataclass
class RunRecord:
    """One planned or found job of a sweep."""

    job: int | None
    overrides: list[str]
    folder: Path | None
    summary: RunSummary | None = None
    problem: str | None = None  # why this run has no usable result: missing folder, no summary.json, ...
    values: dict[str, Any] = field(default_factory=dict)
    # analysis.baseline from the run's .hydra/config.yaml: the group the sweep report compares with (None: unset).
    baseline: str | None = None

    @property
    def status(self) -> str:
        if self.summary is None:
            return Status.MISSING.value
        return str(self.summary.status)

    @property
    def group(self) -> str:
        """The configuration apart from the seed: runs that differ only by seed are one group."""
        rest = [o for o in self.overrides if o.split("=", 1)[0].lstrip("+~") != SEED_KEY]
        return " ".join(rest) or "(defaults)"

    @property
    def seed(self) -> int | None:
        if self.summary and self.summary.seed is not None:
            return self.summary.seed
        for o in self.overrides:
            key, _, value = o.partition("=")
            if key == SEED_KEY and value.isdigit():
                return int(value)
        return None


def _baseline(config: Any) -> str | None:
    """analysis.baseline of a run's composed config, when it names a group (the report reads nothing else there)."""
    analysis = config.get("analysis") if isinstance(config, dict) else None
    value = analysis.get("baseline") if isinstance(analysis, dict) else None
    if value is None:
        return None
    return str(value).strip() or None


def planned_jobs(sweep_dir: Path) -> list[list[str]]:
    """The override list of every job the sweep meant to run, from multirun.yaml (empty if it is gone)."""
    multirun = read_yaml(sweep_dir / "multirun.yaml")
    if not isinstance(multirun, dict):
        return []
    hydra_cfg = multirun.get("hydra") or {}
    task = list((hydra_cfg.get("overrides") or {}).get("task") or [])
    params = (hydra_cfg.get("sweeper") or {}).get("params") or {}
    return expand_sweep([f"{k}={v}" for k, v in params.items()] + task)


# What a completed run's summary.json always holds (runner/training/run.py writes them together); without them the
# file was damaged or written by something else, and the run is skipped rather than averaged as an empty result.
COMPLETED_FIELDS = ("final_val_acc",)


def read_summary(folder: Path) -> tuple[RunSummary | None, str | None]:
    """(the folder's summary, None) or (None, why it is skipped); a file that exists but is unusable is skipped with
    a warning naming it, so a damaged summary.json never stops a report."""
    import logging

    path = folder / summary_file.FILENAME
    if not path.exists():
        return None, "summary.json missing (killed or still running?)"
    summary = summary_file.read(folder)
    problem = None
    if summary is None:
        problem = "summary.json is not a JSON object"
    elif summary.status == Status.COMPLETED.value:
        lacking = [name for name in COMPLETED_FIELDS if getattr(summary, name) is None]
        if lacking:
            problem = f"summary.json says completed but lacks {', '.join(lacking)}"
    if problem is None:
        return summary, None
    logging.getLogger("runner.report").warning("%s: skipped: %s", path, problem)
    return None, problem


def found_runs(sweep_dir: Path) -> list[RunRecord]:
    """Every job folder (a folder with .hydra/) under the sweep folder."""
    runs = []
    for hydra_dir in sorted(sweep_dir.glob("*/.hydra")):
        folder = hydra_dir.parent
        hydra_cfg = (read_yaml(hydra_dir / "hydra.yaml") or {}).get("hydra", {})
        overrides = read_yaml(hydra_dir / "overrides.yaml") or []
        job = (hydra_cfg.get("job") or {}).get("num")
        summary, problem = read_summary(folder)
        runs.append(
            RunRecord(
                job=job,
                overrides=[str(o) for o in overrides],
                folder=folder,
                summary=summary,
                problem=problem,
                baseline=_baseline(read_yaml(hydra_dir / "config.yaml")),
            )
        )
    return runs


def collect(sweep_dir: Path) -> list[RunRecord]:
    """Planned jobs matched to found folders (by job number); missing folders become `missing` records."""
    sweep_dir = Path(sweep_dir)
    found = found_runs(sweep_dir)
    by_job = {r.job: r for r in found if r.job is not None}
    records = []
    for num, overrides in enumerate(planned_jobs(sweep_dir)):
        if num in by_job:
            records.append(by_job.pop(num))
        else:
            records.append(
                RunRecord(
                    job=num,
                    overrides=overrides,
                    folder=None,
                    problem="run folder missing (deleted, or the job never started)",
                )
            )
    records.extend(r for r in found if r.job is None or r.job in by_job)
    return sorted(records, key=lambda r: (r.job is None, r.job if r.job is not None else 0))
