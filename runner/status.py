"""What became of a run, and the one place that turns it into the command's exit status.

Statuses are written to summary.json and read back by reports, so they are strings on disk; `Status` is a str
enum, which json writes as its plain value.

Exit statuses of `python -m runner` and `python -m runner.report`:

    0          every run completed
    1          some run failed, diverged or has no result (its folder says why)
    2          bad input: a config value, a missing dataset, a folder that is not a sweep (one line on stderr)
    128 + sig  stopped by a signal: 130 after Ctrl-C (SIGINT), 143 after SIGTERM, as shells report it

A job records its failure in its folder and returns normally, so a sweep goes on with its other jobs; the process
still has to exit non-zero at the end. `Outcomes` collects what this process saw: in-process jobs note their
status, the sweep report notes the statuses it read from the run folders (with the joblib or submitit launchers the
jobs run in other processes), and a signal notes itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum, IntEnum


class Status(str, Enum):
    RUNNING = "running"  # training, or killed before it could say otherwise
    COMPLETED = "completed"
    DIVERGED = "diverged"  # a NaN or infinite loss stopped it
    FAILED = "failed"  # an error stopped it (summary.json has the error)
    INTERRUPTED = "interrupted"  # a signal stopped it after a checkpoint: the same command resumes it
    MISSING = "missing"  # a sweep job without a usable summary.json (never written by a run itself)
    NOT_STARTED = "not_started"  # a sweep job reached after the sweep was stopped: the same command starts it

    def __str__(self) -> str:
        return self.value


# A rerun of such a run changes nothing: it is never trained again.
FINAL = (Status.COMPLETED, Status.DIVERGED)
# Runs whose numbers the report averages.
OK = (Status.COMPLETED,)


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    BAD_INPUT = 2


def exit_code(statuses: Iterable[str], signal: int | None = None) -> int:
    """The exit status for runs that ended with `statuses` (str or Status), or 128 + `signal` after a signal."""
    if signal is not None:
        return 128 + int(signal)
    return ExitCode.OK if all(s in OK for s in statuses) else ExitCode.FAILED


class Outcomes:
    """The statuses this process's runs and sweeps ended with, and the signal that stopped one, if any."""

    def __init__(self) -> None:
        self.statuses: list[str] = []
        self.signal: int | None = None

    def note(self, status: str) -> None:
        self.statuses.append(str(status))

    def note_signal(self, signum: int) -> None:
        self.signal = int(signum)

    def exit_code(self) -> int:
        return exit_code(self.statuses, self.signal)


# This process's outcomes: `python -m runner` starts with a fresh process every time.
OUTCOMES = Outcomes()
