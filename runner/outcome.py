"""Whether anything in this process's run or sweep failed, for the exit status.

A job records its failure in its folder and returns normally so that a sweep goes on; the command still has to exit
non-zero at the end. In-process jobs mark it here; the sweep report callback marks it from the run folders (with the
joblib or submitit launchers the jobs run in other processes).
"""
_state = {"failed": False, "exit_code": None}


def mark_failed() -> None:
    _state["failed"] = True


def set_exit_code(code: int) -> None:
    """A specific exit status, e.g. 143 after SIGTERM (128 + the signal number, as shells report it)."""
    _state["exit_code"] = code
    _state["failed"] = True


def exit_code() -> int:
    if _state["exit_code"] is not None:
        return int(_state["exit_code"])
    return 1 if _state["failed"] else 0
