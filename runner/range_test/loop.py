"""The LR range test's loop: the LR rises step by step on copies of the model and optimizer.

`python -m runner task=range_test [dataset=... model=... optimizer=...]` (runner/range_test/task.py).

The LR rises from range_test.min_lr to range_test.max_lr over range_test.steps optimizer steps (linearly, as in
Smith 2017, or exponentially, evenly over decades), on the model, data, optimizer and batch size a training run
with the same overrides would use. The loss is smoothed with an EMA (runner.analysis.ema); the test stops early
once the smoothed loss exceeds range_test.diverge_factor times its best, or the loss is NaN/inf. The validation
accuracy is measured every range_test.eval_every steps on the first range_test.eval_size validation images.

The test trains deep copies: the model and optimizer passed in (and torch's global RNG) are exactly as before, so
a caller can range-test and then train the same objects. runner/range_test/task.py runs it once per seed and writes
range_test.{csv,json,png}.

Chain it into training without copying numbers: `python -m runner schedule.bounds_from=<this folder>`.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
from torch import nn

from runner.analysis.plateaus import RunningEma
from runner.data.split import DataSplit
from runner.training.loop import BatchOrder, evaluate, set_lr


@dataclass
class RangeTestResult:
    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    accuracy: list[float | None] = field(default_factory=list)  # None where not measured
    stopped: str = "completed"  # completed, diverged (smoothed loss > diverge_factor x best), not_finite


def lr_at(step: int, steps: int, min_lr: float, max_lr: float, mode: str) -> float:
    """The test's LR for `step` in 0..steps-1: min_lr at the first step, max_lr at the last."""
    t = step / (steps - 1)
    if mode == "exponential":
        return min_lr * (max_lr / min_lr) ** t
    return min_lr + (max_lr - min_lr) * t


def copy_for_test(model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[nn.Module, torch.optim.Optimizer]:
    """A deep copy of the model and an optimizer of the same kind and state over the copy's parameters.

    The optimizer state is deep-copied too: torch's load_state_dict keeps tensors that need no cast, so the copy
    would otherwise update the original's momentum buffers in place.
    """
    twin = copy.deepcopy(model)
    twin_optimizer = type(optimizer)(twin.parameters(), **optimizer.defaults)
    twin_optimizer.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    return twin, twin_optimizer


def lr_range_test(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: DataSplit,
    *,
    min_lr: float,
    max_lr: float,
    steps: int,
    mode: str,
    batch_size: int,
    seed: int,
    smoothing: float,
    diverge_factor: float,
    eval_every: int,
    eval_size: int,
    eval_batch_size: int = 256,
) -> RangeTestResult:
    """Run the test on copies of `model` and `optimizer`; the originals are left exactly as they were.

    The batches come in the order a training run with the same seed would see them (the loop's BatchOrder)."""
    net, opt = copy_for_test(model, optimizer)
    net.train()
    val_x, val_y = data.val_x[:eval_size], data.val_y[:eval_size]
    order = BatchOrder(len(data.train_x), batch_size, seed)
    result = RangeTestResult()
    # Dropout in the copy draws from torch's global RNG (the GPU's own on a GPU): fork it so the caller's random
    # stream is untouched.
    with torch.random.fork_rng(devices=[data.device] if data.device.type == "cuda" else []):
        smoothed_loss, best = RunningEma(smoothing), math.inf
        for step in range(steps):
            idx = order.indices(step)
            lr = lr_at(step, steps, min_lr, max_lr, mode)
            set_lr(opt, lr)
            loss = nn.functional.cross_entropy(net(data.inputs(data.train_x[idx])), data.train_y[idx])
            value = loss.item()
            result.lrs.append(lr)
            result.losses.append(value)
            if not math.isfinite(value):
                result.accuracy.append(None)
                result.stopped = "not_finite"
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            last = step == steps - 1
            measured = (step + 1) % eval_every == 0 or last
            result.accuracy.append(evaluate(net, val_x, val_y, eval_batch_size, data.inputs)[1] if measured else None)
            # The smoothed loss decides when to stop: once it is diverge_factor times its best, the test is over.
            smoothed = smoothed_loss.update(value)
            best = min(best, smoothed)
            if smoothed > diverge_factor * best:
                result.stopped = "diverged"
                break
    return result


def _same_state(a: dict, b: dict) -> bool:
    """Two state_dicts (model or optimizer) hold the same values, tensors compared exactly."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same_state(x, y) for x, y in zip(a, b))
    return a == b


def snapshot(model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    return copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())


def unchanged(before: tuple[dict, dict], model: nn.Module, optimizer: torch.optim.Optimizer) -> bool:
    return _same_state(before[0], model.state_dict()) and _same_state(before[1], optimizer.state_dict())
