"""torch.optim.SGD and torch.optim.Adam, vectorized over the members of a group: one update for all members, each
with its own LR, momentum (or beta1), weight decay and nesterov flag, in the formulas and the order of operations of
torch's own implementations (weight decay added to the gradient, then momentum or the moment estimates).

`active` masks the members that take the step: a diverged member keeps the weights and buffers it had before the
step that diverged, as its separate run does when it stops. Each member's state converts to and from the
`state_dict()` of the torch optimizer its separate run builds (runner/optimizers.py), so its checkpoint.pt is what
a separate run would write and either launcher can resume it.
"""

from __future__ import annotations

from typing import Any

import torch

from runner.optimizers import build_optimizer


def _per_member(values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


def _column(v: torch.Tensor) -> torch.Tensor:
    """A per-member vector (M,) as a column, broadcast against an (M, P) matrix."""
    return v.view(-1, 1)


class StackedOptimizer:
    """What both optimizers share: per-member settings, the conversion to each member's torch state_dict.

    The update runs on every parameter at once, as one (M, P) matrix (members x all their weights): a few dozen
    elementwise operations per step instead of as many per parameter tensor, the same arithmetic element by element.
    The optimizer's state lives in such matrices too; its per-parameter entries are views of them."""

    kind = ""

    def __init__(self, params: dict[str, torch.Tensor], configs: list[Any]) -> None:
        self.params = params
        self.configs = configs
        self.size = len(configs)
        self.spans: dict[str, tuple[int, int]] = {}
        start = 0
        for name, p in params.items():
            self.spans[name] = (start, start + p[0].numel())
            start = self.spans[name][1]
        self.width = start
        self.weight_decay = _per_member([c.weight_decay for c in configs])
        self.lr = torch.zeros(self.size)
        self.lrs = [0.0] * self.size

    def set_lr(self, lrs: list[float], momenta: list[float | None]) -> None:
        """The policies' LR (and, where a policy cycles it, momentum or beta1) of this step, per member; a member
        whose policy gives no momentum keeps its last one, as set_lr in runner/training/loop.py leaves it."""
        self.lr = _per_member(lrs)
        self.lrs = [float(v) for v in lrs]
        for m, value in enumerate(momenta):
            if value is not None:
                self.momenta[m] = float(value)

    @property
    def momentum(self) -> torch.Tensor:
        """Momentum (SGD) or beta1 (Adam) per member; the Python floats stay the record (metrics.csv shows 0.9,
        not its float32 rounding)."""
        return _per_member(self.momenta)

    def current_momentum(self, m: int) -> float:
        return self.momenta[m]

    def member_state_dict(self, m: int) -> dict[str, Any]:
        """Member m's optimizer as the state_dict of the torch optimizer its separate run would hold now."""
        tensors = [torch.nn.Parameter(v[m].detach().clone()) for v in self.params.values()]
        optimizer = build_optimizer(self.configs[m], tensors)
        for group in optimizer.param_groups:
            group["lr"] = self.lrs[m]
            self._set_group_momentum(group, self.momenta[m])
        for i, p in enumerate(tensors):
            state = self._param_state(m, i)
            if state:
                optimizer.state[p] = state
        return optimizer.state_dict()

    def load_member_state_dict(self, m: int, state_dict: dict[str, Any]) -> None:
        group = state_dict["param_groups"][0]
        self.lrs[m] = float(group["lr"])
        self.lr[m] = self.lrs[m]
        self.momenta[m] = float(group["betas"][0] if "betas" in group else group["momentum"])
        for i, state in state_dict["state"].items():
            self._load_param_state(m, int(i), state)

    def flat(self, tensors: Any) -> torch.Tensor:
        """(M, P): each member's tensors, one per parameter in `params` order, laid end to end."""
        return torch.cat([t.reshape(self.size, -1) for t in tensors], dim=1)

    def write(self, flat: torch.Tensor) -> None:
        for name, p in self.params.items():
            start, end = self.spans[name]
            p.copy_(flat[:, start:end].view_as(p))

    def state_matrix(self) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """A zero (M, P) state matrix and its per-parameter views, shaped as the parameters."""
        matrix = torch.zeros(self.size, self.width)
        views = {}
        for name, p in self.params.items():
            start, end = self.spans[name]
            views[name] = matrix[:, start:end].view_as(p)
        return matrix, views

    def _set_group_momentum(self, group: dict, value: float) -> None:
        raise NotImplementedError

    def _param_state(self, m: int, i: int) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def _load_param_state(self, m: int, i: int, state: dict[str, Any]) -> None:
        raise NotImplementedError


class StackedSGD(StackedOptimizer):
    """torch.optim.SGD: g = grad + wd * p; buf = g at the first step, then momentum * buf + (1 - dampening) * g;
    nesterov: g + momentum * buf, else buf; p -= lr * that."""

    kind = "sgd"

    def __init__(self, params: dict[str, torch.Tensor], configs: list[Any]) -> None:
        super().__init__(params, configs)
        self.momenta = [float(c.momentum) for c in configs]
        self.dampening = _per_member([getattr(c, "dampening", 0.0) for c in configs])
        self.nesterov = torch.tensor([bool(c.nesterov) for c in configs])
        self.buffer, self.buffers = self.state_matrix()
        # torch creates a member's momentum buffer at its first step with momentum != 0 (a plain copy of g).
        self.started = torch.zeros(self.size, dtype=torch.bool)

    @torch.no_grad()
    def step(self, active: torch.Tensor) -> None:
        momentum = self.momentum
        uses_momentum = momentum != 0
        first = active & uses_momentum & ~self.started
        p = self.flat(self.params.values())
        lr, mom = _column(self.lr), _column(momentum)
        g = self.flat(q.grad for q in self.params.values()) + _column(self.weight_decay) * p
        buf = self.buffer
        new_buf = torch.where(_column(first), g, mom * buf + _column(1 - self.dampening) * g)
        buf.copy_(torch.where(_column(active & uses_momentum), new_buf, buf))
        direction = torch.where(_column(self.nesterov), g + mom * new_buf, new_buf)
        direction = torch.where(_column(uses_momentum), direction, g)
        self.write(torch.where(_column(active), p - lr * direction, p))
        self.started |= active & uses_momentum

    def _set_group_momentum(self, group: dict, value: float) -> None:
        group["momentum"] = value

    def _param_state(self, m: int, i: int) -> dict[str, torch.Tensor]:
        if not self.started[m]:
            return {}
        return {"momentum_buffer": list(self.buffers.values())[i][m].clone()}

    def _load_param_state(self, m: int, i: int, state: dict[str, Any]) -> None:
        if state.get("momentum_buffer") is not None:
            list(self.buffers.values())[i][m].copy_(state["momentum_buffer"])
            self.started[m] = True


class StackedAdam(StackedOptimizer):
    """torch.optim.Adam (not AMSGrad): g = grad + wd * p; m = m + (1 - beta1) (g - m); v = beta2 v + (1 - beta2) g^2;
    p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps), t counting each member's own steps."""

    kind = "adam"

    def __init__(self, params: dict[str, torch.Tensor], configs: list[Any]) -> None:
        super().__init__(params, configs)
        self.momenta = [float(c.beta1) for c in configs]  # beta1: what metrics.csv records as momentum
        self.beta2 = _per_member([c.beta2 for c in configs])
        self.eps = _per_member([c.eps for c in configs])
        self.exp_avg_matrix, self.exp_avg = self.state_matrix()
        self.exp_avg_sq_matrix, self.exp_avg_sq = self.state_matrix()
        self.steps = torch.zeros(self.size, dtype=torch.float64)

    @torch.no_grad()
    def step(self, active: torch.Tensor) -> None:
        self.steps += active.to(torch.float64)
        t = self.steps.clamp_min(1)
        momentum = self.momentum
        beta1 = torch.tensor(self.momenta, dtype=torch.float64)
        # torch computes the bias corrections in Python floats (double) from the step count: so does this.
        step_size = (torch.tensor(self.lrs, dtype=torch.float64) / (1 - beta1**t)).to(torch.float32)
        correction2_sqrt = (1 - self.beta2.to(torch.float64) ** t).sqrt().to(torch.float32)
        p = self.flat(self.params.values())
        g = self.flat(q.grad for q in self.params.values()) + _column(self.weight_decay) * p
        mask = _column(active)
        m_old, v_old = self.exp_avg_matrix, self.exp_avg_sq_matrix
        m_new = m_old.lerp(g, _column(1 - momentum))
        b2 = _column(self.beta2)
        v_new = v_old * b2 + (1 - b2) * g * g
        denom = v_new.sqrt() / _column(correction2_sqrt) + _column(self.eps)
        m_old.copy_(torch.where(mask, m_new, m_old))
        v_old.copy_(torch.where(mask, v_new, v_old))
        self.write(torch.where(mask, p - _column(step_size) * (m_new / denom), p))

    def _set_group_momentum(self, group: dict, value: float) -> None:
        group["betas"] = (value, group["betas"][1])

    def _param_state(self, m: int, i: int) -> dict[str, torch.Tensor]:
        if self.steps[m] == 0:
            return {}
        name = list(self.params)[i]
        return {
            "step": torch.tensor(float(self.steps[m]), dtype=torch.float32),
            "exp_avg": self.exp_avg[name][m].clone(),
            "exp_avg_sq": self.exp_avg_sq[name][m].clone(),
        }

    def _load_param_state(self, m: int, i: int, state: dict[str, Any]) -> None:
        name = list(self.params)[i]
        self.steps[m] = float(state["step"])
        self.exp_avg[name][m].copy_(state["exp_avg"])
        self.exp_avg_sq[name][m].copy_(state["exp_avg_sq"])


STACKED = {"sgd": StackedSGD, "adam": StackedAdam}


def stacked_optimizer(params: dict[str, torch.Tensor], configs: list[Any]) -> StackedOptimizer:
    return STACKED[configs[0].name](params, configs)
