"""Whether anything in this process's run or sweep failed, for the exit status.

A job records its failure in its folder and returns normally so that a sweep goes on; the command still has to exit
non-zero at the end. In-process jobs mark it here; the sweep report callback marks it from the run folders (with the
joblib or submitit launchers the jobs run in other processes).
"""
_failed = {"any": False}


def mark_failed() -> None:
    _failed["any"] = True


def any_failed() -> bool:
    return _failed["any"]
