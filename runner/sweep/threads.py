"""How many torch threads each job of a parallel sweep gets: an equal share of the cores.

Oversubscription is the expensive mistake here: on 2 cores, two jobs with 2 threads each ran 3x slower than two jobs
with 1 thread each. The sweep's main process knows the launcher and the number of jobs, so it works out the share
once and hands it to every worker (runner/training/build.py reads it); trainer.threads, when set, wins.
"""

from __future__ import annotations

from typing import Any

from runner.hydra_compat import launcher_kind
from runner.training.build import available_cores


def parallel_workers(launcher: Any, n_jobs_total: int) -> int:
    """How many jobs the launcher runs at once (1 for the basic launcher, which runs them in turn)."""
    kind = launcher_kind(launcher)
    cores = available_cores()
    if kind == "joblib":
        n = launcher.get("n_jobs", -1)
        n = cores + 1 + n if n is None or n < 0 else n  # joblib: -1 is every core, -2 all but one, ...
        return max(1, min(n, n_jobs_total))
    if kind == "submitit":
        return max(1, min(int(launcher.get("array_parallelism") or n_jobs_total), n_jobs_total))
    return 1


def share_for_sweep(launcher: Any, n_jobs_total: int) -> int | None:
    """Threads per job for a sweep, or None when jobs run one at a time (they then take every core)."""
    workers = parallel_workers(launcher, n_jobs_total)
    if workers <= 1:
        return None
    cpus = launcher.get("cpus_per_task") if hasattr(launcher, "get") else None
    return int(cpus) if cpus else max(1, available_cores() // workers)
