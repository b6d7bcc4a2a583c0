"""Layers: Dense, Conv2d, pooling, Flatten, Dropout, activations, and the Sequential container.

A layer declares its parameters; a :class:`minidnn.Network` built over layers owns them (one flat vector).
"""

from minidnn.layers.activations import ELU, Identity, ReLU, Sigmoid, Softplus, Tanh
from minidnn.layers.conv import Conv2d
from minidnn.layers.dense import Dense
from minidnn.layers.dropout import Dropout
from minidnn.layers.layer import Layer, ParameterSpec
from minidnn.layers.pooling import AvgPool2d, MaxPool2d
from minidnn.layers.sequential import Sequential
from minidnn.layers.shape import Flatten

__all__ = [
    "AvgPool2d",
    "Conv2d",
    "Dense",
    "Dropout",
    "ELU",
    "Flatten",
    "Identity",
    "Layer",
    "MaxPool2d",
    "ParameterSpec",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softplus",
    "Tanh",
]
