"""The vectorized optimizers against torch's own: every member's update, step for step, with its own LR, momentum
(cycled, as one_cycle does), nesterov, weight decay and Adam betas; and each member's state as torch's state_dict."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from runner.batched.optim import stacked_optimizer
from runner.batched.stacked import StackedModel, member_losses
from runner.optimizers import AdamConfig, SGDConfig, build_optimizer
from runner.training.loop import set_lr

CASES = {
    "sgd": [
        SGDConfig(),
        SGDConfig(momentum=0.5, nesterov=True, weight_decay=0.01),
        SGDConfig(momentum=0.0, weight_decay=0.0),
    ],
    "adam": [AdamConfig(), AdamConfig(beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=1e-3)],
}


def tiny_cnn(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 10))


def policy(step: int, member: int, kind: str) -> tuple[float, float | None]:
    """A different LR per member and step; member 1's momentum cycles (None: the policy leaves it alone)."""
    lr = (0.02 if kind == "sgd" else 2e-4) * (1 + step % 3) * (member + 1)
    return lr, (0.85 if step % 2 else 0.95) if member == 1 else None


@pytest.mark.parametrize("kind", list(CASES))
def test_every_member_steps_as_its_own_torch_optimizer(kind):
    torch.set_num_threads(1)
    configs = CASES[kind]
    models = [tiny_cnn(seed) for seed in range(len(configs))]
    separate = [copy.deepcopy(m) for m in models]
    torch_optimizers = [build_optimizer(c, m.parameters()) for c, m in zip(configs, separate)]
    stacked = StackedModel(models)
    optimizer = stacked_optimizer(stacked.params, configs)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(len(configs), 32, 1, 8, 8, generator=gen)
    y = torch.randint(0, 10, (len(configs), 32), generator=gen)
    everyone = torch.ones(len(configs), dtype=torch.bool)
    for step in range(40):
        settings = [policy(step, m, kind) for m in range(len(configs))]
        optimizer.set_lr([lr for lr, _ in settings], [mom for _, mom in settings])
        losses = member_losses(stacked.forward(x), y)
        stacked.zero_grad()
        losses.sum().backward()
        optimizer.step(everyone)
        for m, (model, opt) in enumerate(zip(separate, torch_optimizers)):
            set_lr(opt, *settings[m])
            loss = nn.functional.cross_entropy(model(x[m]), y[m])
            opt.zero_grad()
            loss.backward()
            opt.step()
            assert losses[m].item() == pytest.approx(loss.item(), rel=1e-5), (step, m)
            assert optimizer.current_momentum(m) == pytest.approx(
                opt.param_groups[0]["betas"][0] if kind == "adam" else opt.param_groups[0]["momentum"]
            )
    for m, (model, opt) in enumerate(zip(separate, torch_optimizers)):
        weights = stacked.member_state(m)
        assert weights.keys() == model.state_dict().keys()
        assert all(torch.allclose(weights[k], v, rtol=1e-4, atol=1e-6) for k, v in model.state_dict().items())
        ours, theirs = optimizer.member_state_dict(m), opt.state_dict()
        assert ours["param_groups"][0].keys() == theirs["param_groups"][0].keys()
        assert ours["state"].keys() == theirs["state"].keys()
        for i, state in theirs["state"].items():
            for key, value in state.items():
                assert torch.allclose(ours["state"][i][key], value, rtol=1e-4, atol=1e-6), (m, i, key)


@pytest.mark.parametrize("kind", list(CASES))
def test_a_member_state_dict_loads_back_exactly(kind):
    configs = CASES[kind]
    stacked = StackedModel([tiny_cnn(seed) for seed in range(len(configs))])
    optimizer = stacked_optimizer(stacked.params, configs)
    x, y = torch.randn(len(configs), 8, 1, 8, 8), torch.randint(0, 10, (len(configs), 8))
    for _ in range(3):
        optimizer.set_lr([0.01] * len(configs), [None] * len(configs))
        stacked.zero_grad()
        member_losses(stacked.forward(x), y).sum().backward()
        optimizer.step(torch.ones(len(configs), dtype=torch.bool))
    fresh = StackedModel([tiny_cnn(seed + 10) for seed in range(len(configs))])
    restored = stacked_optimizer(fresh.params, configs)
    for m in range(len(configs)):
        fresh.load_member(m, stacked.member_state(m))
        restored.load_member_state_dict(m, optimizer.member_state_dict(m))
    for m in range(len(configs)):
        a, b = optimizer.member_state_dict(m), restored.member_state_dict(m)
        assert a["param_groups"] == b["param_groups"]
        assert all(torch.equal(a["state"][i][k], b["state"][i][k]) for i in a["state"] for k in a["state"][i])
        assert all(torch.equal(v, fresh.member_state(m)[k]) for k, v in stacked.member_state(m).items())


def test_a_frozen_member_keeps_its_weights_and_buffers_while_the_others_step():
    configs = CASES["sgd"][:2]
    stacked = StackedModel([tiny_cnn(0), tiny_cnn(1)])
    optimizer = stacked_optimizer(stacked.params, configs)
    x, y = torch.randn(2, 8, 1, 8, 8), torch.randint(0, 10, (2, 8))
    optimizer.set_lr([0.1, 0.1], [None, None])
    stacked.zero_grad()
    member_losses(stacked.forward(x), y).sum().backward()
    optimizer.step(torch.ones(2, dtype=torch.bool))
    before = [stacked.member_state(m) for m in range(2)]
    buffers = optimizer.member_state_dict(0)["state"]
    stacked.zero_grad()
    member_losses(stacked.forward(x), y).sum().backward()
    for p in stacked.params.values():
        p.grad[0] = float("nan")  # member 0 diverged: its gradient is garbage
    optimizer.step(torch.tensor([False, True]))
    after = optimizer.member_state_dict(0)["state"]
    assert all(torch.equal(v, stacked.member_state(0)[k]) for k, v in before[0].items())
    assert all(torch.equal(buffers[i]["momentum_buffer"], after[i]["momentum_buffer"]) for i in buffers)
    assert not all(torch.equal(v, stacked.member_state(1)[k]) for k, v in before[1].items())
    assert all(torch.isfinite(v).all() for v in stacked.member_state(1).values())
