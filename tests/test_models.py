"""Every registered model builds for every data shape it may meet; cifar_quick is Caffe's net layer for layer."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from runner.config import validate
from runner.models import MODELS, build_model, count_parameters
from support import compose

SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32)]  # digits, (Fashion-)MNIST, CIFAR-10


def model_cfg(option: str, *overrides: str):
    return validate(compose(f"model={option}", *(f"model.{o}" for o in overrides))).model


def test_every_registered_model_has_a_config_and_a_builder():
    for name in MODELS:
        entry = MODELS.entry(name)
        assert entry.config is not None and callable(entry.build)


@pytest.mark.parametrize("option", ["small_cnn", "lenet5", "cifar_quick", "sigmoid_mlp"])
@pytest.mark.parametrize("shape", SHAPES, ids=["digits", "mnist", "cifar10"])
def test_models_adapt_to_channels_size_and_classes(option, shape):
    for classes in (10, 7):
        model = build_model(model_cfg(option), shape, classes)
        out = model(torch.randn(4, *shape))
        assert out.shape == (4, classes)
        out.sum().backward()  # every parameter takes part
        assert all(p.grad is not None for p in model.parameters())


def test_lenet5_has_the_classic_parameter_count_on_28x28():
    # conv1 156 + conv2 2,416 + fc120 48,120 + fc84 10,164 + fc10 850: LeCun's numbers with the 32x32 view
    assert count_parameters(build_model(model_cfg("lenet5"), (1, 28, 28), 10)) == 61706
    tanh = build_model(model_cfg("lenet5", "activation=tanh"), (1, 28, 28), 10)
    assert any(isinstance(m, nn.Tanh) for m in tanh.modules())


def test_cifar_quick_follows_the_caffe_prototxt():
    model = build_model(model_cfg("cifar_quick"), (3, 32, 32), 10)
    features, ip1, ip2 = model
    kinds = [type(m).__name__ for m in features]
    assert kinds == [
        "Conv2d",
        "MaxPool2d",
        "ReLU",
        "Conv2d",
        "ReLU",
        "AvgPool2d",
        "Conv2d",
        "ReLU",
        "AvgPool2d",
        "Flatten",
    ]
    convs = [m for m in features if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.padding) for c in convs] == [(32, (5, 5), (2, 2))] * 2 + [
        (64, (5, 5), (2, 2))
    ]
    assert all(p.kernel_size == 3 and p.stride == 2 for p in features if isinstance(p, (nn.MaxPool2d, nn.AvgPool2d)))
    # Caffe rounds pooled sizes up: 32 -> 16 -> 8 -> 4, so ip1 sees 64 x 4 x 4.
    assert (ip1.in_features, ip1.out_features, ip2.out_features) == (1024, 64, 10)
    # Caffe's quick net has no nonlinearity between ip1 and ip2.
    assert isinstance(ip1, nn.Linear) and isinstance(ip2, nn.Linear)
    assert count_parameters(model) == 145578  # the prototxt's 2,432 + 25,632 + 51,264 + 65,600 + 650


def test_cifar_quick_caffe_init_uses_the_prototxt_fillers():
    torch.manual_seed(0)
    model = build_model(model_cfg("cifar_quick", "init=caffe"), (3, 32, 32), 10)
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    for layer, std in zip(layers, (1e-4, 0.01, 0.01, 0.1, 0.1)):
        assert float(layer.weight.detach().std()) == pytest.approx(std, rel=0.15)
        assert float(layer.bias.detach().abs().max()) == 0.0


def test_sigmoid_mlp_is_four_64_unit_sigmoid_layers():
    model = build_model(model_cfg("sigmoid_mlp"), (1, 28, 28), 10)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linears] == [64, 64, 64, 64, 10]
    assert sum(isinstance(m, nn.Sigmoid) for m in model) == 4
    assert count_parameters(model) == 784 * 64 + 64 + 3 * (64 * 64 + 64) + 64 * 10 + 10


def test_sigmoid_mlp_sits_on_a_plateau_where_a_relu_mlp_learns():
    """The plateau of experiments/plateau_escape, in miniature: at LR 0.1 (SGD, momentum 0.9, batch 128) the sigmoid
    net's loss stays at ln 10 while the same net with ReLU learns the same learnable synthetic data; 150 steps."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2048, 1, 28, 28, generator=gen)
    y = (x.flatten(1) @ torch.randn(784, 10, generator=gen)).argmax(1)

    def final_loss(*overrides: str) -> float:
        torch.manual_seed(0)
        model = build_model(model_cfg("sigmoid_mlp", *overrides), (1, 28, 28), 10)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        losses = []
        for _ in range(150):
            idx = torch.randint(0, 2048, (128,), generator=gen)
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return sum(losses[-50:]) / 50

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest, and the test shares the machine
    try:
        assert final_loss() > 0.95 * math.log(10)
        assert final_loss("activation=relu") < 0.8 * math.log(10)
    finally:
        torch.set_num_threads(threads)
