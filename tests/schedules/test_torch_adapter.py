"""PolicyLR, the torch LRScheduler adapter: every policy, momentum, and a state_dict that survives
torch.save / torch.load(weights_only=True) mid-cycle and continues the same sequence.

    pytest tests/schedules/test_torch_adapter.py -q
"""

from __future__ import annotations

import io
import warnings

import pytest
import torch

from runner.schedules import SCHEDULES, PolicyLR, build_schedule, scale_fns

CLR = {"base_lr": 0.01, "max_lr": 0.1, "step_size": 7, "step_size_down": 11}
POLICIES = {  # one config per registered policy, small enough that a few dozen steps cross cycles and drops
    "constant": {"lr": 0.05},
    "triangular": {**CLR, "cycle_momentum": True},
    "triangular2": {**CLR, "cycle_momentum": True},
    "exp_range": {**CLR, "gamma": 0.99},
    "exp_range_bounds": {**CLR, "gamma": 0.99, "cycle_momentum": True},
    "clr": {**CLR, "scale_fn": "exp_gamma", "gamma": 0.8, "cycle_momentum": True},
    "one_cycle": {"max_lr": 0.1, "three_phase": True, "anneal_strategy": "linear"},  # total_steps: the run
    "sgdr": {"max_lr": 0.1, "T_0": None, "T_0_epochs": 0.5, "T_mult": 2},  # T_0 in epochs: 5 steps
    "linear_decay": {"max_lr": 0.1, "base_lr": 0.01},  # over the run
    "fixed": {"lr": 0.1, "drop": 0.5, "drop_at_epochs": [1.0, 2.5]},
}
ITERS_PER_EPOCH, TOTAL = 10, 60


def test_every_registered_policy_is_covered():
    assert set(POLICIES) == set(SCHEDULES)


def make_optimizer(kind: str = "sgd") -> torch.optim.Optimizer:
    params = [torch.nn.Parameter(torch.zeros(2))]
    return torch.optim.SGD(params, lr=1.0, momentum=0.9) if kind == "sgd" else torch.optim.Adam(params, lr=1.0)


def momentum_of(opt: torch.optim.Optimizer) -> float:
    group = opt.param_groups[0]
    return group["betas"][0] if "betas" in group else group["momentum"]


def run(opt, sched, steps: int) -> list[float]:
    """lr, momentum, lr, momentum, ... used by each of `steps` optimizer steps (flat, for pytest.approx)."""
    seen = []
    for _ in range(steps):
        seen += [opt.param_groups[0]["lr"], momentum_of(opt)]
        opt.step()
        sched.step()
    return seen


def scheduler(name: str, opt) -> PolicyLR:
    policy = build_schedule({"name": name, **POLICIES[name]})
    return PolicyLR(opt, policy, iters_per_epoch=ITERS_PER_EPOCH, total_steps=TOTAL)


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("name", sorted(POLICIES))
def test_adapter_follows_the_policy(name, kind):
    opt = make_optimizer(kind)
    sched = scheduler(name, opt)
    policy = sched.policy  # resolved: epochs and the run's length in steps
    fixed_momentum = momentum_of(opt)
    seen = run(opt, sched, TOTAL)
    for it, (lr, momentum) in enumerate(zip(seen[::2], seen[1::2])):
        assert lr == pytest.approx(policy.lr_at(it), abs=1e-12)
        want = policy.momentum_at(it)
        assert momentum == pytest.approx(fixed_momentum if want is None else want, abs=1e-12)


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("name", sorted(POLICIES))
def test_state_dict_mid_cycle_continues_the_sequence(name, kind):
    opt = make_optimizer(kind)
    sched = scheduler(name, opt)
    expected = run(opt, sched, TOTAL)

    opt = make_optimizer(kind)
    sched = scheduler(name, opt)
    run(opt, sched, 23)  # mid-cycle, mid-phase, between drops
    buffer = io.BytesIO()
    torch.save({"scheduler": sched.state_dict(), "optimizer": opt.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)

    fresh_opt = make_optimizer(kind)
    fresh_opt.load_state_dict(saved["optimizer"])
    fresh = PolicyLR(fresh_opt, build_schedule({"name": "constant", "lr": 0.3}))  # any policy: the state wins
    fresh.load_state_dict(saved["scheduler"])
    assert fresh.policy == sched.policy
    assert fresh.get_last_lr() == pytest.approx([expected[2 * 23]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "scheduler.step() before optimizer.step()" after a load
        assert run(fresh_opt, fresh, TOTAL - 23) == pytest.approx(expected[2 * 23 :], abs=1e-12)


def test_user_scale_fn_survives_the_round_trip():
    try:

        @scale_fns.register_scale_fn("test_thirds")
        def thirds(x, gamma):
            return 1.0 / 3.0

        opt = make_optimizer()
        sched = PolicyLR(opt, build_schedule({"name": "clr", **CLR, "scale_fn": "test_thirds"}))
        run(opt, sched, 5)
        buffer = io.BytesIO()
        torch.save(sched.state_dict(), buffer)
        buffer.seek(0)
        state = torch.load(buffer, weights_only=True)
        assert state["policy"]["scale_fn"] == "test_thirds"  # a name, never a function
        fresh_opt = make_optimizer()
        fresh = PolicyLR(fresh_opt, build_schedule({"name": "constant"}))
        fresh.load_state_dict(state)
        assert fresh_opt.param_groups[0]["lr"] == pytest.approx(0.01 + 0.09 * (5 / 7) / 3)
    finally:
        scale_fns.SCALE_FNS.remove("test_thirds")


def test_adapter_matches_torch_cycliclr_with_momentum():
    opt = make_optimizer()
    ours = run(opt, PolicyLR(opt, build_schedule({"name": "triangular2", **CLR, "cycle_momentum": True})), 80)
    opt = make_optimizer()
    theirs = run(
        opt,
        torch.optim.lr_scheduler.CyclicLR(
            opt, base_lr=0.01, max_lr=0.1, step_size_up=7, step_size_down=11, mode="triangular2"
        ),
        80,
    )
    assert ours == pytest.approx(theirs, abs=1e-9)


def test_run_length_is_required_only_where_needed():
    with pytest.raises(ValueError, match="total_steps"):
        PolicyLR(make_optimizer(), build_schedule({"name": "one_cycle"}))
    with pytest.raises(ValueError, match="iters_per_epoch"):
        PolicyLR(
            make_optimizer(),
            build_schedule(
                {"name": "triangular", "base_lr": 0.01, "max_lr": 0.1, "step_size": None, "step_size_epochs": 2}
            ),
        )
    PolicyLR(make_optimizer(), build_schedule({"name": "triangular", **CLR}))


def test_momentum_cycling_needs_an_optimizer_with_momentum():
    opt = torch.optim.Adagrad([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="cycle_momentum=false"):
        PolicyLR(opt, build_schedule({"name": "one_cycle", "total_steps": 100}))


def test_groups_with_one_lr_all_follow_the_policy_and_groups_with_different_lrs_are_refused():
    weights, biases = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(1))
    policy = build_schedule({"name": "triangular", "step_size": 4})
    # the usual split: no weight decay on biases, one LR
    opt = torch.optim.SGD([{"params": [weights], "weight_decay": 5e-4}, {"params": [biases]}], lr=0.1)
    scheduler = PolicyLR(opt, policy)
    for _ in range(3):
        opt.step()
        scheduler.step()
    assert [g["lr"] for g in opt.param_groups] == [policy.lr_at(3)] * 2
    opt = torch.optim.SGD([{"params": [weights]}, {"params": [biases], "lr": 0.01}], lr=0.1)
    with pytest.raises(ValueError, match="parameter group.*differ"):
        PolicyLR(opt, policy)
