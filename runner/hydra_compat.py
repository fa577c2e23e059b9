"""Every place clr-lab leans on behaviour that Hydra, its launcher plugins or joblib do not promise.

Each piece names the version it was checked against; tests/test_hydra_compat.py checks each behaviour, so an
upgrade that changes one fails there, by name, instead of somewhere far away. Checked against hydra-core 1.3.8,
omegaconf 2.3.1, hydra-joblib-launcher 1.2.0, hydra-submitit-launcher 1.2.0 and joblib 1.6.0.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator
from typing import Any

from runner.errors import ConfigError

# ---- 1. Sweep expansion: Hydra's basic sweeper, called directly --------------------------------------------------
# The validation callback and the sweep report need every job's overrides before (or without) running the sweep.
# hydra-core 1.3.8: BasicSweeper.split_arguments(overrides, max_batch_size) is a static method of a private module.


def expand_sweep(arguments: list[str], config_loader: Any = None) -> list[list[str]]:
    """Every job's override list, in launch order, exactly as Hydra's basic sweeper expands `arguments`."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create(config_loader=config_loader).parse_overrides(arguments)
    return [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]


# ---- 2. Hydra's and OmegaConf's error messages as one line ------------------------------------------------------
# hydra-core 1.3.8 words a missing key "Could not override 'KEY'. ... To append to your config use +KEY=VALUE" and
# adds lines that repeat the key or name internal types; MissingConfigException carries the group and options.
_NOISE = re.compile(r"^\s*(full_key:|object_type=|reference_type=|Set the environment variable HYDRA_FULL_ERROR)")


def _missing_choice(e: Any) -> str | None:
    from runner.registry import did_you_mean

    if not e.missing_cfg_file or "/" not in e.missing_cfg_file:
        return None
    group, _, value = e.missing_cfg_file.rpartition("/")
    options = sorted(e.options or [])
    allowed = ", ".join(options) or "(none found)"
    return f"{group}={value}: unknown {group}; allowed: {allowed}{did_you_mean(value, options)}"


def one_line(e: BaseException) -> str | None:
    """A single line for a config error, or None for anything else (a bug: show the traceback)."""
    from hydra.errors import HydraException, MissingConfigException
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(e, ConfigError):
        return str(e)
    if isinstance(e, MissingConfigException):
        line = _missing_choice(e)
        if line:
            return line
    if isinstance(e, (HydraException, OmegaConfBaseException)):
        message = str(e)
        struct = re.search(r"Could not override '([^']+)'", message)
        if struct and "To append to your config use +" in message:
            from runner.config import known_keys
            from runner.registry import did_you_mean

            key = struct.group(1)
            parent, dot, name = key.rpartition(".")
            close = did_you_mean(name, known_keys(key), prefix=parent + dot)
            return f"{key}: no such key (check the spelling; a new key is added with +{key}=VALUE){close}"
        lines = [ln.strip() for ln in message.splitlines() if ln.strip() and not _NOISE.match(ln)]
        return " ".join(lines) or type(e).__name__
    return None


# ---- 3. HYDRA_FULL_ERROR: the exception instead of Hydra's printed report -----------------------------------------
# hydra-core 1.3.8 (_internal/utils.py, run_and_report) prints a multi-line report and calls sys.exit(1) unless
# HYDRA_FULL_ERROR=1, in which case it re-raises the exception, which the entry point prints as one line.
FULL_ERROR = "HYDRA_FULL_ERROR"


@contextlib.contextmanager
def exceptions_from_hydra() -> Iterator[bool]:
    """Make Hydra raise instead of printing; yields whether the user asked for full tracebacks themselves."""
    user_wants_traceback = os.environ.get(FULL_ERROR) == "1"
    os.environ[FULL_ERROR] = "1"
    try:
        yield user_wants_traceback
    finally:
        if not user_wants_traceback:
            os.environ.pop(FULL_ERROR, None)


# ---- 4. Exit without the interpreter's teardown -------------------------------------------------------------------
# Not Hydra: torch 2.14's CUDA build takes about 0.7 s to tear down and faults in about 128 MiB of library pages a
# run never used, which a peak-memory measurement then reports. atexit._run_exitfuncs is CPython's private hook.


def exit_without_teardown(code: int) -> None:
    """Exit with `code`, skipping the interpreter's teardown when no other thread is at work.

    Everything the run writes is closed by now; the atexit handlers (logging's final flush, temporary folders,
    worker pools) still run. A live non-daemon thread gets the normal exit.
    """
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


# ---- 5. joblib's reusable executor ----------------------------------------------------------------------------------
# joblib 1.6.0 keeps the loky executor that hydra-joblib-launcher uses in the private module global
# joblib.externals.loky.reusable_executor._executor; joblib has no public way to stop its workers.


def stop_joblib_workers() -> bool:
    """Stop the joblib launcher's idle worker processes now; False when there are none (or joblib moved them)."""
    loky = sys.modules.get("joblib.externals.loky.reusable_executor")
    executor = getattr(loky, "_executor", None)
    if executor is None:
        return False
    executor.shutdown(wait=True, kill_workers=True)
    return True


# ---- 6. Which launcher runs the sweep, and how many jobs at once ----------------------------------------------------
# The launcher config only has a _target_: hydra-joblib-launcher 1.2.0's is
# hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher, hydra-submitit-launcher 1.2.0's are
# hydra_plugins.hydra_submitit_launcher.submitit_launcher.{Local,Slurm}Launcher.


def launcher_kind(launcher: Any) -> str:
    """ "joblib", "submitit" or "basic" (anything else runs its jobs one at a time, as far as threads go)."""
    target = str(launcher.get("_target_", "")) if launcher is not None else ""
    if "joblib_launcher" in target:
        return "joblib"
    if "submitit_launcher" in target:
        return "submitit"
    return "basic"


# ---- 7. A callback that must stop the command ---------------------------------------------------------------------
# hydra-core 1.3.8 (_internal/callbacks.py, Callbacks._notify) catches every Exception a callback raises, turns it
# into a warning and carries on, which would start the job anyway. A BaseException passes through Hydra.


class RejectedConfig(BaseException):
    """A ConfigError raised from a callback: it reaches the entry point, which prints its one line and exits 2."""


# ---- 8. The run's Hydra config during on_run_start ----------------------------------------------------------------
# hydra-core 1.3.8 (_internal/hydra.py, Hydra.run) calls the callbacks' on_run_start before run_job sets
# HydraConfig, so reading hydra.run.dir there fails on the default `${hydra:runtime.choices.schedule}` (a warning,
# and the validation it guards is skipped). run_job sets the same config a moment later, so setting it first is safe.


def set_hydra_config(config: Any) -> None:
    """Make `${hydra:...}` interpolations resolvable before Hydra's run_job makes them so."""
    from hydra.core.hydra_config import HydraConfig

    HydraConfig.instance().set_config(config)


# ---- 9. The _target_ allow-list, before Hydra instantiates anything ------------------------------------------------
# hydra-core 1.3.8 (_internal/hydra.py, Hydra.run and Hydra.multirun) builds hydra._internal.callbacks.Callbacks(cfg)
# right after composing, and its __init__ instantiates every hydra.callbacks entry at once: before any callback
# (ValidateConfig included) sees the config. Wrapping that __init__ checks the composed config first; the launcher and
# sweeper are instantiated later, from the same config. Earlier still, Hydra.compose_config hands hydra.hydra_logging
# to logging.config.dictConfig through the name configure_log imported into _internal/hydra.py; that name is
# wrapped too, so a logging `()` or handler `class` is checked before dictConfig imports it.


def install_target_check() -> None:
    """Refuse (one line, exit 2) a composed config whose _target_ names code outside runner/trust.py's allow-list."""
    from hydra._internal.callbacks import Callbacks

    original = Callbacks.__init__
    if getattr(original, "checks_targets", False):
        return

    def checked_init(self: Any, config: Any = None, *args: Any, **kwargs: Any) -> None:
        from runner.trust import refuse_foreign_targets

        if config is not None:
            try:
                refuse_foreign_targets(config)
            except ConfigError as e:
                raise RejectedConfig(str(e)) from None
        original(self, config, *args, **kwargs)

    checked_init.checks_targets = True  # type: ignore[attr-defined]
    Callbacks.__init__ = checked_init  # type: ignore[method-assign]

    import hydra._internal.hydra as hydra_main

    configure_log = hydra_main.configure_log

    def checked_configure_log(log_config: Any, *args: Any, **kwargs: Any) -> Any:
        from omegaconf import OmegaConf

        from runner.trust import refuse_foreign_targets

        if log_config is not None:
            try:
                refuse_foreign_targets({"hydra": {"hydra_logging": OmegaConf.to_container(log_config)}})
            except ConfigError as e:
                raise RejectedConfig(str(e)) from None
        return configure_log(log_config, *args, **kwargs)

    hydra_main.configure_log = checked_configure_log


# ---- 10. Keeping a finished run's .hydra/ record as it is ----------------------------------------------------------
# hydra-core 1.3.8 (_internal/hydra.py, Hydra.run) hands on_run_start the very config object it then passes to
# run_job, and run_job (core/utils.py) writes .hydra/ only when hydra.output_subdir is not None.


def keep_hydra_record(config: Any) -> None:
    """Stop this run from rewriting its folder's .hydra/ (called from on_run_start)."""
    from omegaconf import open_dict, read_write

    with read_write(config.hydra), open_dict(config.hydra):
        config.hydra.output_subdir = None


# ---- 11. No idle joblib worker --------------------------------------------------------------------------------------
# hydra-core 1.3.8 (_internal/hydra.py, Hydra.multirun) instantiates the launcher from the very config object it
# has just passed to the callbacks' on_multirun_start, so a change made there reaches the launcher.
# hydra-joblib-launcher 1.2.0 passes hydra.launcher.n_jobs to joblib.Parallel, and joblib 1.6.0's loky executor
# starts that many workers at once whatever the number of jobs (n_jobs=-1: one per core).


def cap_launcher_workers(config: Any, n_jobs: int) -> None:
    """Make the launcher start at most `n_jobs` workers: a worker that never gets a job never learns of the sweep
    (runner/sweep/stop.py), so it could neither stop with it nor notice that its parent is gone."""
    from omegaconf import open_dict, read_write

    with read_write(config.hydra.launcher), open_dict(config.hydra.launcher):
        config.hydra.launcher.n_jobs = int(n_jobs)


# ---- 12. Plugin classes that parallel workers cannot import by name -------------------------------------------------
# A source checkout loads the batched launcher's shim under its plugin name (runner/batched/register.py), a name a
# worker process cannot import. joblib 1.6.0 (loky) and submitit 1.5 send every task with cloudpickle 3.1, which
# pickles a module registered with register_pickle_by_value by value instead of by name; the composed configs and
# Hydra's ConfigStore that a worker unpickles refer to the shim's config class.


def pickle_by_value(module: Any) -> None:
    """Make cloudpickle send `module`'s classes and functions by value (it must be in sys.modules)."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(module)
