"""Learning-rate (and momentum) policies as pure functions of the optimizer step, chosen with `schedule=NAME`.

    from runner.schedules import build_schedule, PolicyLR
    policy = build_schedule({"name": "triangular2", "base_lr": 0.001, "max_lr": 0.006, "step_size": 20})
    policy.lr_at(20)                               # 0.006: the LR of optimizer step 20
    scheduler = PolicyLR(optimizer, policy)        # the same policy as a torch LRScheduler

    base.py          the Schedule shape, the SCHEDULES registry, the CLR formulas, build_schedule
    cyclical.py      triangular, triangular2, exp_range, exp_range_bounds, clr
    baselines.py     constant, one_cycle, sgdr, linear_decay, fixed
    scale_fns.py     scale functions by name (clr's scale_fn), with entry points for your own
    bounds_file.py   schedule.bounds_from: bounds from a range test's range_test.json
    torch_adapter.py PolicyLR, a torch LRScheduler over any policy (the only module here that imports torch)

Importing this package registers every policy; it imports neither torch nor Hydra (PolicyLR is loaded on first use).
"""

from __future__ import annotations

from typing import Any

from runner.schedules import baselines, cyclical  # noqa: F401  (each registers its policies in SCHEDULES)
from runner.schedules.base import SCHEDULES, Schedule, build_schedule, cycle_of, triangle

__all__ = ["SCHEDULES", "PolicyLR", "Schedule", "build_schedule", "cycle_of", "triangle"]


def __getattr__(name: str) -> Any:
    # PolicyLR needs torch; the policies themselves do not, so it is imported only when asked for.
    if name == "PolicyLR":
        from runner.schedules.torch_adapter import PolicyLR

        return PolicyLR
    raise AttributeError(f"module 'runner.schedules' has no attribute {name!r}")
