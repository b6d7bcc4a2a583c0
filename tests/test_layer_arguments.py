"""Every layer constructor refuses a bad argument with a ValueError naming the layer and the argument."""

import re

import numpy as np
import pytest

from minidnn.layers import ELU, AvgPool2d, Conv2d, Dense, Dropout, MaxPool2d

BAD = [
    (lambda: Conv2d(1, 2, 2.5), "Conv2d: kernel_size must be an int >= 1 or a pair of them, got 2.5 (float)"),
    (lambda: Conv2d(1, 2, "3"), "Conv2d: kernel_size must be .* got '3' (str)"),
    (lambda: Conv2d(1, 2, (3,)), "Conv2d: kernel_size must be .* got (3,) (tuple)"),
    (lambda: Conv2d(1, 2, (3, True)), "Conv2d: kernel_size must be .* got (3, True) (tuple)"),
    (lambda: Conv2d(1, 2, 3, stride=0), "Conv2d: stride must be an int >= 1 .* got 0 (int)"),
    (lambda: Conv2d(1, 2, 3, stride=None), "Conv2d: stride must be .* got None (NoneType)"),
    (lambda: Conv2d(1, 2, 3, padding=-1), "Conv2d: padding must be an int >= 0 .* got -1 (int)"),
    (lambda: Conv2d(1, 2, 3, padding=0.5), "Conv2d: padding must be .* got 0.5 (float)"),
    (lambda: Conv2d(1.0, 2, 3), "Conv2d: in_channels must be a positive integer, got 1.0 (float)"),
    (lambda: Conv2d(1, 0, 3), "Conv2d: out_channels must be a positive integer, got 0 (int)"),
    (lambda: Conv2d(1, 2, 3, bias="no"), "Conv2d: bias must be True or False, got 'no' (str)"),
    (lambda: Conv2d(1, 2, 3, init=None), "Conv2d: init must be an initializer name or a callable"),
    (lambda: Dense(True, 3), "Dense: in_features must be a positive integer, got True (bool)"),
    (lambda: Dense(3, "4"), "Dense: out_features must be a positive integer, got '4' (str)"),
    (lambda: Dense(3, 4, bias=1), "Dense: bias must be True or False, got 1 (int)"),
    (lambda: Dense(3, 4, init=5), "Dense: init must be an initializer name or a callable, got 5 (int)"),
    (lambda: Dropout("0.5"), "Dropout: p must lie in [0, 1), got '0.5' (str)"),
    (lambda: Dropout(1.0), "Dropout: p must lie in [0, 1), got 1.0 (float)"),
    (lambda: Dropout(float("nan")), "Dropout: p must lie in [0, 1), got nan (float)"),
    (lambda: Dropout(True), "Dropout: p must lie in [0, 1), got True (bool)"),
    (lambda: MaxPool2d(2.0), "MaxPool2d: kernel_size must be .* got 2.0 (float)"),
    (lambda: MaxPool2d(2, stride="1"), "MaxPool2d: stride must be .* got '1' (str)"),
    (lambda: AvgPool2d(2, padding=[1, -1]), "AvgPool2d: padding must be an int >= 0 .* got [1, -1] (list)"),
    (lambda: ELU("1"), "ELU: alpha must be a finite number > 0, got '1' (str)"),
    (lambda: ELU(float("inf")), "ELU: alpha must be a finite number > 0, got inf (float)"),
    (lambda: ELU(0), "ELU: alpha must be a finite number > 0, got 0 (int)"),
]


@pytest.mark.parametrize("make, message", BAD, ids=[m.split(",")[0] for _, m in BAD])
def test_a_bad_argument_names_the_layer_and_the_argument(make, message):
    with pytest.raises(ValueError, match=".*".join(map(re.escape, message.split(".*")))):
        make()


def test_numpy_integers_and_bools_are_accepted_as_python_ones():
    conv = Conv2d(np.int64(1), np.int32(2), (np.int8(3), 3), stride=np.uint8(1), bias=np.bool_(False))
    assert (conv.in_channels, conv.kernel_size, conv.stride, conv.has_bias) == (1, (3, 3), (1, 1), False)
    assert type(conv.in_channels) is int and type(conv.kernel_size[0]) is int
    assert Dropout(np.float32(0.25)).p == 0.25 and type(Dropout(np.float32(0.25)).p) is float
    assert MaxPool2d([2, 3]).kernel_size == (2, 3)
    assert Dense(3, 4, init=lambda rng, shape, dtype: np.zeros(shape, dtype)).has_bias
