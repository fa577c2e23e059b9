"""The training loop. It takes built objects (model, optimizer, schedule, data, record logs), so tests call it
directly; runner/tasks.py builds those objects from the config.

Per step: 1) set the LR from the policy, 2) forward/backward on a batch indexed from in-memory tensors
(standardized per batch when stored as uint8), 3) append one metrics row. Evaluation runs at every epoch end, every cycle end (LR back at base_lr) and at the end.
"""
from __future__ import annotations

import dataclasses
import math
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch
from torch import nn
from tqdm import tqdm

from runner.data import DataSplit
from runner.records import CsvLog
from runner.schedules import Schedule

# tqdm's default write lock includes a multiprocessing RLock: a named semaphore that starts multiprocessing's
# resource-tracker process in every run and is reported as leaked when a sweep's idle workers are stopped
# (runner/callbacks.py, ReleaseWorkers). A bar here never crosses processes, so a thread lock is all it needs.
tqdm.set_lock(threading.RLock())


@dataclass
class TrainResult:
    status: str  # completed, diverged
    steps: int
    final_val_acc: Optional[float] = None
    final_val_loss: Optional[float] = None
    best_val_acc: Optional[float] = None
    train_s: float = 0.0  # seconds in training steps, evaluation excluded
    images: int = 0
    diverged: Optional[dict] = None
    evals: list = field(default_factory=list)


def current_momentum(optimizer: torch.optim.Optimizer) -> Optional[float]:
    """SGD's momentum or Adam's beta1: the value the records show beside the LR."""
    group = optimizer.param_groups[0]
    if "betas" in group:
        return float(group["betas"][0])
    return float(group["momentum"]) if "momentum" in group else None


def set_lr(optimizer: torch.optim.Optimizer, lr: float, momentum: Optional[float] = None) -> None:
    """The policy's LR (and momentum, for policies that cycle it) for every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr
        if momentum is not None:
            if "betas" in group:
                group["betas"] = (momentum, group["betas"][1])
            else:
                group["momentum"] = momentum


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int,
             inputs: Callable[[torch.Tensor], torch.Tensor]) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over a whole split; `inputs` (DataSplit.inputs) turns stored images into
    model inputs one batch at a time."""
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        logits = model(inputs(x[start:start + batch_size]))
        target = y[start:start + batch_size]
        total_loss += nn.functional.cross_entropy(logits, target, reduction="sum").item()
        correct += int((logits.argmax(dim=1) == target).sum())
    model.train(was_training)
    return total_loss / len(x), correct / len(x)


def iters_per_epoch(n_train: int, batch_size: int) -> int:
    # The last, smaller batch is kept: every image is seen once per epoch.
    return math.ceil(n_train / batch_size)


def total_steps(n_train: int, batch_size: int, epochs: int, max_steps: Optional[int]) -> int:
    """trainer.max_steps wins when set; otherwise trainer.epochs whole epochs."""
    return max_steps if max_steps is not None else epochs * iters_per_epoch(n_train, batch_size)


def evaluation_points(steps: int, per_epoch: int, cycle_ends: list[int]) -> dict[int, list[str]]:
    """{step: reasons}: the steps after which the loop evaluates, and why (eval.csv gets one row per reason, so a
    user filtering on when == "cycle_end" finds every cycle end): every epoch end, every cycle end (the LR back
    at base_lr) and the final step."""
    points: dict[int, list[str]] = {}
    for when, at in (("epoch_end", range(per_epoch, steps + 1, per_epoch)),
                     ("cycle_end", sorted(e for e in cycle_ends if 0 < e <= steps)), ("final", [steps])):
        for step in at:
            points.setdefault(step, []).append(when)
    return points


def _loop_state(step: int, perm: torch.Tensor, order_rng: torch.Generator, result: TrainResult,
                metrics: CsvLog, evals: CsvLog, model: nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    """Everything the loop needs to continue exactly from `step` (plain data: see runner/checkpoint.py)."""
    from runner.checkpoint import rng_state

    metrics.flush()
    evals.flush()
    return {"step": step, "perm": perm.clone(), "order_rng": order_rng.get_state(), "rng": rng_state(),
            "metrics_rows": metrics.rows_written, "eval_rows": evals.rows_written,
            "result": dataclasses.asdict(result), "model": model.state_dict(), "optimizer": optimizer.state_dict()}


def _restore(state: dict, order_rng: torch.Generator, model: nn.Module,
             optimizer: torch.optim.Optimizer) -> tuple[int, torch.Tensor, TrainResult]:
    from runner.checkpoint import set_rng_state

    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    order_rng.set_state(state["order_rng"])
    set_rng_state(state["rng"])
    saved = dict(state["result"])
    saved["evals"] = [tuple(e) for e in saved.get("evals", [])]
    saved["status"] = "completed"  # what the loop reports unless it is stopped again
    return int(state["step"]), state["perm"], TrainResult(**saved)


def train(model: nn.Module, optimizer: torch.optim.Optimizer, schedule: Schedule, data: DataSplit, *,
          steps: int, batch_size: int, seed: int, metrics: CsvLog, evals: CsvLog, eval_batch_size: int = 256,
          progress: bool = False, checkpoint_every: Optional[int] = None,
          save_checkpoint: Optional[Callable[[dict], None]] = None, resume: Optional[dict] = None,
          should_stop: Optional[Callable[[], bool]] = None, faults: Any = None) -> TrainResult:
    """Train for `steps` optimizer steps with the LR from `schedule` (already resolved to steps).

    With `save_checkpoint`, the loop hands over its state every `checkpoint_every` steps and at the end; with
    `resume` (such a state) it continues from there and produces the rows an uninterrupted run would have.
    `should_stop` is polled once per step (signals): the loop then checkpoints and returns status interrupted.
    """
    n_train = len(data.train_x)
    per_epoch = iters_per_epoch(n_train, batch_size)
    eval_at = evaluation_points(steps, per_epoch, schedule.cycle_ends(steps))  # sgdr's cycles grow: ask the policy
    order_rng = torch.Generator().manual_seed(seed)  # data order depends on the run's seed only
    model.train()
    if resume is not None:
        step, perm, result = _restore(resume, order_rng, model, optimizer)
    else:
        step, perm, result = 0, torch.randperm(n_train, generator=order_rng), TrainResult(status="completed", steps=0)
    fail_at = getattr(faults, "fail_at_step", None)
    nan_at = getattr(faults, "nan_at_step", None)
    kill_at = getattr(faults, "kill_at_step", None)
    bar = tqdm(total=steps, initial=step, desc=schedule.name, unit="step", disable=not progress, mininterval=0.5,
               dynamic_ncols=True, leave=False)

    def checkpoint() -> None:
        if save_checkpoint is not None:
            result.steps = step
            save_checkpoint(_loop_state(step, perm, order_rng, result, metrics, evals, model, optimizer))

    while step < steps:
        if should_stop is not None and should_stop():
            result.status = "interrupted"
            checkpoint()
            break
        if kill_at is not None and step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # test switch: a real, uncatchable kill at a known step
        if step % per_epoch == 0 and step > 0:
            perm = torch.randperm(n_train, generator=order_rng)
        tic = time.perf_counter()
        # 1) the policy's LR (and momentum) for this step
        lr = schedule.lr_at(step)
        set_lr(optimizer, lr, schedule.momentum_at(step))
        # 2) one batch, indexed from the in-memory tensors
        start = (step % per_epoch) * batch_size
        idx = perm[start:start + batch_size]
        loss = nn.functional.cross_entropy(model(data.inputs(data.train_x[idx])), data.train_y[idx])
        if fail_at is not None and step == fail_at:
            raise RuntimeError(f"injected failure at step {step} (faults.fail_at_step)")
        loss_value = loss.item() if step != nan_at else math.nan
        diverged = not math.isfinite(loss_value)
        if not diverged:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            result.train_s += time.perf_counter() - tic
        # 3) one metrics row (a diverged step's too: its LR and loss say where it blew up)
        metrics.append(step, step // per_epoch, schedule.cycle(step), lr, current_momentum(optimizer), loss_value)
        if diverged:
            # Keep every row before this step; the run stops and says where and at which LR it diverged.
            result.status, result.diverged = "diverged", {"step": step, "lr": lr, "loss": loss_value}
            break
        result.images += idx.shape[0]  # not len(idx): Tensor.__len__ is a Python call, 2 us a step
        step += 1
        bar.update(1)
        reasons = eval_at.get(step)
        if reasons:
            val_loss, val_acc = evaluate(model, data.val_x, data.val_y, eval_batch_size, data.inputs)
            for when in reasons:
                evals.append(step, step / per_epoch, schedule.lr_at(step), val_loss, val_acc, when)
            evals.flush()
            metrics.flush()
            result.evals.append((step, val_acc))
            result.final_val_acc, result.final_val_loss = val_acc, val_loss
            result.best_val_acc = max(val_acc, result.best_val_acc or 0.0)
            bar.set_postfix(lr=f"{lr:.3g}", loss=f"{loss_value:.3f}", val_acc=f"{val_acc:.3f}", refresh=False)
        if checkpoint_every and step % checkpoint_every == 0 and step < steps:
            checkpoint()
    bar.close()
    result.steps = step
    if result.status == "completed":
        checkpoint()  # the final state: a rerun of a finished run finds it complete
    return result
