"""The optimizers, chosen with `optimizer=NAME`: each one's config (optimizer.* keys) beside its builder.

The LR never comes from here: every optimizer starts at lr 0 and the schedule sets the LR (and, for policies that
cycle it, the momentum) before every step. Builders import torch themselves, so checking a config never loads it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from runner.errors import ConfigError
from runner.registry import Registry
from runner.typed import require_in

OPTIMIZERS = Registry("optimizer")


def build_optimizer(cfg: Any, params: Any) -> Any:
    """The torch optimizer that `cfg` (a validated optimizer config) names, over `params`."""
    return OPTIMIZERS.entry(cfg.name).build(cfg, params)


@dataclass
class SGDConfig:
    name: str = "sgd"
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4

    def check(self, key: str) -> None:
        require_in(f"{key}.momentum", self.momentum, 0.0, 1.0, high_open=True)
        require_in(f"{key}.weight_decay", self.weight_decay, 0.0, math.inf)
        if self.nesterov and self.momentum == 0:
            raise ConfigError(f"{key}.nesterov=true: needs {key}.momentum > 0")


@OPTIMIZERS.register("sgd", config=SGDConfig)
def sgd(cfg: SGDConfig, params: Any) -> Any:
    import torch

    return torch.optim.SGD(params, lr=0.0, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=cfg.weight_decay)


@dataclass
class AdamConfig:
    name: str = "adam"
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0

    def check(self, key: str) -> None:
        require_in(f"{key}.beta1", self.beta1, 0.0, 1.0, high_open=True)
        require_in(f"{key}.beta2", self.beta2, 0.0, 1.0, high_open=True)
        require_in(f"{key}.eps", self.eps, 0.0, 1.0, low_open=True)
        require_in(f"{key}.weight_decay", self.weight_decay, 0.0, math.inf)


@OPTIMIZERS.register("adam", config=AdamConfig)
def adam(cfg: AdamConfig, params: Any) -> Any:
    import torch

    return torch.optim.Adam(params, lr=0.0, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, weight_decay=cfg.weight_decay)
