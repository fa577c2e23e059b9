"""Members of a group as one model: their parameters stacked along a leading member axis and one forward pass for
all of them (torch.func: stack_module_state, functional_call, vmap).

Each member's weights come from its own nn.Module, built exactly as a separate run builds it, so member m starts
from the weights its separate run starts from; `member_state(m)` gives back a plain state_dict of member m in the
layout `model.state_dict()` has, which is what its checkpoint.pt holds.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap


class StackedModel:
    """M copies of one architecture with their own weights: params[name] has shape (M, *shape)."""

    def __init__(self, models: list[nn.Module]) -> None:
        self.size = len(models)
        params, buffers = stack_module_state(models)
        self.params: dict[str, torch.Tensor] = {k: v.detach().requires_grad_(True) for k, v in params.items()}
        self.buffers: dict[str, torch.Tensor] = buffers
        # A skeleton on the meta device: functional_call only needs the module structure, never its own tensors.
        self.base = copy.deepcopy(models[0]).to("meta")
        self.base.train()

        def one(p: dict, b: dict, x: torch.Tensor) -> torch.Tensor:
            return functional_call(self.base, (p, b), (x,))

        self._each_own_input = vmap(one, in_dims=(0, 0, 0))
        self._each_same_input = vmap(one, in_dims=(0, 0, None))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (M, B, K) for inputs (M, B, C, H, W): every member its own batch."""
        return self._each_own_input(self.params, self.buffers, x)

    def forward_shared(self, x: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (m, B, K) of the given members (all when None) for one batch (B, C, H, W) they all see."""
        if members is None:
            return self._each_same_input(self.params, self.buffers, x)
        params = {k: v[members] for k, v in self.params.items()}
        buffers = {k: v[members] for k, v in self.buffers.items()}
        return self._each_same_input(params, buffers, x)

    def member_state(self, m: int) -> dict[str, torch.Tensor]:
        """Member m's weights as `model.state_dict()` of its own model would give them."""
        state = {k: v[m].detach().clone() for k, v in self.params.items()}
        state.update({k: v[m].clone() for k, v in self.buffers.items()})
        return {k: state[k] for k in self.base.state_dict()}

    def load_member(self, m: int, state: dict[str, Any]) -> None:
        with torch.no_grad():
            for k, v in state.items():
                (self.params if k in self.params else self.buffers)[k][m].copy_(v)

    def grads(self) -> list[torch.Tensor | None]:
        return [p.grad for p in self.params.values()]

    def zero_grad(self) -> None:
        for p in self.params.values():
            p.grad = None


def member_losses(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Each member's mean cross-entropy over its own batch: (M,) from logits (M, B, K) and targets (M, B)."""
    m, b, k = logits.shape
    per_image = nn.functional.cross_entropy(logits.reshape(m * b, k), targets.reshape(m * b), reduction="none")
    return per_image.view(m, b).mean(dim=1)
