"""Fixtures of the training tests."""

from __future__ import annotations

import pytest
import torch

from runner.training import device as dev


@pytest.fixture
def machine(monkeypatch):
    """A pretend machine: how many CUDA devices torch sees and whether MPS is there."""

    def set_up(cuda: int = 0, mps: bool = False) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda)
        monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
        monkeypatch.setattr(torch.version, "cuda", "13.0")
        monkeypatch.setattr(dev, "make_cuda_repeatable", lambda: None)  # global switches: not in a unit test

    return set_up
