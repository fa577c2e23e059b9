"""Model registry: each builder takes its config and the data's input shape and class count."""
from __future__ import annotations

from typing import Any, Callable

from torch import nn


def small_cnn(cfg: Any, input_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    """Conv-ReLU-MaxPool blocks (one per entry of model.channels), then a linear head.

    A block pools only while the feature map is at least 2x2, so the same config fits 8x8 digits and 32x32 CIFAR.
    """
    channels, height, width = input_shape
    layers: list[nn.Module] = []
    for out_channels in cfg.channels:
        layers += [nn.Conv2d(channels, out_channels, kernel_size=3, padding=1), nn.ReLU()]
        if height >= 2 and width >= 2:
            layers.append(nn.MaxPool2d(2))
            height, width = height // 2, width // 2
        channels = out_channels
    layers.append(nn.Flatten())
    if cfg.dropout > 0:
        layers.append(nn.Dropout(cfg.dropout))
    layers.append(nn.Linear(channels * height * width, num_classes))
    return nn.Sequential(*layers)


BUILDERS: dict[str, Callable[..., nn.Module]] = {"small_cnn": small_cnn}


def build_model(cfg: Any, input_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    return BUILDERS[cfg.name](cfg, input_shape, num_classes)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
