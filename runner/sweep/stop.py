"""A sweep stops as one: the process's stop flag, the signals that set it, the sweep's stop file, the parent watch.

The training loop polls `requested()` once per step (runner/training/run.py); when it is set, the loop checkpoints
and returns `interrupted`, and a sweep job that has not begun training is recorded `not_started` instead
(runner/cli.py). What sets the flag:

- SIGINT or SIGTERM to the process (`on_signals()` for one run; `start_sweep()` for a sweep's main process);
- in a job that runs in another process (joblib's loky workers, submitit's job processes): the sweep's stop file,
  which the main process writes when it is signalled, found by a watcher thread (`join_sweep()`);
- in the same processes: the death of the parent (a SIGKILLed main process), found by the same thread, which then
  ends the process once its job has checkpointed, so no worker outlives the sweep.

The main process of a sweep blocks SIGINT and SIGTERM and takes them in a thread of its own (`signal.sigwait`): the
block is inherited by every process it starts, so a Ctrl-C sent to the whole process group (a terminal's) cannot
kill a loky worker that is waiting for its first job (which would break joblib's pool and lose every running job);
such a signal waits in the worker until its first job starts, and then stops that job before it trains. A second
signal to the main process ends it at once, without waiting for the checkpoints.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Written into the sweep folder by the main process when it is signalled; removed when the sweep starts again.
STOP_FILE = "stop.json"
# The sweep's main process: a process that runs a job and is not this one runs it for the sweep (a worker).
MAIN_PID_ENV = "RUNNER_SWEEP_PID"
# How often a worker looks at its parent and at the stop file, and how long it waits for its job to checkpoint
# after the parent is gone before it exits anyway.
POLL_S = 0.2
GRACE_S = 30.0


class _State:
    def __init__(self) -> None:
        self.signal: int | None = None
        self.reason: str | None = None
        self.in_sweep = False
        self.sweep_dir: Path | None = None
        self.job_active = threading.Event()
        self.waiter: threading.Thread | None = None
        self.watcher: threading.Thread | None = None


_state = _State()


def request(signum: int, reason: str | None = None) -> None:
    """Ask every loop of this process to stop (the first request is the one remembered)."""
    if _state.signal is None:
        _state.reason = reason or signal.Signals(signum).name
        _state.signal = int(signum)


def requested() -> bool:
    return _state.signal is not None


def stopped_by() -> int | None:
    """The signal that stopped this process's work, or None."""
    return _state.signal


def reason() -> str | None:
    return _state.reason


def reset() -> None:
    _state.signal = _state.reason = None


def _handler(signum: int, frame: Any) -> None:  # noqa: ARG001
    _on_signal(signum)


def _on_signal(signum: int) -> None:
    """A signal, from the handler or the main process's signal thread: the first one stops the work (and, in a
    sweep's main process, tells the workers through the stop file); a second one ends a sweep's main process."""
    if not is_sweep_main():
        request(signum)
        return
    if requested():
        signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
        os.kill(os.getpid(), signum)
        return
    request(signum)
    if _state.sweep_dir is not None:
        write_stop_file(_state.sweep_dir, signum)


@contextlib.contextmanager
def taken_for_the_command() -> Iterator[None]:
    """For the whole command (runner/cli.py): a clear flag, and SIGINT/SIGTERM only set it. A KeyboardInterrupt
    raised at an arbitrary moment of start-up can land inside torch's C++ import code, which then aborts the
    interpreter (SIGABRT, no message); a flag is instead checked where stopping is safe: before the run folder gets
    a record, and by the loop at every step."""
    reset()
    _state.in_sweep = False
    with on_signals():
        yield


def in_sweep() -> bool:
    """This process runs a sweep or a sweep's jobs."""
    return _state.in_sweep


@contextlib.contextmanager
def on_signals() -> Iterator[None]:
    """SIGTERM and SIGINT set the flag while a run trains; the previous handlers come back afterwards. A request
    made before the run began still holds (the command clears the flag when it starts: taken_for_the_command)."""
    previous = {sig: signal.signal(sig, _handler) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def write_stop_file(sweep_dir: Path, signum: int) -> None:
    """The stop file workers look for; written whole (a worker never reads half of it)."""
    from runner.files import atomic_file

    with contextlib.suppress(OSError):
        Path(sweep_dir).mkdir(parents=True, exist_ok=True)  # a signal before Hydra made it: no job may start
        with atomic_file(Path(sweep_dir) / STOP_FILE) as f:
            f.write(json.dumps({"signal": int(signum), "name": signal.Signals(signum).name, "time": time.time()}))


def read_stop_file(sweep_dir: Path) -> dict | None:
    """The stop file of a sweep folder, or None when the sweep was not stopped (or started again since)."""
    try:
        data = json.loads((Path(sweep_dir) / STOP_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("signal"), int) else None


# ---- the sweep's main process -------------------------------------------------------------------------------------


def _take_signals() -> None:
    """The main process's signal thread: the first signal stops the sweep, a second one ends the process."""
    while True:
        _on_signal(signal.sigwait(set(SIGNALS)))


def start_sweep(sweep_dir: Path) -> None:
    """In the sweep's main process, before any job: no stale stop file, the signals taken. The flag is cleared when
    the command starts (`taken_for_the_command()`), so a Ctrl-C while Hydra composed the sweep still stops it."""
    _state.in_sweep = True
    _state.sweep_dir = Path(sweep_dir)
    (_state.sweep_dir / STOP_FILE).unlink(missing_ok=True)
    os.environ[MAIN_PID_ENV] = str(os.getpid())
    for sig in SIGNALS:  # a signal that reaches another thread of this process still only sets the flag
        signal.signal(sig, _handler)
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "sigwait"):
        return  # no inheritable block here: the handlers above still stop the sweep's own jobs
    signal.pthread_sigmask(signal.SIG_BLOCK, set(SIGNALS))
    if _state.waiter is None or not _state.waiter.is_alive():
        _state.waiter = threading.Thread(target=_take_signals, name="sweep-signals", daemon=True)
        _state.waiter.start()


def end_sweep() -> None:
    """When the jobs are over: the signals reach the main thread again (the handlers still only set the flag, so a
    Ctrl-C while the report is written does not cut it short)."""
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, set(SIGNALS))


def is_sweep_main() -> bool:
    return os.environ.get(MAIN_PID_ENV) == str(os.getpid())


# ---- a process that runs jobs for the sweep --------------------------------------------------------------------------


def _watch(parent: int) -> None:
    """A worker's watcher: the stop file sets the flag; a lost parent sets it and ends the process after the job."""
    while True:
        if os.getppid() != parent:
            request(signal.SIGTERM, "the sweep's main process is gone")
            deadline = time.monotonic() + GRACE_S
            while _state.job_active.is_set() and time.monotonic() < deadline:
                time.sleep(POLL_S)
            os._exit(128 + signal.SIGTERM)
        sweep_dir = _state.sweep_dir
        if not requested() and sweep_dir is not None:
            stop = read_stop_file(sweep_dir)
            if stop is not None:
                request(stop["signal"])
        time.sleep(POLL_S)


def join_sweep(sweep_dir: Path) -> None:
    """At the start of every job: in a worker, signals set the flag, a watcher follows the stop file and the parent
    (once per process), and a stop requested before this job is seen now. Nothing to do in the main process."""
    if is_sweep_main():
        return
    _state.in_sweep = True
    _state.sweep_dir = Path(sweep_dir)
    _state.job_active.set()
    if _state.watcher is None:
        for sig in SIGNALS:
            signal.signal(sig, _handler)
        if hasattr(signal, "pthread_sigmask"):  # a signal that waited while blocked arrives now and sets the flag
            signal.pthread_sigmask(signal.SIG_UNBLOCK, set(SIGNALS))
        _state.watcher = threading.Thread(target=_watch, args=(os.getppid(),), name="sweep-watch", daemon=True)
        _state.watcher.start()
    stop = read_stop_file(sweep_dir)
    if stop is not None:
        request(stop["signal"])


def leave_job() -> None:
    """At the end of every job: a watcher whose parent is gone may end the process now."""
    _state.job_active.clear()
