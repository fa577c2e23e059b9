"""The members' curves.png, drawn in parallel once their group has trained.

Drawing a figure is most of what finishing a member costs, and the cores the group trained on are idle by then:
worker processes draw them, one per core the group used. Workers are forked, so they start at once and share the
imports of this process; they draw with matplotlib only and never call torch, whose threads a fork does not carry.
Where fork is not offered (Windows, or a platform whose Python refuses it) or the pool cannot start, the figures are
drawn one after another in this process, as the basic launcher draws them.
"""

from __future__ import annotations

import multiprocessing
import traceback
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any


def draw_curves(jobs: list[dict[str, Any]], workers: int) -> list[tuple[str, str] | None]:
    """plot_curves(**job) for every job, in order; each entry None, or ("Type: message", traceback) where it failed."""
    if workers > 1 and len(jobs) > 1 and "fork" in multiprocessing.get_all_start_methods():
        import runner.plots  # noqa: F401 - imported once here, not once in every worker

        try:
            with warnings.catch_warnings():
                # Python 3.12+ warns about forking a process that has threads (torch's); the workers use none of them.
                warnings.filterwarnings("ignore", message=r".*fork\(\).*", category=DeprecationWarning)
                context = multiprocessing.get_context("fork")
                with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool:
                    return list(pool.map(draw_one, jobs))
        except (BrokenProcessPool, OSError):
            pass  # drawn here instead: a figure is never lost to the pool
    return [draw_one(job) for job in jobs]


def draw_one(job: dict[str, Any]) -> tuple[str, str] | None:
    from runner.plots import plot_curves

    try:
        plot_curves(**job)
    except Exception as exc:  # noqa: BLE001 - recorded in the member's summary.json and run.log, as run_train does
        return f"{type(exc).__name__}: {exc}", traceback.format_exc()
    return None
