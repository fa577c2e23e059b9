"""Every input bounded before work starts: values that used to be accepted and then failed later (a traceback, a
hang, a MemoryError, a divergence at step 1) are refused with one line naming the key, exit 2, and no folder.

The table runs in-process (compose and validate, as tests/cli/test_bad_input.py does); a sample, and everything that
only the command line sees, runs as the real command in a fresh working directory without hydra.run.dir.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runner.config import validate
from runner.errors import ConfigError
from runner.hydra_compat import one_line
from support import ROOT, compose, read_json, run_cli

# (overrides, the key the line must name)
BOUNDED = [
    (["seed=4294967296"], "seed"),
    (["seed=1e30"], "seed"),
    (["dataset.split_seed=4294967296"], "dataset.split_seed"),
    (["optimizer.weight_decay=inf"], "optimizer.weight_decay"),
    (["optimizer=adam", "optimizer.weight_decay=inf"], "optimizer.weight_decay"),
    (["optimizer.weight_decay=nan"], "optimizer.weight_decay"),
    (["range_test.diverge_factor=inf"], "range_test.diverge_factor"),
    (["range_test.max_spread=inf"], "range_test.max_spread"),
    (["analysis.plateau.rel_drop=inf"], "analysis.plateau.rel_drop"),
    (["trainer.max_steps=1e23"], "trainer.max_steps"),
    (["trainer.max_steps=1000000000", "schedule=constant"], "trainer.max_steps"),
    (["trainer.epochs=1000000000000"], "trainer.epochs"),
    (["preview.steps=1000000000"], "preview.steps"),
    (["task=range_test", "range_test.steps=100000000"], "range_test.steps"),
    (["task=range_test", "range_test.seeds=100000"], "range_test.seeds"),
    (["task=range_test", "seed=4294967295"], "range_test.seeds"),
    (["model.channels=[2000000000]"], "model.channels"),
    (["model.channels=[4096,4096,4096]"], "model.channels"),
    (["model=sigmoid_mlp", "model.hidden=[100000,100000]"], "model.hidden"),
    (["dataset.val_fraction=0.9999"], "dataset"),
    (["dataset.val_fraction=0.79"], "dataset.val_fraction"),
    (["dataset.val_fraction=0.5", "trainer.batch_size=600"], "dataset.val_fraction"),
    (["dataset=fashion_mnist", "dataset.subset=5"], "dataset.subset"),
]


@pytest.mark.parametrize("overrides,key", BOUNDED, ids=[" ".join(o) for o, _ in BOUNDED])
def test_a_value_beyond_its_limit_is_refused_in_one_line_naming_the_key(overrides, key):
    with pytest.raises(Exception) as caught:
        validate(compose(*overrides))
    line = one_line(caught.value)
    assert line is not None and "\n" not in line and key in line, (overrides, caught.value)


def test_values_at_their_limits_are_accepted():
    cfg = validate(compose("seed=4294967295", "trainer.max_steps=10000000", "preview.steps=1000000"))
    assert cfg.seed == 2**32 - 1 and cfg.trainer.max_steps == 10_000_000 and cfg.preview.steps == 1_000_000
    validate(compose("dataset.val_fraction=0.7", "trainer.batch_size=32"))  # 180 training images: five batches


def test_the_parameter_estimate_is_the_count_torch_builds():
    """The limit is checked on a count made without torch; it must be the count of the network actually built."""
    from runner.models import MLPConfig, SmallCNNConfig, build_model, count_parameters

    for cfg in (SmallCNNConfig(), SmallCNNConfig(channels=[8, 16, 32, 64]), MLPConfig(), MLPConfig(hidden=[])):
        for shape in ((1, 8, 8), (1, 28, 28), (3, 32, 32)):
            assert cfg.parameters(shape, 10) == count_parameters(build_model(cfg, shape, 10))


def test_a_constant_schedule_precomputes_nothing_per_step():
    """Before the first step the loop asks for the cycle ends; a policy without cycles answers at once instead of
    scanning every step (trainer.max_steps=1e9 with schedule=constant used to hang there for minutes)."""
    from runner.schedules import build_schedule

    constant = build_schedule({"name": "constant"})
    constant.cycle = None  # would fail if the scan called it
    assert constant.cycle_ends(10_000_000) == []
    sgdr = build_schedule({"name": "sgdr", "T_0": 10, "T_mult": 2})
    assert sgdr.cycle_ends(200) == [s for s in range(1, 201) if sgdr.cycle(s) != sgdr.cycle(s - 1)]
    assert sgdr.cycle_ends(10**12)[:3] == [10, 30, 70]


# ---- the real command in a fresh working directory (no hydra.run.dir) -------------------------------------------
COMMAND_LINE = [
    (["model=null"], "error: model=null: model is a config group"),
    (["trainer=null"], "error: trainer=null: trainer is a config group"),
    (["=5"], "error: =5: an override needs a key"),
    (["seed=4294967296"], "error: seed=4294967296:"),
    (["schedule.base_lr=0.5"], "error: schedule.base_lr=0.5:"),
    (["trainer.max_steps=1000000000", "schedule=constant"], "error: trainer.max_steps=1000000000:"),
    (["preview.steps=1000000000", "task=preview"], "error: preview.steps=1000000000:"),
    (["model.channels=[2000000000]"], "error: model.channels=[2000000000]:"),
    (["dataset.val_fraction=0.9999"], "error: dataset."),
    (["optimizer.weight_decay=inf"], "error: optimizer.weight_decay=inf:"),
]


@pytest.mark.parametrize("args,start", COMMAND_LINE, ids=[" ".join(a) for a, _ in COMMAND_LINE])
def test_the_command_exits_2_with_one_line_and_leaves_no_outputs_folder(tmp_path, args, start):
    proc = run_cli(*args, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith(start) and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert list(tmp_path.iterdir()) == []  # no outputs/ tree, nothing else


def test_a_first_run_prints_no_warning(tmp_path):
    proc = run_cli("trainer.max_steps=50", "trainer.threads=1", "trainer.progress=false", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = (proc.stdout + proc.stderr).lower()
    assert "warning" not in text and "traceback" not in text, text


def test_a_file_where_the_run_folder_should_be_is_one_line_naming_it(tmp_path):
    (tmp_path / "taken").write_text("a file")
    for run_dir in ("taken", "taken/run"):
        proc = run_cli(f"hydra.run.dir={run_dir}", "trainer.max_steps=2", cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith(f"error: hydra.run.dir='{run_dir}': cannot write the run's files there (")
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert (tmp_path / "taken").read_text() == "a file"


@pytest.mark.parametrize("errno_name,reason", [("EROFS", "Read-only file system"), ("ENOSPC", "No space left")])
def test_a_read_only_or_full_run_folder_is_one_line_naming_it(tmp_path, errno_name, reason):
    """The OS refuses to make the run folder (read-only, or a full disk: the tests run as any user, root included,
    so the refusal is injected where Hydra makes the folder)."""
    inject = (
        "import errno, os, pathlib, runpy, sys\n"
        "make = pathlib.Path.mkdir\n"
        "def refuse(self, *a, **k):\n"
        "    if self.name == 'run':\n"
        f"        raise OSError(errno.{errno_name}, os.strerror(errno.{errno_name}), str(self))\n"
        "    return make(self, *a, **k)\n"
        "pathlib.Path.mkdir = refuse\n"
        "sys.argv = ['runner', 'hydra.run.dir=out/run', 'trainer.max_steps=2']\n"
        "runpy.run_module('runner', run_name='__main__')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("HYDRA_FULL_ERROR", None)
    proc = subprocess.run([sys.executable, "-c", inject], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: hydra.run.dir='out/run': cannot write the run's files there (")
    assert reason in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_ctrl_c_while_starting_exits_130_with_one_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "0"}
    env.pop("HYDRA_FULL_ERROR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner", "trainer.max_steps=2"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.5)  # importing Hydra and composing the config: well before the first step
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["error: interrupted (Ctrl-C) while starting; nothing was run"]
    assert "Traceback" not in out + err and not (tmp_path / "outputs").exists()


# ---- data files ---------------------------------------------------------------------------------------------------
def write_idx(folder: Path, n_train: int, n_test: int) -> None:
    """The four MNIST files in the IDX format: magic 0x0000 0x08 <ndim>, big-endian sizes, uint8 bytes."""
    import struct

    import numpy as np

    from runner.data.image_files import IDX_FILES

    folder.mkdir(parents=True, exist_ok=True)
    arrays = [np.zeros((n_train, 28, 28)), np.arange(n_train) % 10, np.zeros((n_test, 28, 28)), np.arange(n_test) % 10]
    for name, a in zip(IDX_FILES, arrays):
        header = struct.pack(">HBB", 0, 0x08, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape)
        (folder / name).write_bytes(header + a.astype(np.uint8).tobytes())


def test_held_out_images_that_leave_less_than_a_batch_are_refused_before_the_model_is_built(tmp_path):
    from runner.training.build import build_training

    write_idx(tmp_path / "MNIST" / "raw", n_train=120, n_test=20)
    cfg = validate(compose("dataset=mnist", f"dataset.root={tmp_path}", "dataset.val_size=100"))
    with pytest.raises(ConfigError, match=r"^trainer.batch_size=\d+: more than the 20 training images mnist leaves"):
        build_training(cfg)


def test_a_garbage_gz_in_dataset_root_is_named_as_not_a_valid_idx_gzip_file(tmp_path):
    from runner.data import load_dataset
    from runner.data.image_files import IDX_FILES

    for name in IDX_FILES:
        (tmp_path / f"{name}.gz").write_bytes(b"this is not gzip at all")
    cfg = validate(compose("dataset=mnist", f"dataset.root={tmp_path}")).dataset
    with pytest.raises(ConfigError, match=rf"^dataset.root=.*{IDX_FILES[0]}.gz is not a valid IDX/gzip file"):
        load_dataset(cfg)
    assert not (tmp_path / "MNIST" / "raw" / IDX_FILES[0]).exists()  # no half-decompressed file left to reuse


def test_a_gzip_that_holds_no_idx_is_named_and_not_blamed_on_a_download(tmp_path):
    from runner.data import load_dataset
    from runner.data.image_files import IDX_FILES

    for name in IDX_FILES:
        with gzip.open(tmp_path / f"{name}.gz", "wb") as f:
            f.write(b"gzip, but no IDX inside")
    cfg = validate(compose("dataset=mnist", f"dataset.root={tmp_path}")).dataset
    with pytest.raises(ConfigError, match=r"^dataset.root=.* are not valid IDX files") as caught:
        load_dataset(cfg)
    assert "online" not in str(caught.value) and "download" not in str(caught.value).split("(")[0]


# ---- schedule.bounds_from and the range test ------------------------------------------------------------------------
def bounds_from(path: Path) -> str:
    try:
        validate(compose(f"schedule.bounds_from={path}"))
    except Exception as e:  # noqa: BLE001 - must be a config error
        line = one_line(e)
        assert line is not None, e
        return line
    pytest.fail("accepted")


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a": ' * 40 + "1" + "}" * 40])
def test_a_deeply_nested_bounds_from_json_is_one_line(tmp_path, text):
    (tmp_path / "range_test.json").write_text(text)
    line = bounds_from(tmp_path)
    assert line.startswith("schedule.bounds_from=") and "not a range-test result" in line and "\n" not in line


def test_bounds_from_refuses_a_range_test_that_says_it_is_unusable(tmp_path):
    data = {
        "layout": 2,
        "usable": False,
        "reason": "no usable bounds (seed 0: the smoothed loss never fell below its first value)",
        "rule": "smith",
        "aggregate": {"smith": {"base_lr": 250.0, "max_lr": 1000.0}},
    }
    (tmp_path / "range_test.json").write_text(json.dumps(data))
    line = bounds_from(tmp_path)
    assert line.startswith("schedule.bounds_from=") and "suggests no bounds" in line and "never fell" in line


def test_too_few_steps_to_read_two_bounds_is_unusable_with_its_reason():
    from runner.range_test.rules import all_rules

    lrs = [1e-3 * 1.5**i for i in range(10)]
    falling = [2.3 - 0.1 * i for i in range(10)]  # improves all the way, but 10 steps hold no two bounds at lag 9
    out = all_rules(lrs, falling, beta=0.9, improve_fraction=0.1)
    assert out["usable"] is False and "too few to read two bounds" in out["reason"]
    assert all(out[rule]["max_lr"] is None for rule in ("smith", "steepest", "min_over_10"))


def test_a_range_test_whose_loss_never_improved_says_so_and_is_refused_downstream(tmp_path):
    proc = run_cli(
        "task=range_test",
        "range_test.min_lr=1000",
        "range_test.max_lr=1e6",
        "range_test.steps=10",
        "trainer.threads=1",
        "hydra.run.dir=rt",
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and proc.stderr.startswith("error: range_test.min_lr=1000.0: no usable bounds")
    assert "WARNING" in proc.stdout + proc.stderr  # the log's warning line
    result = read_json(tmp_path / "rt" / "range_test.json")
    assert result["usable"] is False and "never fell" in result["reason"] and result["aggregate"] is None
    line = bounds_from(tmp_path / "rt")
    assert line.startswith("schedule.bounds_from=") and "suggests no bounds" in line


# ---- summary.json read back -------------------------------------------------------------------------------------
def fake_job(sweep: Path, num: int, summary: object) -> Path:
    folder = sweep / f"{num}-triangular-seed{num}"
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(f"- seed={num}\n")
    (folder / ".hydra" / "hydra.yaml").write_text(f"hydra:\n  job:\n    num: {num}\n")
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def test_the_report_skips_a_summary_that_is_a_list_or_lacks_fields_with_a_warning_naming_it(tmp_path):
    good = {"status": "completed", "schedule": "triangular", "seed": 0, "steps": 10, "final_val_acc": 0.5}
    fake_job(tmp_path, 0, good)
    as_list = fake_job(tmp_path, 1, [1, 2, 3])
    lacking = fake_job(tmp_path, 2, {"status": "completed", "seed": 2})
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "runner.report", str(tmp_path)], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 1, proc.stderr  # some run has no result
    assert "Traceback" not in proc.stderr
    assert f"{as_list / 'summary.json'}: skipped: summary.json is not a JSON object" in proc.stderr
    assert f"{lacking / 'summary.json'}: skipped: summary.json says completed but lacks final_val_acc" in proc.stderr
    runs = (tmp_path / "runs.csv").read_text()
    assert "not a JSON object" in runs and "lacks final_val_acc" in runs
