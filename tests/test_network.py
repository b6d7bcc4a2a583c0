"""Network: one flat vector for every parameter, its layout, composite layers, one owner per layer.

The layout order (depth first: layers in order, a layer's own parameters weight before bias, then
those of the layers it holds) is checked on composite layers; a residual block trains inside a model.
"""

from __future__ import annotations

import copy
import gc

import numpy as np
import pytest

import minidnn as md
from minidnn import backend, layers, ops
from minidnn.layers import Layer, ParameterSpec


# -- the flat vector ---------------------------------------------------------------------------------
def test_parameters_are_views_of_one_vector_in_layout_order():
    net = md.Network(layers.Dense(3, 4), layers.ReLU(), layers.Dense(4, 2, bias=False))
    assert net.layout.names == ("0.weight", "0.bias", "2.weight")
    assert net.layout.offsets == (0, 12, 16) and net.nvar == 24
    for tensor in net.parameters():
        assert np.shares_memory(tensor.data, net._flat)
        assert tensor.data.flags.c_contiguous
    assert "total" in net.layout.describe()


def test_load_copies_in_and_vector_copies_out():
    net = md.Network(layers.Dense(3, 2))
    x = np.arange(net.nvar, dtype=np.float32)
    net.load(x)
    x[0] = 100.0
    np.testing.assert_array_equal(net.parameters()[0].data.ravel(), np.arange(6))
    out = net.vector()
    out[1] = -5.0
    assert net.parameters()[0].data.ravel()[1] == 1.0


def test_load_rejects_bad_vectors_and_changes_nothing():
    net = md.Network(layers.Dense(3, 2))
    before = net.vector()
    for bad in (np.zeros(3, np.float32), np.zeros(net.nvar, np.float64), [0.0] * net.nvar):
        with pytest.raises(ValueError, match="x must be"):
            net.load(bad)
    np.testing.assert_array_equal(net.vector(), before)


def test_gradients_land_in_one_flat_vector():
    net = md.Network(layers.Dense(3, 4), layers.Tanh(), layers.Dense(4, 2), dtype="float64")
    x = np.random.default_rng(0).standard_normal((5, 3))
    grads = md.grad(ops.sum(net(x) ** 2), net.parameters())
    flat = net.gradient_vector(grads)
    np.testing.assert_array_equal(flat, np.concatenate([g.data.ravel() for g in grads]))


def test_set_tangent_gives_the_hessian_vector_product_of_the_flat_vector():
    net = md.Network(layers.Dense(3, 4), layers.Tanh(), layers.Dense(4, 2), dtype="float64")
    x = np.random.default_rng(0).standard_normal((5, 3))
    v = np.random.default_rng(1).standard_normal(net.nvar)
    net.set_tangent(v)
    grads = md.grad(ops.sum(net(x) ** 2), net.parameters())
    net.set_tangent(None)
    hv = net.gradient_vector([md.Tensor(g.tangent) for g in grads])
    w0 = net.vector()

    def flat_grad(w):
        net.load(w)
        return net.gradient_vector(md.grad(ops.sum(net(x) ** 2), net.parameters()))

    fd = (flat_grad(w0 + 1e-6 * v) - flat_grad(w0 - 1e-6 * v)) / 2e-6
    np.testing.assert_allclose(hv, fd, rtol=1e-6, atol=1e-7)
    assert all(t.tangent is None for t in net.parameters())


def test_same_seed_same_weights_on_every_backend():
    a = md.Network(layers.Dense(5, 3), layers.Dense(3, 2), seed=11)
    b = md.Network(layers.Dense(5, 3), layers.Dense(3, 2), seed=11, backend="array-api-strict")
    c = md.Network(layers.Dense(5, 3), layers.Dense(3, 2), seed=12)
    np.testing.assert_array_equal(a.vector(), backend.get("array-api-strict").to_host(b.vector()))
    assert not np.array_equal(a.vector(), c.vector())


def test_copy_is_an_independent_network_on_another_backend_and_dtype():
    net = md.Network(layers.Dense(3, 2), layers.Dropout(0.5), seed=2)
    host = net.vector()
    twin = net.copy("array-api-strict", "float64")
    assert twin.backend.name == "array-api-strict" and twin.dtype == twin.backend.xp.float64
    assert net.backend.name == "numpy" and net.dtype == np.float32
    np.testing.assert_allclose(twin.backend.to_host(twin.vector()), host)
    assert backend.of(twin.parameters()[0].data) is twin.backend
    assert twin.root is not net.root and twin.root.layers[0] is not net.root.layers[0]
    twin.load(twin.backend.to_device(np.zeros(twin.nvar), dtype="float64"))
    np.testing.assert_array_equal(net.vector(), host)
    same = copy.deepcopy(net)
    assert copy.copy(net).root is not net.root
    x = np.random.default_rng(0).random((4, 3), dtype=np.float32)
    net.fix_noise(3)
    same.fix_noise(3)
    np.testing.assert_array_equal(same(x).data, net(x).data)


def test_a_nested_sequential_is_a_container_named_by_position():
    inner = layers.Sequential(layers.Dense(3, 3), layers.ReLU())
    outer = md.Network(inner, layers.Dense(3, 1), seed=9)
    assert outer.layout.names == ("0.0.weight", "0.0.bias", "1.weight", "1.bias")
    assert inner.layers[0].weight.data is outer.parameters()[0].data
    assert np.shares_memory(inner.layers[0].weight.data, outer._flat)


# -- composite layers ---------------------------------------------------------------------------------
class Block(Layer):
    """A composite holding a parameter of its own, a list of layers and a dict of layers."""

    def __init__(self):
        self.scale = None
        self.branches = [layers.Dense(2, 2), layers.Sequential(layers.Tanh(), layers.Dense(2, 2, bias=False))]
        self.head = {"out": layers.Dense(2, 2)}

    def specs(self) -> tuple[ParameterSpec, ...]:
        return (ParameterSpec("scale", (1,), "zeros"),)

    def forward(self, x: md.Tensor) -> md.Tensor:
        a, b = (branch(x) for branch in self.branches)
        return self.head["out"](a * b) * (self.scale + 1.0)


class Residual(Layer):
    """x + Dense(ReLU(Dense(x))): a residual block around a Sequential."""

    def __init__(self, width: int):
        self.body = layers.Sequential(layers.Dense(width, width), layers.ReLU(), layers.Dense(width, width))

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return self.body.output_shape(shape)

    def forward(self, x: md.Tensor) -> md.Tensor:
        return x + self.body(x)


def test_composite_layers_lay_out_every_inner_parameter_depth_first():
    net = md.Network(layers.Dense(3, 2), Block(), seed=1)
    assert net.layout.names == (
        "0.weight", "0.bias",
        "1.scale",
        "1.branches.0.weight", "1.branches.0.bias",
        "1.branches.1.1.weight",
        "1.head.out.weight", "1.head.out.bias",
    )  # fmt: skip
    assert net.nvar == 8 + 1 + 6 + 4 + 6
    assert all(np.shares_memory(t.data, net._flat) for t in net.parameters())
    x = np.random.default_rng(0).random((5, 3))
    grads = md.grad(ops.sum(net(x.astype(np.float32)) ** 2), net.parameters())
    assert all(np.any(g.data != 0) for g in grads[3:])


def test_a_layer_held_twice_is_one_set_of_tied_parameters():
    shared = layers.Dense(3, 3)
    net = md.Network(shared, layers.Tanh(), shared, layers.Dense(3, 1))
    assert net.layout.names == ("0.weight", "0.bias", "3.weight", "3.bias")
    x = np.ones((2, 3), np.float32)
    w, b = shared.weight.data, shared.bias.data
    last = net.root.layers[3]
    expected = (np.tanh(x @ w.T + b) @ w.T + b) @ last.weight.data.T + last.bias.data
    np.testing.assert_allclose(net(x).data, expected, rtol=1e-6)


def test_layers_in_a_set_or_undeclared_trainable_tensors_are_refused():
    class Unordered(Layer):
        def __init__(self):
            self.parts = {layers.Dense(2, 2), layers.Dense(2, 2)}

    class Hidden(Layer):
        def __init__(self):
            self.w = md.Tensor(np.ones(2, np.float32), requires_grad=True)

    with pytest.raises(TypeError, match="Unordered: attribute 'parts' is a set holding layers"):
        md.Network(Unordered())

    class Wrapper(Layer):
        def __init__(self):
            self.encoder = md.Network(layers.Dense(2, 2))

    with pytest.raises(ValueError, match=r"Hidden\(\) \(layer 1\) holds a trainable Tensor 'w'"):
        md.Network(layers.ReLU(), Hidden())
    with pytest.raises(ValueError, match="Wrapper.. holds a Network in 'encoder'"):
        md.Network(Wrapper())


def test_a_layer_outside_any_network_has_no_parameters_even_inside_a_composite():
    block = Residual(2)
    with pytest.raises(RuntimeError, match="no parameters yet: build it into a Network"):
        block(np.zeros((1, 2), np.float32))


def test_a_residual_block_trains_inside_a_network():
    from minidnn.datasets import load
    from minidnn.nlpmodels import NeuralNetModel

    train = load("digits")
    net = md.Network(
        layers.Flatten(), layers.Dense(64, 16), layers.Tanh(), Residual(16), layers.Dense(16, 10)
    )
    inner = [name for name in net.layout.names if ".body." in name]
    assert inner == ["3.body.0.weight", "3.body.0.bias", "3.body.2.weight", "3.body.2.bias"]
    nlp = NeuralNetModel(net, train, batch_size=200, shuffle=False, dtype="float64")
    x = nlp.meta.x0
    start = nlp.obj(x)
    for _ in range(40):
        f, g = nlp.objgrad(x)
        x = x - 0.5 * g
    assert nlp.obj(x) < 0.5 * start
    layout = nlp.network.layout
    for name in inner[::2]:
        i = layout.names.index(name)
        piece = slice(layout.offsets[i], layout.offsets[i] + layout.sizes[i])
        assert np.abs(x[piece] - nlp.meta.x0[piece]).max() > 1e-3, name


# -- one network per layer ----------------------------------------------------------------------------
def test_a_layer_of_a_live_network_cannot_join_another_and_nothing_changes():
    shared = layers.Dense(3, 2)
    first = md.Network(layers.Dense(4, 3), shared, seed=0)
    weights = first.vector()
    fresh = layers.Dense(2, 2)
    with pytest.raises(ValueError, match=r"Dense\(3 -> 2\) \(layer 0\) already belongs to another network"):
        md.Network(shared, fresh)
    with pytest.raises(ValueError, match="already belongs to another network"):
        md.Network(first.root)
    assert not fresh.is_bound()
    assert np.shares_memory(shared.weight.data, first._flat)
    x = np.ones((2, 4), np.float32)
    grads = md.grad(ops.sum(first(x) ** 2), first.parameters())
    assert np.any(grads[2].data != 0)
    np.testing.assert_array_equal(first.vector(), weights)


def test_a_layer_is_free_again_once_its_network_is_gone():
    dense = layers.Dense(3, 2)
    md.Network(dense)
    gc.collect()
    again = md.Network(dense, seed=5)
    assert dense.weight.data is again.parameters()[0].data


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least one layer"):
        md.Network()
    with pytest.raises(TypeError, match="item 1 is a int, not a Layer"):
        md.Network(layers.ReLU(), 3)
    with pytest.raises(ValueError, match="seed must be an int"):
        md.Network(layers.ReLU(), seed=1.5)
    with pytest.raises(ValueError, match="dtype must be one of"):
        md.Network(layers.ReLU(), dtype="float16")
