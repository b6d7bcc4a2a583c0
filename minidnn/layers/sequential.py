"""Sequential: layers applied in order; a pure container that nests.

A Sequential holds layers (and other Sequentials) and applies them one after the other. It owns no
parameters: the :class:`minidnn.Network` that holds it draws and binds those of its layers. Its
children are named by position, so the parameters of ``Sequential(Dense(3, 4), ReLU(), Dense(4, 2))``
are ``0.weight``, ``0.bias``, ``2.weight``, ``2.bias``, and those of a nested one ``1.0.weight``.
"""

from __future__ import annotations

from collections.abc import Iterator

from minidnn.layers.layer import Layer
from minidnn.tensor import Tensor


class Sequential(Layer):
    """x -> layers[-1](... layers[1](layers[0](x)))."""

    def __init__(self, *layers: Layer):
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential: item {i} is a {type(layer).__name__}, not a Layer")
        self.layers = list(layers)

    def children(self) -> Iterator[tuple[str, Layer]]:
        for i, layer in enumerate(self.layers):
            yield str(i), layer

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        for i, layer in enumerate(self.layers):
            try:
                shape = layer.output_shape(shape)
            except ValueError as err:
                raise ValueError(f"layer {i}, {err}") from None
        return shape

    def check_input(self, x: Tensor) -> None:
        self.output_shape(x.shape)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Sequential({inner})"


def applied_layers(layer: Layer) -> list[Layer]:
    """The layers a forward pass through ``layer`` applies, in order: containers of exactly type
    Sequential opened (a subclass may apply its layers otherwise), and a layer held at several places
    listed at each (``named_layers`` lists it once)."""
    if type(layer) is Sequential:
        return [leaf for child in layer.layers for leaf in applied_layers(child)]
    return [layer]
