"""The training loop. It takes built objects (model, optimizer, schedule, data) and a small `Hooks` object for what
the caller wants done around the steps (records, checkpoints, a stop flag), so tests call it directly;
runner/training/run.py builds those objects from the config.

Per step: 1) set the LR (and momentum) from the policy, 2) forward/backward on a batch indexed from in-memory
tensors (standardized per batch when stored as uint8), 3) append one metrics row. Evaluation runs at every epoch
end, every cycle end (LR back at base_lr), every `eval_every` steps when set, and at the end; after the last step
the test part, when the data has one, is measured once.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from runner.data.split import DataSplit
from runner.schedules import Schedule
from runner.status import Status
from runner.training.records import CsvLog

# tqdm's default write lock includes a multiprocessing RLock: a named semaphore that starts multiprocessing's
# resource-tracker process in every run and is reported as leaked when a sweep's idle workers are stopped
# (runner/sweep/callbacks.py, ReleaseWorkers). A bar here never crosses processes, so a thread lock is all it needs.
tqdm.set_lock(threading.RLock())


@dataclass
class TrainResult:
    status: str  # completed, diverged, interrupted
    steps: int
    final_val_acc: float | None = None
    final_val_loss: float | None = None
    best_val_acc: float | None = None  # over whole-split evaluations only (an eval_size subset is noisier)
    test_acc: float | None = None  # measured once, after the last step of a completed run
    test_loss: float | None = None
    train_s: float = 0.0  # seconds in training steps, evaluation excluded
    images: int = 0
    diverged: dict | None = None
    evals: list = field(default_factory=list)


@dataclass
class LoopPlan:
    """How long and in which order to train: everything about the run the loop needs besides the built objects."""

    steps: int
    batch_size: int
    seed: int  # the data order's seed
    eval_batch_size: int = 256
    checkpoint_every: int | None = None
    eval_every: int | None = None  # extra evaluations every this many steps
    eval_size: int | None = None  # validation images per extra evaluation (the first N); None: all of them


@dataclass
class Hooks:
    """What the caller wants done around the steps; only the two record logs are required.

    save_checkpoint(state)  receives the loop's state every plan.checkpoint_every steps, when stopped, and at the end
    should_stop()           polled once per step (signals): the loop then checkpoints and returns interrupted
    on_loss(step, loss)     sees each step's loss value before the update and may replace it (test faults)
    """

    metrics: CsvLog
    evals: CsvLog
    save_checkpoint: Callable[[dict], None] | None = None
    should_stop: Callable[[], bool] | None = None
    on_loss: Callable[[int, float], float] | None = None
    progress: bool = False


def iters_per_epoch(n_train: int, batch_size: int) -> int:
    # The last, smaller batch is kept: every image is seen once per epoch.
    return math.ceil(n_train / batch_size)


def total_steps(n_train: int, batch_size: int, epochs: int, max_steps: int | None) -> int:
    """trainer.max_steps wins when set; otherwise trainer.epochs whole epochs."""
    return max_steps if max_steps is not None else epochs * iters_per_epoch(n_train, batch_size)


class BatchOrder:
    """The data order of a run: a fresh permutation of the training images every epoch, drawn from a generator
    seeded with the run's seed only (so the order does not depend on anything else torch draws)."""

    def __init__(self, n_train: int, batch_size: int, seed: int) -> None:
        self.n_train, self.batch_size = n_train, batch_size
        self.per_epoch = iters_per_epoch(n_train, batch_size)
        self.rng = torch.Generator().manual_seed(seed)
        self.perm = torch.randperm(n_train, generator=self.rng)

    def indices(self, step: int) -> torch.Tensor:
        """The training-image indices of optimizer step `step`; call once per step, in order."""
        if step % self.per_epoch == 0 and step > 0:
            self.perm = torch.randperm(self.n_train, generator=self.rng)
        start = (step % self.per_epoch) * self.batch_size
        return self.perm[start : start + self.batch_size]

    def state(self) -> dict[str, Any]:
        return {"perm": self.perm.clone(), "order_rng": self.rng.get_state()}

    def restore(self, state: dict[str, Any]) -> None:
        self.perm = state["perm"]
        self.rng.set_state(state["order_rng"])


def current_momentum(optimizer: torch.optim.Optimizer) -> float | None:
    """SGD's momentum or Adam's beta1: the value the records show beside the LR."""
    group = optimizer.param_groups[0]
    if "betas" in group:
        return float(group["betas"][0])
    return float(group["momentum"]) if "momentum" in group else None


def set_lr(optimizer: torch.optim.Optimizer, lr: float, momentum: float | None = None) -> None:
    """The policy's LR (and momentum, for policies that cycle it) for every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr
        if momentum is not None:
            if "betas" in group:
                group["betas"] = (momentum, group["betas"][1])
            else:
                group["momentum"] = momentum


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    inputs: Callable[[torch.Tensor], torch.Tensor],
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over a whole split; `inputs` (DataSplit.inputs) turns stored images into
    model inputs one batch at a time."""
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        logits = model(inputs(x[start : start + batch_size]))
        target = y[start : start + batch_size]
        total_loss += nn.functional.cross_entropy(logits, target, reduction="sum").item()
        correct += int((logits.argmax(dim=1) == target).sum())
    model.train(was_training)
    return total_loss / len(x), correct / len(x)


def evaluation_points(
    steps: int, per_epoch: int, cycle_ends: list[int], eval_every: int | None = None
) -> dict[int, list[str]]:
    """{step: reasons}: the steps after which the loop evaluates, and why (eval.csv gets one row per reason, so a
    user filtering on when == "cycle_end" finds every cycle end): every epoch end, every cycle end (the LR back
    at base_lr), every `eval_every` steps when set ("periodic") and the final step."""
    points: dict[int, list[str]] = {}
    for when, at in (
        ("epoch_end", range(per_epoch, steps + 1, per_epoch)),
        ("cycle_end", sorted(e for e in cycle_ends if 0 < e <= steps)),
        ("periodic", range(eval_every, steps + 1, eval_every) if eval_every else ()),
        ("final", [steps]),
    ):
        for step in at:
            points.setdefault(step, []).append(when)
    return points


def on_subset(reasons: list[str], eval_size: int | None) -> bool:
    """Whether an evaluation may use the first `eval_size` validation images: only one that eval_every alone asked
    for. Epoch ends, cycle ends and the final step are measured on the whole split, as without eval_every, so
    final_val_acc and best_val_acc mean what they always meant and a periodic point only adds resolution."""
    return eval_size is not None and reasons == ["periodic"]


def model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def loop_state(
    step: int, order: BatchOrder, result: TrainResult, hooks: Hooks, model: nn.Module, optimizer: torch.optim.Optimizer
) -> dict:
    """Everything the loop needs to continue exactly from `step` (plain data: see runner/training/checkpoint.py)."""
    from runner.training.checkpoint import rng_state

    hooks.metrics.flush()
    hooks.evals.flush()
    return {
        "step": step,
        **order.state(),
        "rng": rng_state(model_device(model)),
        "metrics_rows": hooks.metrics.rows_written,
        "eval_rows": hooks.evals.rows_written,
        "result": dataclasses.asdict(result),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
    }


def _restore(
    state: dict, order: BatchOrder, model: nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[int, TrainResult]:
    from runner.training.checkpoint import set_rng_state

    # Both copy the checkpoint's CPU tensors onto the model's device (the optimizer onto each parameter's).
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    order.restore(state)
    set_rng_state(state["rng"], model_device(model))
    saved = dict(state["result"])
    saved["evals"] = [tuple(e) for e in saved.get("evals", [])]
    saved["status"] = Status.COMPLETED.value  # what the loop reports unless it is stopped again
    return int(state["step"]), TrainResult(**saved)


def train(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    schedule: Schedule,
    data: DataSplit,
    plan: LoopPlan,
    hooks: Hooks,
    resume: dict | None = None,
) -> TrainResult:
    """Train for `plan.steps` optimizer steps with the LR from `schedule` (already resolved to steps).

    With `hooks.save_checkpoint`, the loop hands over its state every `plan.checkpoint_every` steps and at the end;
    with `resume` (such a state) it continues from there and produces the rows an uninterrupted run would have.
    """
    steps, batch_size = plan.steps, plan.batch_size
    order = BatchOrder(len(data.train_x), batch_size, plan.seed)
    per_epoch = order.per_epoch
    # sgdr's cycles grow: ask the policy
    eval_at = evaluation_points(steps, per_epoch, schedule.cycle_ends(steps), plan.eval_every)
    # A fixed subset: the first N of a split stored in shuffled order (runner/data/split.py), a view, not a copy.
    sub_x, sub_y = data.val_x[: plan.eval_size], data.val_y[: plan.eval_size]
    metrics, evals, on_loss = hooks.metrics, hooks.evals, hooks.on_loss
    model.train()
    if resume is not None:
        step, result = _restore(resume, order, model, optimizer)
    else:
        step, result = 0, TrainResult(status=Status.COMPLETED.value, steps=0)
    bar = tqdm(
        total=steps,
        initial=step,
        desc=schedule.name,
        unit="step",
        disable=not hooks.progress,
        mininterval=0.5,
        dynamic_ncols=True,
        leave=False,
    )

    def checkpoint() -> None:
        if hooks.save_checkpoint is not None:
            result.steps = step
            hooks.save_checkpoint(loop_state(step, order, result, hooks, model, optimizer))

    while step < steps:
        if hooks.should_stop is not None and hooks.should_stop():
            result.status = Status.INTERRUPTED.value
            checkpoint()
            break
        idx = order.indices(step)
        tic = time.perf_counter()
        # 1) the policy's LR (and momentum) for this step
        lr = schedule.lr_at(step)
        set_lr(optimizer, lr, schedule.momentum_at(step))
        # 2) one batch, indexed from the in-memory tensors
        loss = nn.functional.cross_entropy(model(data.inputs(data.train_x[idx])), data.train_y[idx])
        loss_value = loss.item()
        if on_loss is not None:
            loss_value = on_loss(step, loss_value)
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
            # The loss as text ("nan", "inf"): strict JSON has no such numbers and would write null.
            result.status, result.diverged = Status.DIVERGED.value, {"step": step, "lr": lr, "loss": str(loss_value)}
            break
        result.images += idx.shape[0]  # not len(idx): Tensor.__len__ is a Python call, 2 us a step
        step += 1
        bar.update(1)
        reasons = eval_at.get(step)
        if reasons:
            subset = on_subset(reasons, plan.eval_size)
            x, y = (sub_x, sub_y) if subset else (data.val_x, data.val_y)
            val_loss, val_acc = evaluate(model, x, y, plan.eval_batch_size, data.inputs)
            for when in reasons:
                evals.append(step, step / per_epoch, schedule.lr_at(step), val_loss, val_acc, when, len(y))
            evals.flush()
            metrics.flush()
            result.evals.append((step, val_acc))
            if not subset:
                result.final_val_acc, result.final_val_loss = val_acc, val_loss
                result.best_val_acc = max(val_acc, result.best_val_acc or 0.0)
            if step == steps and data.test_x is not None:
                # Once, after the last step: the test part is reported, never looked at during training.
                result.test_loss, result.test_acc = evaluate(
                    model, data.test_x, data.test_y, plan.eval_batch_size, data.inputs
                )
            bar.set_postfix(lr=f"{lr:.3g}", loss=f"{loss_value:.3f}", val_acc=f"{val_acc:.3f}", refresh=False)
        if plan.checkpoint_every and step % plan.checkpoint_every == 0 and step < steps:
            checkpoint()
    bar.close()
    result.steps = step
    if result.status == Status.COMPLETED:
        checkpoint()  # the final state: a rerun of a finished run finds it complete
    return result
