"""Smith's LR range test: `python -m runner task=range_test [dataset=... model=... optimizer=...]`.

The LR rises from range_test.min_lr to range_test.max_lr over range_test.steps optimizer steps (linearly, as in
Smith 2017, or exponentially, evenly over decades), on the model, data, optimizer and batch size a training run
with the same overrides would use. The loss is smoothed with an EMA (runner.analysis.ema); the test stops early
once the smoothed loss exceeds range_test.diverge_factor times its best, or the loss is NaN/inf. The validation
accuracy is measured every range_test.eval_every steps on the first range_test.eval_size validation images.

The test trains deep copies: the model and optimizer passed in (and torch's global RNG) are exactly as before, so
a caller can range-test and then train the same objects. The run folder gets:

    range_test.csv    step, lr, loss, smoothed_loss, val_acc (blank where not measured)
    range_test.json   suggested_base_lr, suggested_max_lr and how they were chosen (runner/bounds.py)
    range_test.png    loss and accuracy against the LR, the suggested bounds marked

Chain it into training without copying numbers: `python -m runner schedule.bounds_from=<this folder>`.
"""
from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn

from runner.data import DataSplit
from runner.errors import ConfigError

log = logging.getLogger("runner")
CSV_COLUMNS = ("step", "lr", "loss", "smoothed_loss", "val_acc")


@dataclass
class RangeTestResult:
    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    accuracy: list[Optional[float]] = field(default_factory=list)  # None where not measured
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


def lr_range_test(model: nn.Module, optimizer: torch.optim.Optimizer, data: DataSplit, *, min_lr: float,
                  max_lr: float, steps: int, mode: str, batch_size: int, seed: int, smoothing: float,
                  diverge_factor: float, eval_every: int, eval_size: int,
                  eval_batch_size: int = 256) -> RangeTestResult:
    """Run the test on copies of `model` and `optimizer`; the originals are left exactly as they were."""
    from runner.train import evaluate, set_lr

    net, opt = copy_for_test(model, optimizer)
    net.train()
    val_x, val_y = data.val_x[:eval_size], data.val_y[:eval_size]
    order_rng = torch.Generator().manual_seed(seed)
    n_train = len(data.train_x)
    per_epoch = math.ceil(n_train / batch_size)
    result = RangeTestResult()
    # Dropout in the copy draws from torch's global RNG: fork it so the caller's random stream is untouched.
    with torch.random.fork_rng(devices=[]):
        m, correction, best = 0.0, 1.0, math.inf
        for step in range(steps):
            if step % per_epoch == 0:
                perm = torch.randperm(n_train, generator=order_rng)
            idx = perm[(step % per_epoch) * batch_size:(step % per_epoch + 1) * batch_size]
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
            # The same bias-corrected EMA as runner.analysis.ema, kept online to decide when to stop.
            m, correction = smoothing * m + (1 - smoothing) * value, correction * smoothing
            smoothed = m / (1 - correction)
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


def run(cfg: Any, out_dir: Path) -> str:
    """task=range_test: build what a training run would build, test, write the three files."""
    from runner.analysis import ema
    from runner.bounds import RESULT_FILE, suggest_bounds
    from runner.range_test_plot import plot_range_test
    from runner.records import write_json_atomic, write_rows
    from runner.tasks import build_training

    out_dir = Path(out_dir)
    if (out_dir / RESULT_FILE).exists():
        raise ConfigError(f"hydra.run.dir={str(out_dir)!r}: already holds a range test; choose a new folder")
    wall0 = time.perf_counter()
    rt = cfg.range_test
    threads, data, model, optimizer = build_training(cfg)  # the weights `python -m runner` would start from
    before = snapshot(model, optimizer)
    log.info("range test on %s/%s: LR %g -> %g over %d steps (%s), batch %d, %d train images",
             cfg.model.name, cfg.dataset.name, rt.min_lr, rt.max_lr, rt.steps, rt.mode, cfg.trainer.batch_size,
             len(data.train_x))
    result = lr_range_test(model, optimizer, data, min_lr=rt.min_lr, max_lr=rt.max_lr, steps=rt.steps,
                           mode=rt.mode, batch_size=cfg.trainer.batch_size, seed=cfg.seed,
                           smoothing=rt.smoothing, diverge_factor=rt.diverge_factor, eval_every=rt.eval_every,
                           eval_size=rt.eval_size, eval_batch_size=cfg.trainer.eval_batch_size)
    smoothed = ema(result.losses, rt.smoothing)
    write_rows(out_dir / "range_test.csv", CSV_COLUMNS,
               zip(range(len(result.lrs)), result.lrs, result.losses, (float(s) for s in smoothed),
                   result.accuracy))
    try:
        bounds = suggest_bounds(result.lrs, smoothed, rt.smoothing, rt.improve_fraction)
    except ValueError:
        raise ConfigError(f"range_test.min_lr={rt.min_lr!r}: the loss was not finite from the first step; "
                          f"choose a smaller min_lr") from None
    measured = [(a, lr) for a, lr in zip(result.accuracy, result.lrs) if a is not None]
    best_acc, best_acc_lr = max(measured) if measured else (None, None)
    summary = {**bounds, "mode": rt.mode, "min_lr": rt.min_lr, "max_lr": rt.max_lr, "steps": rt.steps,
               "steps_run": len(result.lrs), "stopped": result.stopped, "last_lr": result.lrs[-1],
               "smoothing": rt.smoothing, "improve_fraction": rt.improve_fraction,
               "diverge_factor": rt.diverge_factor, "best_val_acc": best_acc, "best_val_acc_lr": best_acc_lr,
               "model": cfg.model.name, "dataset": cfg.dataset.name, "optimizer": cfg.optimizer.name,
               "batch_size": cfg.trainer.batch_size, "train_images": len(data.train_x), "seed": cfg.seed,
               "threads": threads, "model_unchanged": unchanged(before, model, optimizer),
               "wall_s": time.perf_counter() - wall0}
    write_json_atomic(out_dir / RESULT_FILE, summary)
    plot_range_test(out_dir / "range_test.png", result.lrs, result.losses, smoothed, result.accuracy,
                    bounds["suggested_base_lr"], bounds["suggested_max_lr"], log_x=rt.mode == "exponential",
                    title=f"LR range test: {cfg.model.name} on {cfg.dataset.name}, {cfg.optimizer.name}, "
                          f"batch {cfg.trainer.batch_size} ({result.stopped} after {len(result.lrs)} steps)")
    log.info("suggested base_lr %.4g, max_lr %.4g; train with schedule.bounds_from=%s",
             bounds["suggested_base_lr"], bounds["suggested_max_lr"], out_dir)
    return "completed"
