"""A torch LRScheduler that follows any clr-lab policy, for training loops outside the runner.

    from runner.lr_scheduler import PolicyLR
    from runner.schedules import build_schedule

    policy = build_schedule({"name": "triangular2", "base_lr": 1e-3, "max_lr": 6e-3, "step_size": 2000})
    scheduler = PolicyLR(optimizer, policy)
    for batch in data:
        loss.backward(); optimizer.step(); scheduler.step()   # once per optimizer step, like torch's CyclicLR

After construction the optimizer holds lr(0) = base_lr; after k calls to step() it holds lr(k). state_dict() holds
plain data only (the step and the policy's fields), so it round-trips through torch.save and
torch.load(weights_only=True) and a fresh scheduler continues the same sequence.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler

from runner.schedules import Schedule, build_schedule


def policy_state(policy: Schedule) -> dict[str, Any]:
    return {f.name: getattr(policy, f.name) for f in dataclasses.fields(policy)}


class PolicyLR(LRScheduler):
    """Sets every parameter group's LR to policy.lr_at(step) at each step()."""

    def __init__(self, optimizer: torch.optim.Optimizer, policy: Schedule, last_epoch: int = -1) -> None:
        if getattr(policy, "step_size", 0) is None:
            raise ValueError("policy gives step_size_epochs: call policy.resolve(iters_per_epoch) first")
        self.policy = policy
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [self.policy.lr_at(self.last_epoch)] * len(self.optimizer.param_groups)

    def state_dict(self) -> dict[str, Any]:
        return {"last_epoch": self.last_epoch, "policy": policy_state(self.policy),
                "_last_lr": list(getattr(self, "_last_lr", []))}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.policy = build_schedule(dict(state_dict["policy"]))
        self.last_epoch = int(state_dict["last_epoch"])
        # Put the optimizer where the saved scheduler had it, so the next step() continues the sequence.
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]
