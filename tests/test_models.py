"""Model presets: parameter counts, shapes, seeds and options."""

from __future__ import annotations

import numpy as np
import pytest

from minidnn import models


@pytest.mark.parametrize(
    ("build", "count", "input_shape"),
    [
        (lambda: models.mlp([784, 300, 100, 10]), 266_610, (2, 1, 28, 28)),
        (models.lenet5, 44_426, (2, 1, 28, 28)),
        (lambda: models.lenet5(activation="sigmoid", pool="avg"), 44_426, (2, 1, 28, 28)),
        (models.lenet_knet, 431_080, (2, 1, 28, 28)),
        (models.cifar_cnn, 122_570, (2, 3, 32, 32)),
    ],
)
def test_parameter_counts_and_output_shapes(build, count, input_shape):
    net = build()
    assert net.nvar == count
    x = np.random.default_rng(0).random(input_shape, dtype=np.float32)
    out = net(x)
    assert out.shape == (input_shape[0], 10) and out.dtype == np.float32
    assert net.output_shape(input_shape) == (input_shape[0], 10)
    assert f"{count:,d}" in net.summary(input_shape)


def test_mlp_flattens_images_and_vectors():
    net = models.mlp([12, 5, 3], activation="tanh")
    assert net(np.zeros((4, 3, 4), np.float32)).shape == (4, 3)
    assert net(np.zeros((4, 12), np.float32)).shape == (4, 3)


def test_the_seed_decides_the_weights():
    assert np.array_equal(models.lenet5(seed=3).vector(), models.lenet5(seed=3).vector())
    assert not np.array_equal(models.lenet5(seed=3).vector(), models.lenet5(seed=4).vector())


def test_bad_options_list_the_valid_ones():
    with pytest.raises(ValueError, match="valid: relu, sigmoid, tanh, softplus, identity"):
        models.mlp([3, 2], activation="gelu")
    with pytest.raises(ValueError, match="valid: max, avg"):
        models.lenet5(pool="median")
    with pytest.raises(ValueError, match="needs an input and an output size"):
        models.mlp([3])
