"""The default thread count: the cores that no other process keeps busy when the run starts, at least 1.

Why not every core: torch's CPU kernels run on an OpenMP team whose threads wait for each other at the end of every
parallel region, spinning first. When another CPU-bound process holds a core, one thread of the team waits for a
time slice while the others spin, and every one of the many small parallel regions of a training step pays for it
(measured in experiments/throughput/README.md, "Threads under load"). A thread that has a core to itself never
waits like that, so the run takes as many threads as there are free cores.

What counts as busy: the number of runnable tasks the kernel reports right now (/proc/stat's procs_running), less
this process's own thread, sampled a few times over about 20 ms and taken at the median, so a process that runs for
a moment is not counted. The one-minute load average is no substitute: a competitor that started a second ago has
barely moved it. Where /proc/stat is missing (macOS), the load average is all there is, and it is used. Processes
that start after the run has chosen are not seen: pin trainer.threads=1 on a machine whose load comes and goes.
"""

from __future__ import annotations

import os
import statistics
import time

PROC_STAT = "/proc/stat"
SAMPLES = 5
SAMPLE_GAP_S = 0.005


def available_cores() -> int:
    """The cores this process may run on (its affinity mask where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def runnable_tasks(path: str = PROC_STAT) -> int | None:
    """How many tasks (threads) the kernel has runnable right now, this one included; None without /proc/stat."""
    try:
        with open(path, encoding="ascii") as f:
            for line in f:
                if line.startswith("procs_running "):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def busy_elsewhere(path: str = PROC_STAT, samples: int = SAMPLES, gap_s: float = SAMPLE_GAP_S) -> float:
    """Cores other processes keep busy: the median runnable count less this thread, or the 1-minute load average
    where there is no /proc/stat."""
    counts = []
    for i in range(samples):
        n = runnable_tasks(path)
        if n is None:
            break
        counts.append(n - 1)  # this thread, reading the file, is runnable too
        if i + 1 < samples:
            time.sleep(gap_s)
    if counts:
        return max(0.0, statistics.median(counts))
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):
        return 0.0


def free_cores(busy: float | None = None) -> int:
    """Threads for a run nobody gave a count: the machine's cores less those busy elsewhere, no more than this
    process may use, at least 1."""
    busy = busy_elsewhere() if busy is None else busy
    free = (os.cpu_count() or 1) - int(round(busy))
    return max(1, min(available_cores(), free))
