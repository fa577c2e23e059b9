"""A torch LRScheduler that follows any clr-lab policy (and its momentum), for training loops outside the runner.

    from runner.schedules import PolicyLR, build_schedule

    policy = build_schedule({"name": "one_cycle", "max_lr": 0.1})          # total_steps: null, the run's length
    scheduler = PolicyLR(optimizer, policy, iters_per_epoch=len(loader), total_steps=epochs * len(loader))
    for batch in data:
        loss.backward(); optimizer.step(); scheduler.step()   # once per optimizer step, like torch's CyclicLR

After construction the optimizer holds lr(0); after k calls to step() it holds lr(k), and, for a policy that
cycles momentum, SGD's momentum or Adam's betas[0] = momentum_at(k). iters_per_epoch and total_steps are needed
only by policies with lengths in epochs or tied to the run (one_cycle's total_steps, linear_decay's default).

state_dict() holds plain data only (the step and the resolved policy's fields, a scale function by its name), so it
round-trips through torch.save and torch.load(weights_only=True) and a fresh scheduler continues the same sequence.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler

from runner.errors import ConfigError
from runner.schedules.base import Schedule, build_schedule


def policy_state(policy: Schedule) -> dict[str, Any]:
    """The policy's config keys and values: str, int, float, bool, None and lists of numbers."""
    return {f.name: getattr(policy, f.name) for f in dataclasses.fields(policy)}


def set_momentum(optimizer: torch.optim.Optimizer, momentum: float | None) -> None:
    """SGD's momentum or Adam's beta1 in every group; None leaves the optimizer's own value."""
    if momentum is None:
        return
    for group in optimizer.param_groups:
        if "betas" in group:
            group["betas"] = (momentum, *group["betas"][1:])
        else:
            group["momentum"] = momentum


class PolicyLR(LRScheduler):
    """Sets every parameter group's LR to policy.lr_at(step) (and momentum to momentum_at(step)) at each step().

    Groups may differ in anything but their LR (weight decay off for biases, say); groups built with different LRs
    are refused, since one policy LR for all would silently erase the difference.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        policy: Schedule,
        last_epoch: int = -1,
        *,
        iters_per_epoch: int | None = None,
        total_steps: int | None = None,
    ) -> None:
        try:
            self.policy = policy.resolve(iters_per_epoch, total_steps)
            self.policy.lr_at(0)
        except ConfigError:
            raise
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"{policy.name}: lengths in epochs or tied to the run need "
                f"PolicyLR(..., iters_per_epoch=..., total_steps=...) ({exc})"
            ) from None
        lrs = sorted({group["lr"] for group in optimizer.param_groups})
        if len(lrs) > 1:
            # torch's schedulers scale each group's own LR; a policy gives one LR, which would erase the difference.
            raise ValueError(
                f"PolicyLR sets one LR for every parameter group, but the groups' LRs differ "
                f"({', '.join(map(str, lrs))}); give every group the same lr, or use one optimizer and PolicyLR per LR"
            )
        if self.policy.momentum_at(0) is not None and not all(
            "momentum" in g or "betas" in g for g in optimizer.param_groups
        ):
            raise ValueError(
                f"{policy.name} cycles momentum: the optimizer needs momentum (SGD) or betas (Adam); "
                f"set schedule.cycle_momentum=false"
            )
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        # Momentum changes with the LR, as in torch's CyclicLR and OneCycleLR.
        set_momentum(self.optimizer, self.policy.momentum_at(self.last_epoch))
        return [self.policy.lr_at(self.last_epoch)] * len(self.optimizer.param_groups)

    def state_dict(self) -> dict[str, Any]:
        return {
            "last_epoch": self.last_epoch,
            "policy": policy_state(self.policy),
            "_last_lr": [float(lr) for lr in getattr(self, "_last_lr", [])],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.policy = build_schedule(dict(state_dict["policy"]))
        self.last_epoch = int(state_dict["last_epoch"])
        # Put the optimizer where the saved scheduler had it, so the next step() continues the sequence.
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]
