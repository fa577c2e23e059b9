"""The training loop of a group: every member steps together through one vectorized model.

Per step, as runner/training/loop.py does for one run: 1) each member's LR (and momentum) from its own policy,
2) each member's own batch (its own BatchOrder, the permutations its separate run draws), one forward and one
backward for all of them, 3) one metrics row per member. Each member is evaluated at its own evaluation points
(epoch ends, its policy's cycle ends, eval_every, the end) and measures the test part once after its last step.

A member whose loss is NaN or infinite is frozen: its row is written, it is recorded as diverged, and from then on
the update leaves its weights and buffers alone while the others go on. SIGTERM or SIGINT checkpoints every member
that is still training and stops the group (status interrupted); the same command resumes it.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from tqdm import tqdm

from runner.batched.members import Member
from runner.batched.optim import stacked_optimizer
from runner.batched.stacked import StackedModel, member_losses
from runner.status import Status


def build_members(members: list[Member], data: Any) -> StackedModel:
    """Each member's model exactly as runner/training/build.py builds it for its seed (seed, then build), stacked;
    a resumed member's weights from its checkpoint."""
    from runner.models import build_model
    from runner.training.build import seed_everything
    from runner.training.checkpoint import rng_state

    models = []
    for member in members:
        seed_everything(member.cfg.seed)
        model = build_model(member.cfg.model, data.input_shape, data.num_classes)
        # A separate run draws nothing more from these generators after building its model (its data order has
        # its own generator), so this is the RNG state its checkpoints hold.
        member.rng = member.resume["rng"] if member.resume else rng_state()
        if member.resume:
            model.load_state_dict(member.resume["model"])
        models.append(model)
    return StackedModel(models)


@torch.no_grad()
def evaluate_members(
    stacked: StackedModel, members: list[int], x: torch.Tensor, y: torch.Tensor, batch_size: int, inputs: Any
) -> list[tuple[float, float]]:
    """(mean cross-entropy, accuracy) over a split for each of the given members: runner/training/loop.py's
    evaluate, for several members at once."""
    everyone = len(members) == stacked.size
    chosen = None if everyone else torch.tensor(members)
    total = [0.0] * len(members)
    correct = [0] * len(members)
    for start in range(0, len(x), batch_size):
        logits = stacked.forward_shared(inputs(x[start : start + batch_size]), chosen)
        target = y[start : start + batch_size]
        m, b, k = logits.shape
        losses = torch.nn.functional.cross_entropy(logits.reshape(m * b, k), target.repeat(m), reduction="none").view(
            m, b
        )
        hits = (logits.argmax(dim=2) == target).sum(dim=1)
        for i, (loss_sum, hit) in enumerate(zip(losses.sum(dim=1).tolist(), hits.tolist())):
            total[i] += loss_sum
            correct[i] += int(hit)
    return [(t / len(x), c / len(x)) for t, c in zip(total, correct)]


def train_group(members: list[Member], data: Any, stop: Any, progress: bool = False) -> int | None:
    """Train every member from their common start step to their common last step; returns the signal that stopped
    the group, or None. Each member's records, checkpoints and result are its own."""
    from runner.training.loop import on_subset

    stacked = build_members(members, data)
    optimizer = stacked_optimizer(stacked.params, [m.cfg.optimizer for m in members])
    for i, member in enumerate(members):
        if member.resume:
            optimizer.load_member_state_dict(i, member.resume["optimizer"])
    size, steps = len(members), members[0].steps
    trainer = members[0].cfg.trainer
    active = torch.ones(size, dtype=torch.bool)
    step = members[0].start_step
    stacked.base.train()
    bar = tqdm(total=steps, initial=step, desc=f"batched x{size}", unit="step", disable=not progress, leave=False)

    def checkpoint(i: int, at: int) -> None:
        member = members[i]
        state = member.checkpoint_state(at, stacked.member_state(i), optimizer.member_state_dict(i))
        member.save_checkpoint(state)

    while step < steps and bool(active.any()):
        if stop() is not None:
            for i in range(size):
                if active[i]:
                    members[i].result.status = Status.INTERRUPTED.value
                    checkpoint(i, step)
            break
        idx = torch.stack([m.order.indices(step) for m in members])
        tic = time.perf_counter()
        # 1) every member's LR (and momentum) for this step
        lrs = [m.schedule.lr_at(step) for m in members]
        optimizer.set_lr(lrs, [m.schedule.momentum_at(step) for m in members])
        # 2) every member's own batch, one forward and one backward
        losses = member_losses(stacked.forward(data.inputs(data.train_x[idx])), data.train_y[idx])
        values = losses.tolist()
        stepping = active.clone()
        for i, member in enumerate(members):
            if active[i] and member.on_loss is not None:
                values[i] = member.on_loss(step, values[i])
            if active[i] and not math.isfinite(values[i]):
                stepping[i] = False
        stacked.zero_grad()
        if bool(stepping.any()):
            # Only the members that step feed the backward pass: a frozen member's NaN never reaches the others.
            losses[stepping].sum().backward()
            optimizer.step(stepping)
        elapsed = time.perf_counter() - tic
        # 3) one metrics row per member still training (a diverged step's too: it says where it blew up)
        for i, member in enumerate(members):
            if not active[i]:
                continue
            member.metrics.append(
                step,
                step // member.per_epoch,
                member.schedule.cycle(step),
                lrs[i],
                optimizer.current_momentum(i),
                values[i],
            )
            if not stepping[i]:
                member.result.status = Status.DIVERGED.value
                member.result.diverged = {"step": step, "lr": lrs[i], "loss": values[i]}
                member.result.steps = step
                member.metrics.flush()
                continue
            member.result.train_s += elapsed
            member.result.images += idx.shape[1]
        active &= stepping
        step += 1
        bar.update(1)
        for i in range(size):
            if active[i]:
                members[i].result.steps = step
        evaluate_due(members, stacked, active, step, data, trainer.eval_batch_size, on_subset)
        for i, member in enumerate(members):
            every = member.cfg.trainer.checkpoint_every
            if active[i] and every and step % every == 0 and step < steps:
                checkpoint(i, step)
    bar.close()
    for i, member in enumerate(members):
        if active[i] and member.result.status == Status.COMPLETED:
            checkpoint(i, member.result.steps)  # the final state: a rerun finds it complete
    return stop()


def evaluate_due(
    members: list[Member], stacked: StackedModel, active: torch.Tensor, step: int, data: Any, batch: int, on_subset: Any
) -> None:
    """Evaluate each active member for which `step` is an evaluation point, the whole split and the eval_size subsets
    each in one vectorized pass; then the test part for members at their last step."""
    due: dict[int | None, list[int]] = {}
    for i, member in enumerate(members):
        reasons = member.eval_at.get(step)
        if active[i] and reasons:
            size = member.cfg.trainer.eval_size if on_subset(reasons, member.cfg.trainer.eval_size) else None
            due.setdefault(size, []).append(i)
    for size, chosen in due.items():
        x, y = (data.val_x, data.val_y) if size is None else (data.val_x[:size], data.val_y[:size])
        for i, (val_loss, val_acc) in zip(chosen, evaluate_members(stacked, chosen, x, y, batch, data.inputs)):
            member = members[i]
            for when in member.eval_at[step]:
                member.evals.append(
                    step, step / member.per_epoch, member.schedule.lr_at(step), val_loss, val_acc, when, len(y)
                )
            member.evals.flush()
            member.metrics.flush()
            member.result.evals.append((step, val_acc))
            if size is None:
                member.result.final_val_acc, member.result.final_val_loss = val_acc, val_loss
                member.result.best_val_acc = max(val_acc, member.result.best_val_acc or 0.0)
    finished = [i for i, m in enumerate(members) if active[i] and step == m.steps]
    if finished and data.test_x is not None:
        results = evaluate_members(stacked, finished, data.test_x, data.test_y, batch, data.inputs)
        for i, (test_loss, test_acc) in zip(finished, results):
            members[i].result.test_loss, members[i].result.test_acc = test_loss, test_acc
