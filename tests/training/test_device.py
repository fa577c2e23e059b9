"""trainer.device: the names it accepts, auto's order, one-line errors for a device this machine lacks (through the
real command line, no folder left), data and model placed on the device, checkpoints written on a GPU loading here,
and device=cpu giving the same records as the default on a machine without a GPU."""

from __future__ import annotations

import pytest
import torch
import torch.serialization

from runner.config import validate
from runner.errors import ConfigError
from runner.training import checkpoint as ckpt
from runner.training import device as dev
from runner.training.build import build_training
from support import compose, read_json


@pytest.mark.parametrize("name", ["auto", "cpu", "cuda", "cuda:0", "cuda:12", "mps"])
def test_every_device_form_validates(name):
    assert validate(compose(f"trainer.device={name}")).trainer.device == name


@pytest.mark.parametrize(
    "value, hint",
    [("gpu", "did you mean 'cuda'?"), ("cdua", "did you mean 'cuda'?"), ("cuda:x", ""), ("cuda:-1", ""), ("tpu", "")],
)
def test_a_misspelt_device_is_refused_with_the_allowed_forms(value, hint):
    with pytest.raises(ConfigError) as e:
        validate(compose(f"trainer.device={value}"))
    line = str(e.value)
    assert line.startswith(f"trainer.device={value}: unknown device; allowed: auto, cpu, cuda, cuda:N"), line
    assert hint in line and "\n" not in line


@pytest.mark.parametrize(
    "cuda, mps, chosen", [(2, True, "cuda:0"), (1, False, "cuda:0"), (0, True, "mps"), (0, False, "cpu")]
)
def test_auto_takes_cuda_then_mps_then_cpu(machine, cuda, mps, chosen):
    machine(cuda=cuda, mps=mps)
    assert str(dev.resolve("auto")) == chosen


def test_an_explicit_device_must_be_there(machine):
    machine(cuda=2)
    assert str(dev.resolve("cuda:1")) == "cuda:1" and str(dev.resolve("cuda")) == "cuda:0"
    with pytest.raises(ConfigError, match=r"trainer.device=cuda:2: not available \(torch sees 2 CUDA device\(s\), "):
        dev.resolve("cuda:2")
    with pytest.raises(ConfigError, match=r"trainer.device=mps: not available .*allowed here: auto, cpu, cuda, cuda:0"):
        dev.resolve("mps")
    machine(cuda=0, mps=True)
    assert str(dev.resolve("mps")) == "mps"
    with pytest.raises(ConfigError, match=r"trainer.device=cuda: not available \(torch sees no CUDA device here\)"):
        dev.resolve("cuda")


@pytest.mark.parametrize("name", ["cuda", "cuda:7", "mps", "gpu"])
def test_a_device_this_machine_lacks_is_one_line_exit_2_and_no_folder(cli, tmp_path, name):
    if name != "gpu" and dev.unavailable_reason(name) is None:
        pytest.skip(f"{name} is available on this machine")
    proc = cli(f"trainer.device={name}", "trainer.max_steps=5")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: trainer.device={name}: "), proc.stderr
    assert ("did you mean 'cuda'?" in lines[0]) if name == "gpu" else ("not available" in lines[0])
    assert not (tmp_path / "outputs").exists()


def test_data_and_model_are_built_on_the_device():
    cfg = validate(compose("trainer.threads=1"))
    # The meta device stands in for a GPU: a tensor there has a place but no values, so nothing is computed.
    meta = torch.device("meta")
    _, data, model, optimizer = build_training(cfg, device=meta)
    tensors = [data.train_x, data.train_y, data.val_x, data.val_y, data.test_x, data.test_y]
    assert all(t.device == meta for t in tensors) and data.device == meta
    assert all(p.device == meta for p in model.parameters())
    assert all(p.device == meta for group in optimizer.param_groups for p in group["params"])


def test_moving_data_to_the_cpu_copies_nothing():
    _, data, _, _ = build_training(validate(compose("trainer.threads=1", "trainer.device=cpu")))
    assert data.to("cpu") is data
    moved = data.to("meta")
    assert moved.train_x.device.type == "meta" and data.train_x.device.type == "cpu"  # the original is untouched


def test_a_checkpoint_written_on_a_gpu_loads_on_the_cpu(tmp_path, monkeypatch):
    # torch.save records each tensor's device; pretend it was a GPU's. Without map_location this machine (no CUDA)
    # would refuse the file.
    monkeypatch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
    ckpt.save(tmp_path / "checkpoint.pt", {"model": {"w": torch.arange(3.0)}, "step": 7})
    monkeypatch.undo()
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    state = ckpt.load(tmp_path / "checkpoint.pt")
    assert state["step"] == 7 and state["model"]["w"].device.type == "cpu"
    assert torch.equal(state["model"]["w"], torch.arange(3.0))


def test_device_cpu_repeats_the_default_run_on_a_machine_without_a_gpu(cli, tmp_path):
    if dev.auto_choice() != "cpu":
        pytest.skip("auto picks a GPU here")
    common = ("trainer.max_steps=60", "trainer.threads=1", "schedule.step_size=15")
    for name, extra in (("auto", ()), ("cpu", ("trainer.device=cpu",))):
        proc = cli(*common, *extra, f"hydra.run.dir={name}")
        assert proc.returncode == 0, proc.stderr
        assert read_json(tmp_path / name / "summary.json")["device"] == "cpu"
        assert "device cpu" in (tmp_path / name / "run.log").read_text()
    for records in ("metrics.csv", "eval.csv"):
        assert (tmp_path / "auto" / records).read_bytes() == (tmp_path / "cpu" / records).read_bytes()
