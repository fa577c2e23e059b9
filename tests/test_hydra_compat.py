"""Each behaviour runner/hydra_compat.py relies on, checked against the installed Hydra, OmegaConf and joblib: an
upgrade that changes one fails here, by name, instead of somewhere far away."""

from __future__ import annotations

import os
import warnings

import pytest

from runner import hydra_compat
from runner.hydra_compat import RejectedConfig
from support import CONF, compose


def test_1_basic_sweeper_expands_a_sweep_in_launch_order():
    jobs = hydra_compat.expand_sweep(["schedule=constant,triangular", "seed=0,1", "trainer.max_steps=5"])
    assert jobs == [
        ["schedule=constant", "seed=0", "trainer.max_steps=5"],
        ["schedule=constant", "seed=1", "trainer.max_steps=5"],
        ["schedule=triangular", "seed=0", "trainer.max_steps=5"],
        ["schedule=triangular", "seed=1", "trainer.max_steps=5"],
    ]


def test_2_hydra_words_a_missing_key_as_the_one_line_expects():
    with pytest.raises(Exception) as info:
        compose("schedule.bogus=1")
    assert hydra_compat.one_line(info.value) == (
        "schedule.bogus: no such key (check the spelling; a new key is added with +schedule.bogus=VALUE)"
    )


def test_2_an_unknown_option_names_the_group_and_the_options():
    with pytest.raises(Exception) as info:
        compose("schedule=triangluar")
    line = hydra_compat.one_line(info.value)
    assert line.startswith("schedule=triangluar: unknown schedule; allowed: clr, constant")
    assert line.endswith("did you mean 'triangular'?")


def test_2_anything_else_is_not_a_config_error():
    assert hydra_compat.one_line(RuntimeError("a bug")) is None


def test_3_hydra_raises_instead_of_printing_when_full_error_is_set(monkeypatch):
    from hydra._internal.utils import run_and_report

    def boom():
        raise ValueError("from the task")

    monkeypatch.delenv(hydra_compat.FULL_ERROR, raising=False)
    with hydra_compat.exceptions_from_hydra() as user_asked:
        assert user_asked is False and os.environ[hydra_compat.FULL_ERROR] == "1"
        with pytest.raises(ValueError, match="from the task"):
            run_and_report(boom)
    assert hydra_compat.FULL_ERROR not in os.environ  # the user's environment is left as it was
    with pytest.raises(SystemExit):  # without it, Hydra prints its report and exits
        run_and_report(boom)


def test_5_joblib_keeps_its_executor_where_stop_joblib_workers_looks():
    from joblib.externals.loky import get_reusable_executor

    executor = get_reusable_executor(max_workers=1)
    assert executor.submit(int, "3").result() == 3
    assert hydra_compat.stop_joblib_workers() is True
    with pytest.raises(RuntimeError):  # stopped: it takes no more work
        executor.submit(int, "4")


@pytest.mark.parametrize("launcher,kind", [("basic", "basic"), ("joblib", "joblib"), ("submitit_local", "submitit")])
def test_6_launcher_targets_are_recognised(launcher, kind):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = hydra_compose("config", overrides=[f"hydra/launcher={launcher}"], return_hydra_config=True)
    assert hydra_compat.launcher_kind(cfg.hydra.launcher) == kind


def test_7_hydra_turns_a_callbacks_exception_into_a_warning_but_lets_a_base_exception_through():
    from hydra._internal.callbacks import Callbacks

    class Raises:
        def __init__(self, exc):
            self.exc = exc

        def on_run_start(self, **kwargs):
            raise self.exc

    callbacks = Callbacks()
    callbacks.callbacks = [Raises(ValueError("bad value"))]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        callbacks.on_run_start(config=None)  # swallowed: the job would start anyway
    assert any("bad value" in str(w.message) for w in caught)
    callbacks.callbacks = [Raises(RejectedConfig("bad value"))]
    with pytest.raises(RejectedConfig):
        callbacks.on_run_start(config=None)


def test_8_hydra_config_is_unset_at_on_run_start_and_set_hydra_config_makes_it_resolvable():
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from runner.hydra_compat import set_hydra_config
    from support import CONF

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["schedule=triangular2"], return_hydra_config=True)
    HydraConfig.instance().cfg = None  # as Hydra leaves it before run_job (hydra-core 1.3.8)
    with pytest.raises(Exception, match="HydraConfig was not set"):
        OmegaConf.select(cfg, "hydra.run.dir")
    set_hydra_config(cfg)
    assert OmegaConf.select(cfg, "hydra.run.dir").endswith("-triangular2")


def test_9_hydra_builds_every_callback_in_callbacks_init_and_configures_logging_through_configure_log():
    """The two names install_target_check wraps are the ones Hydra.run/multirun and compose_config call."""
    import inspect

    from hydra._internal import hydra as hydra_main
    from hydra._internal.callbacks import Callbacks
    from omegaconf import OmegaConf

    source = inspect.getsource(hydra_main.Hydra)
    assert "Callbacks(cfg)" in source and "configure_log(cfg.hydra.hydra_logging" in source
    hydra_compat.install_target_check()
    with pytest.raises(RejectedConfig, match="hydra.callbacks.x._target_='os.getcwd'"):
        Callbacks(OmegaConf.create({"hydra": {"callbacks": {"x": {"_target_": "os.getcwd"}}}}))
    assert Callbacks(OmegaConf.create({"hydra": {"callbacks": {}}})).callbacks == []


def test_10_on_run_start_gets_the_config_run_job_uses_and_output_subdir_none_writes_no_record():
    import inspect

    from hydra import compose, initialize_config_dir
    from hydra._internal.hydra import Hydra
    from hydra.core.utils import run_job
    from omegaconf import OmegaConf

    from runner.hydra_compat import keep_hydra_record
    from support import CONF

    run_source = inspect.getsource(Hydra.run)
    assert "callbacks.on_run_start(config=cfg" in run_source and "config=cfg," in run_source.split("run_job(")[1]
    assert "if config.hydra.output_subdir is not None:" in inspect.getsource(run_job)
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", return_hydra_config=True)
    OmegaConf.set_readonly(cfg.hydra, True)  # as Hydra hands it over
    keep_hydra_record(cfg)
    assert cfg.hydra.output_subdir is None


def test_11_the_launcher_is_made_from_the_config_on_multirun_start_saw_and_takes_the_capped_n_jobs():
    import inspect

    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra._internal.hydra import Hydra
    from hydra.utils import instantiate

    # Hydra.multirun hands the same `cfg` to on_multirun_start and then to instantiate_sweeper (the launcher's).
    source = inspect.getsource(Hydra.multirun)
    assert source.index("callbacks.on_multirun_start(config=cfg") < source.index("instantiate_sweeper(\n")
    assert "config=cfg," in source[source.index("instantiate_sweeper(") :]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = hydra_compose("config", overrides=["hydra/launcher=joblib"], return_hydra_config=True)
    assert cfg.hydra.launcher.n_jobs == -1  # joblib's default: one worker per core, however few the jobs
    hydra_compat.cap_launcher_workers(cfg, 3)
    launcher = instantiate(cfg.hydra.launcher)
    assert launcher.joblib["n_jobs"] == 3  # what hydra-joblib-launcher passes to joblib.Parallel


def test_12_pickle_by_value_sends_classes_of_a_module_no_worker_could_import():
    import sys
    import types

    import cloudpickle

    from runner.hydra_compat import pickle_by_value

    module = types.ModuleType("clr_lab_nowhere_to_import")
    exec("class Settings:\n    size = 3\n", module.__dict__)
    sys.modules[module.__name__] = module
    try:
        by_name = cloudpickle.dumps(module.Settings)
        pickle_by_value(module)
        by_value = cloudpickle.dumps(module.Settings)
    finally:
        del sys.modules[module.__name__]  # as in a worker process: the name is not importable there
    with pytest.raises(ModuleNotFoundError):
        cloudpickle.loads(by_name)
    assert cloudpickle.loads(by_value).size == 3
