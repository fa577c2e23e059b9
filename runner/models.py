"""The networks, chosen with `model=NAME`: each one's config (model.* keys, range checks) beside its builder.

    small_cnn    Conv3x3-ReLU-MaxPool blocks and a linear head (the quick default on digits)
    lenet5       LeCun et al. 1998: conv5x5 6 - pool - conv5x5 16 - pool - fc120 - fc84 - classes
    cifar_quick  Caffe's cifar10_quick, the net of Smith's CIFAR-10 CLR experiments
    mlp          a fully connected net; with four 64-unit sigmoid layers (conf/model/sigmoid_mlp.yaml) it sits on a
                 loss plateau at the start of training, the setup of experiments/plateau_escape

Every builder takes (config, input_shape, num_classes) and adapts to the data: channels, image size (layer sizes
come from a dry run, not from arithmetic that only holds for 32x32) and the number of classes. Builders import torch
themselves, so checking a config never loads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runner.errors import ConfigError
from runner.registry import Registry
from runner.typed import require_choice, require_in

MODELS = Registry("model")
# Weights, their gradients and SGD's momentum (or Adam's two moments) are float32 copies of every parameter: at 50
# million parameters that is 0.6 to 0.8 GB before any activation. Widths are checked against this before building.
MAX_PARAMETERS = 50_000_000
# The largest input any dataset here gives (CIFAR-10's 3x32x32) and its class count: a config is checked against
# them, so a width refused here is refused whatever the data.
LARGEST_INPUT = (3, 32, 32)
CLASSES = 10


def refuse_too_many_parameters(key: str, widths: list[int], count: int) -> None:
    if count > MAX_PARAMETERS:
        raise ConfigError(
            f"{key}={widths!r}: about {count:,} parameters on 3x32x32 images, more than {MAX_PARAMETERS:,} "
            "(weights, gradients and optimizer state must fit in memory); choose smaller widths"
        )


def build_model(cfg: Any, input_shape: tuple[int, int, int], num_classes: int) -> Any:
    """The nn.Module that `cfg` (a validated model config) names, sized to the data."""
    return MODELS.entry(cfg.name).build(cfg, input_shape, num_classes)


def count_parameters(model: Any) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _activation(name: str) -> Any:
    from torch import nn

    return {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[name]


def _flat_size(features: Any, input_shape: tuple[int, int, int]) -> int:
    """Features per image after `features`: one dry run on zeros instead of a size formula per input size."""
    import torch

    with torch.no_grad():
        return int(features(torch.zeros(1, *input_shape)).numel())


# ---- small_cnn ----------------------------------------------------------------------------------------------
@dataclass
class SmallCNNConfig:
    name: str = "small_cnn"
    channels: list[int] = field(default_factory=lambda: [16, 32])
    dropout: float = 0.0

    def check(self, key: str) -> None:
        if not self.channels or any(c < 1 for c in self.channels):
            raise ConfigError(f"{key}.channels={self.channels!r}: must be a non-empty list of integers >= 1")
        require_in(f"{key}.dropout", self.dropout, 0.0, 1.0, high_open=True)
        refuse_too_many_parameters(f"{key}.channels", self.channels, self.parameters(LARGEST_INPUT, CLASSES))

    def parameters(self, input_shape: tuple[int, int, int], num_classes: int) -> int:
        """The parameter count small_cnn below builds for this input, counted without torch."""
        channels, height, width = input_shape
        count = 0
        for out_channels in self.channels:
            count += channels * out_channels * 9 + out_channels
            if height >= 2 and width >= 2:
                height, width = height // 2, width // 2
            channels = out_channels
        return count + channels * height * width * num_classes + num_classes


@MODELS.register("small_cnn", config=SmallCNNConfig)
def small_cnn(cfg: SmallCNNConfig, input_shape: tuple[int, int, int], num_classes: int) -> Any:
    """Conv-ReLU-MaxPool blocks (one per entry of model.channels), then a linear head.

    A block pools only while the feature map is at least 2x2, so the same config fits 8x8 digits and 32x32 CIFAR.
    """
    from torch import nn

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


# ---- lenet5 -------------------------------------------------------------------------------------------------
@dataclass
class LeNet5Config:
    name: str = "lenet5"
    activation: str = "relu"

    def check(self, key: str) -> None:
        require_choice(f"{key}.activation", self.activation, ("relu", "tanh"))


@MODELS.register("lenet5", config=LeNet5Config)
def lenet5(cfg: LeNet5Config, input_shape: tuple[int, int, int], num_classes: int) -> Any:
    """LeNet-5 with max pooling. The first conv pads by 2, so 28x28 images get the 32x32 view of the original
    paper; the second conv pads only when the map is smaller than its 5x5 kernel (8x8 digits)."""
    from torch import nn

    channels, height, _ = input_shape
    act = _activation(cfg.activation)
    second_pad = 0 if height // 2 >= 5 else 2
    features = nn.Sequential(
        nn.Conv2d(channels, 6, kernel_size=5, padding=2),
        act(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, kernel_size=5, padding=second_pad),
        act(),
        nn.MaxPool2d(2, ceil_mode=True),
        nn.Flatten(),
    )
    return nn.Sequential(
        features,
        nn.Linear(_flat_size(features, input_shape), 120),
        act(),
        nn.Linear(120, 84),
        act(),
        nn.Linear(84, num_classes),
    )


# ---- cifar_quick --------------------------------------------------------------------------------------------
@dataclass
class CifarQuickConfig:
    name: str = "cifar_quick"
    init: str = "torch"

    def check(self, key: str) -> None:
        require_choice(f"{key}.init", self.init, ("torch", "caffe"))


@MODELS.register("cifar_quick", config=CifarQuickConfig)
def cifar_quick(cfg: CifarQuickConfig, input_shape: tuple[int, int, int], num_classes: int) -> Any:
    """BVLC Caffe's examples/cifar10/cifar10_quick_train_test.prototxt, layer for layer:

    conv1 5x5x32 pad 2 - max pool 3/2 - ReLU - conv2 5x5x32 pad 2 - ReLU - avg pool 3/2 - conv3 5x5x64 pad 2 -
    ReLU - avg pool 3/2 - ip1 64 - ip2 classes. There is no ReLU between ip1 and ip2 in the prototxt, so none here.
    Caffe rounds pooled sizes up (32 -> 16 -> 8 -> 4): ceil_mode=True does the same, and like Caffe torch then
    averages a window that hangs over the border over its in-bounds pixels only.
    """
    from torch import nn

    channels = input_shape[0]
    features = nn.Sequential(
        nn.Conv2d(channels, 32, kernel_size=5, padding=2),
        nn.MaxPool2d(3, stride=2, ceil_mode=True),
        nn.ReLU(),
        nn.Conv2d(32, 32, kernel_size=5, padding=2),
        nn.ReLU(),
        nn.AvgPool2d(3, stride=2, ceil_mode=True),
        nn.Conv2d(32, 64, kernel_size=5, padding=2),
        nn.ReLU(),
        nn.AvgPool2d(3, stride=2, ceil_mode=True),
        nn.Flatten(),
    )
    model = nn.Sequential(features, nn.Linear(_flat_size(features, input_shape), 64), nn.Linear(64, num_classes))
    if cfg.init == "caffe":
        _caffe_init(model)
    return model


def _caffe_init(model: Any) -> None:
    """The prototxt's fillers: gaussian weights (std 1e-4 for conv1, 0.01 for conv2-3, 0.1 for ip1-2), zero bias.
    Caffe subtracted the mean image and did not scale; with our standardized inputs torch's default init is the
    safer choice, which is why model.init defaults to torch."""
    from torch import nn

    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    for layer, std in zip(layers, (1e-4, 0.01, 0.01, 0.1, 0.1)):
        nn.init.normal_(layer.weight, std=std)
        nn.init.zeros_(layer.bias)


# ---- mlp ----------------------------------------------------------------------------------------------------
@dataclass
class MLPConfig:
    name: str = "mlp"
    hidden: list[int] = field(default_factory=lambda: [64, 64, 64, 64])
    activation: str = "sigmoid"

    def check(self, key: str) -> None:
        if any(h < 1 for h in self.hidden):
            raise ConfigError(f"{key}.hidden={self.hidden!r}: must be a list of integers >= 1 ([] for a linear model)")
        require_choice(f"{key}.activation", self.activation, ("sigmoid", "tanh", "relu"))
        refuse_too_many_parameters(f"{key}.hidden", self.hidden, self.parameters(LARGEST_INPUT, CLASSES))

    def parameters(self, input_shape: tuple[int, int, int], num_classes: int) -> int:
        """The parameter count mlp below builds for this input, counted without torch."""
        width, count = input_shape[0] * input_shape[1] * input_shape[2], 0
        for units in [*self.hidden, num_classes]:
            count += width * units + units
            width = units
        return count


@MODELS.register("mlp", config=MLPConfig)
def mlp(cfg: MLPConfig, input_shape: tuple[int, int, int], num_classes: int) -> Any:
    """Flatten, then Linear-activation per entry of model.hidden, then a linear head."""
    from torch import nn

    act = _activation(cfg.activation)
    layers: list[nn.Module] = [nn.Flatten()]
    width = input_shape[0] * input_shape[1] * input_shape[2]
    for units in cfg.hidden:
        layers += [nn.Linear(width, units), act()]
        width = units
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)
