"""How many torch threads a run gets: all cores for a single run, an equal share for parallel sweep workers.

Oversubscription is the expensive mistake here: on 2 cores, two jobs with 2 threads each ran 3x slower than two
jobs with 1 thread each. The sweep's main process knows the launcher and the number of jobs, so it works out the
share once and hands it to every worker in CLR_LAB_THREADS (workers inherit the environment); trainer.threads,
when set, wins over everything.
"""
from __future__ import annotations

import os
from typing import Any, Optional

ENV = "CLR_LAB_THREADS"


def available_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def parallel_workers(launcher: Any, n_jobs_total: int) -> int:
    """How many jobs the launcher runs at once (1 for the basic launcher, which runs them in turn)."""
    target = str(launcher.get("_target_", "")) if launcher is not None else ""
    cores = available_cores()
    if "Joblib" in target:
        n = launcher.get("n_jobs", -1)
        n = cores + 1 + n if n is None or n < 0 else n  # joblib: -1 is every core, -2 all but one, ...
        return max(1, min(n, n_jobs_total))
    if "Submitit" in target or "submitit" in target:
        return max(1, min(int(launcher.get("array_parallelism") or n_jobs_total), n_jobs_total))
    return 1


def share_for_sweep(launcher: Any, n_jobs_total: int) -> Optional[int]:
    """Threads per job for a sweep, or None when jobs run one at a time (they then take every core)."""
    workers = parallel_workers(launcher, n_jobs_total)
    if workers <= 1:
        return None
    cpus = launcher.get("cpus_per_task") if hasattr(launcher, "get") else None
    return int(cpus) if cpus else max(1, available_cores() // workers)


def threads_for_run(configured: Optional[int]) -> int:
    if configured:
        return configured
    shared = os.environ.get(ENV, "")
    return int(shared) if shared.isdigit() and int(shared) > 0 else available_cores()
