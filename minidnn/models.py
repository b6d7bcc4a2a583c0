"""Model presets with their parameter counts.

    mlp((784, 300, 100, 10))  LeNet-300-100 (LeCun et al. 1998): 266,610 parameters
    lenet5()                  the JOSS tutorial's LeNet-5: conv 5x5 1->6, pool 2, conv 5x5 6->16,
                              pool 2, dense 256->120->84->10: 44,426 parameters (ReLU and max pooling by
                              default; activation="sigmoid", pool="avg" give the Julia variant exactly)
    lenet_knet()              KnetNLPModels' test net: conv 5x5 1->20, ReLU, maxpool 2, conv 5x5 20->50,
                              ReLU, maxpool 2, dense 800->500, ReLU, dense 500->10: 431,080 parameters
    cifar_cnn()               a small CIFAR-10 net: three conv 3x3 (padding 1) + ReLU + maxpool 2 stages,
                              3->32->64->64 channels, then dense 1024->64->10: 122,570 parameters

Each returns a :class:`minidnn.Network` (its layers in a Sequential, parameters named ``1.weight``...).
Images are NCHW; ``mlp`` flattens its input first, so it takes images or vectors.
"""

from __future__ import annotations

from collections.abc import Sequence

from minidnn.layers import (
    AvgPool2d,
    Conv2d,
    Dense,
    Flatten,
    Identity,
    Layer,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Softplus,
    Tanh,
)
from minidnn.network import Network

ACTIVATIONS: dict[str, type[Layer]] = {
    "relu": ReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "softplus": Softplus,
    "identity": Identity,
}
POOLS: dict[str, type[Layer]] = {"max": MaxPool2d, "avg": AvgPool2d}


def _activation(name: str) -> Layer:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; valid: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def _pool(name: str) -> Layer:
    if name not in POOLS:
        raise ValueError(f"unknown pooling {name!r}; valid: {', '.join(POOLS)}")
    return POOLS[name](2)


def mlp(sizes: Sequence[int], activation: str = "relu", seed: int = 0) -> Network:
    """Flatten, then Dense layers of the given sizes with ``activation`` between them (none after)."""
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"mlp: sizes needs an input and an output size, got {sizes}")
    _activation(activation)
    layers: list[Layer] = [Flatten()]
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Dense(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(_activation(activation))
    return Network(*layers, seed=seed)


def lenet5(seed: int = 0, activation: str = "relu", pool: str = "max") -> Network:
    """LeNet-5 of the JOSS tutorial for 1x28x28 input (44,426 parameters)."""
    return Network(
        Conv2d(1, 6, 5), _activation(activation), _pool(pool),
        Conv2d(6, 16, 5), _activation(activation), _pool(pool),
        Flatten(),
        Dense(256, 120), _activation(activation),
        Dense(120, 84), _activation(activation),
        Dense(84, 10),
        seed=seed,
    )  # fmt: skip


def lenet_knet(seed: int = 0) -> Network:
    """The LeNet of KnetNLPModels' tests for 1x28x28 input (431,080 parameters)."""
    return Network(
        Conv2d(1, 20, 5), ReLU(), MaxPool2d(2),
        Conv2d(20, 50, 5), ReLU(), MaxPool2d(2),
        Flatten(),
        Dense(800, 500), ReLU(),
        Dense(500, 10),
        seed=seed,
    )  # fmt: skip


def cifar_cnn(seed: int = 0) -> Network:
    """A small CNN for 3x32x32 CIFAR-10 images (122,570 parameters)."""
    return Network(
        Conv2d(3, 32, 3, padding=1), ReLU(), MaxPool2d(2),
        Conv2d(32, 64, 3, padding=1), ReLU(), MaxPool2d(2),
        Conv2d(64, 64, 3, padding=1), ReLU(), MaxPool2d(2),
        Flatten(),
        Dense(1024, 64), ReLU(),
        Dense(64, 10),
        seed=seed,
    )  # fmt: skip


PRESETS = {"mlp": mlp, "lenet5": lenet5, "lenet": lenet_knet, "cifar-cnn": cifar_cnn}
