"""Layers: exact first and second derivatives (input and parameters), forward values, modes, bad input.

Every layer is checked inside a small Network on NumPy and on the strict device, float64 and
float32: ``check_grad`` and ``check_hvp`` (both modes) treat the input and each parameter as
variables, by binding the drawn arrays to the layer for the evaluation. Composite layers (a layer
holding a Sequential, with a parameter of its own; one layer used twice) are checked the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidnn as md
from minidnn import backend, layers, ops
from minidnn.gradcheck import check_grad, check_hvp
from minidnn.layers import ParameterSpec
from minidnn.testing import arrays


@dataclass(frozen=True)
class LayerCase:
    name: str
    build: Callable[[], layers.Layer]
    input_shape: tuple[int, ...]
    low: float = -2.0
    high: float = 2.0
    kinks: tuple[float, ...] = ()
    distinct: bool = False  # keep window entries apart (max pooling)


class GatedResidual(layers.Layer):
    """x + gain * body(x): a composite layer with a parameter of its own and a Sequential inside."""

    def __init__(self, width: int):
        self.width = width
        self.body = layers.Sequential(layers.Dense(width, width), layers.Tanh(), layers.Dense(width, width))
        self.gain = None

    def specs(self) -> tuple[ParameterSpec, ...]:
        return (
            ParameterSpec(
                "gain", (self.width,), lambda rng, shape, dtype: rng.uniform(0.5, 1.5, shape, dtype)
            ),
        )

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return self.body.output_shape(shape)

    def forward(self, x: md.Tensor) -> md.Tensor:
        return x + self.gain * self.body(x)


def _tied() -> layers.Layer:
    shared = layers.Dense(3, 3)
    return layers.Sequential(shared, layers.Tanh(), shared)


LAYERS = [
    LayerCase("dense", lambda: layers.Dense(4, 3), (2, 4)),
    LayerCase("dense_no_bias", lambda: layers.Dense(3, 2, bias=False), (3, 3)),
    LayerCase("conv2d", lambda: layers.Conv2d(2, 3, 3), (2, 2, 5, 4)),
    LayerCase(
        "conv2d_stride_padding", lambda: layers.Conv2d(1, 2, (2, 3), stride=2, padding=1), (1, 1, 5, 5)
    ),
    LayerCase("maxpool2d", lambda: layers.MaxPool2d(2), (2, 2, 4, 4), distinct=True),
    LayerCase(
        "maxpool2d_overlap", lambda: layers.MaxPool2d(3, stride=1, padding=1), (1, 2, 4, 3), distinct=True
    ),
    LayerCase("avgpool2d", lambda: layers.AvgPool2d(2, stride=1), (2, 1, 3, 4)),
    LayerCase("flatten", lambda: layers.Flatten(), (2, 2, 3)),
    LayerCase("dropout", lambda: layers.Dropout(0.4), (3, 5)),
    LayerCase("relu", lambda: layers.ReLU(), (2, 5), kinks=(0.0,)),
    LayerCase("sigmoid", lambda: layers.Sigmoid(), (2, 5), -6.0, 6.0),
    LayerCase("tanh", lambda: layers.Tanh(), (2, 5)),
    LayerCase("elu", lambda: layers.ELU(0.7), (2, 5), kinks=(0.0,)),
    LayerCase("softplus", lambda: layers.Softplus(), (2, 5), -6.0, 6.0),
    LayerCase("identity", lambda: layers.Identity(), (2, 5)),
    LayerCase(
        "sequential",
        lambda: layers.Sequential(
            layers.Conv2d(1, 2, 2), layers.Tanh(), layers.Flatten(), layers.Dense(8, 3)
        ),
        (2, 1, 3, 3),
    ),
    LayerCase("composite_residual", lambda: GatedResidual(3), (2, 3)),
    LayerCase("tied_weights", _tied, (2, 3)),
]


def _network(case: LayerCase, be: str, dtype: str) -> md.Network:
    net = md.Network(case.build(), seed=3, backend=be, dtype=dtype)
    net.fix_noise(7)
    return net


def _as_function(net: md.Network):
    """f(x, *params): the network's output with the given tensors bound as its parameters."""
    entries = list(net.named_specs())

    def f(x, *params):
        own = [getattr(layer, spec.name) for _, layer, spec in entries]
        for (_, layer, spec), p in zip(entries, params):
            setattr(layer, spec.name, p)
        try:
            return net.forward(x)
        finally:
            for (_, layer, spec), p in zip(entries, own):
                setattr(layer, spec.name, p)

    return f


@st.composite
def _input(draw, case: LayerCase):
    if case.distinct:
        size = int(np.prod(case.input_shape))
        values = draw(st.permutations(np.linspace(-2.0, 2.0, size)))
        return np.asarray(values).reshape(case.input_shape)
    return draw(arrays(case.input_shape, case.low, case.high, case.kinks))


def _setup(case, backend_name, dtype, x_host):
    b = backend.get(backend_name)
    net = _network(case, backend_name, dtype)
    x = b.to_device(x_host, dtype=dtype)
    params = [t.data for t in net.parameters()]
    return net, [x, *params]


@pytest.mark.parametrize("case", LAYERS, ids=[c.name for c in LAYERS])
@given(data=st.data())
def test_layer_first_order(case, backend_name, dtype, data):
    net, inputs = _setup(case, backend_name, dtype, data.draw(_input(case)))
    check_grad(_as_function(net), inputs, directions=2)


@pytest.mark.parametrize("case", LAYERS, ids=[c.name for c in LAYERS])
@given(data=st.data())
def test_layer_second_order(case, backend_name, dtype, data):
    net, inputs = _setup(case, backend_name, dtype, data.draw(_input(case)))
    f = _as_function(net)
    check_hvp(lambda *ts: ops.sum(ops.tanh(f(*ts)) * 1.7), inputs, directions=1)


# -- forward values -------------------------------------------------------------------------------
def test_dense_computes_x_w_transpose_plus_b():
    net = md.Network(layers.Dense(4, 3), seed=1, dtype="float64")
    w, b = (t.data for t in net.parameters())
    x = np.random.default_rng(0).standard_normal((5, 4))
    np.testing.assert_allclose(net(x).data, x @ w.T + b, rtol=1e-12)


def test_conv_layer_matches_the_op_with_its_own_parameters():
    conv = layers.Conv2d(2, 3, 3, stride=2, padding=1)
    net = md.Network(conv, seed=1, dtype="float64")
    x = np.random.default_rng(0).standard_normal((2, 2, 6, 5))
    expected = ops.conv2d(x, conv.weight.data, conv.bias.data, stride=2, padding=1).data
    np.testing.assert_allclose(net(x).data, expected)
    assert net(x).shape == net.output_shape(x.shape) == (2, 3, 3, 3)


def test_activation_layers_compute_their_functions():
    x = np.linspace(-3, 3, 13)
    expected = {
        layers.ReLU(): np.maximum(x, 0),
        layers.Sigmoid(): 1 / (1 + np.exp(-x)),
        layers.Tanh(): np.tanh(x),
        layers.Softplus(): np.log1p(np.exp(x)),
        layers.ELU(0.5): np.where(x > 0, x, 0.5 * (np.exp(x) - 1)),
        layers.Identity(): x,
    }
    for layer, values in expected.items():
        np.testing.assert_allclose(layer(x).data, values, rtol=1e-12, err_msg=repr(layer))


def test_stable_activations_at_extreme_inputs():
    x = np.array([-1e4, -50.0, 0.0, 50.0, 1e4], np.float32)
    for layer in (layers.Sigmoid(), layers.Softplus(), layers.ELU()):
        assert np.all(np.isfinite(layer(x).data)), layer
    t = md.Tensor(x, requires_grad=True)
    for fn in (ops.sigmoid, ops.softplus, lambda v: ops.elu(v)):
        assert np.all(np.isfinite(md.grad(fn(t).sum(), t).data))


def test_dropout_is_seeded_scaled_and_off_in_evaluation():
    x = np.ones((200, 50), np.float32)
    net = md.Network(layers.Dropout(0.3), seed=5)
    net.fix_noise(1)
    y1, y2 = net(x).data, net(x).data
    np.testing.assert_array_equal(y1, y2)
    assert set(np.unique(y1)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((y1 == 0).mean() - 0.3) < 0.02
    net.fix_noise(2)
    assert not np.array_equal(net(x).data, y1)
    net.fix_noise(None)
    assert not np.array_equal(net(x).data, net(x).data)
    again = md.Network(layers.Dropout(0.3), seed=5)
    again.fix_noise(1)
    np.testing.assert_array_equal(again(x).data, y1)
    net.eval()
    np.testing.assert_array_equal(net(x).data, x)
    assert not net.root.training
    net.train()
    assert net.root.training


# -- initialisation ---------------------------------------------------------------------------------
def test_glorot_uniform_is_the_default_with_zero_biases():
    net = md.Network(layers.Dense(300, 200), layers.Conv2d(4, 6, 3), seed=0)
    w, b, k, c = (t.data for t in net.parameters())
    a = np.sqrt(6 / 500)
    assert np.abs(w).max() <= a and np.abs(w).max() > 0.95 * a
    assert abs(w.var() - a * a / 3) < 0.05 * a * a / 3
    assert np.abs(k).max() <= np.sqrt(6 / (4 * 9 + 6 * 9))
    assert not b.any() and not c.any()


@pytest.mark.parametrize(
    ("name", "variance"),
    [
        ("glorot_normal", 2 / 500),
        ("he_normal", 2 / 300),
        ("he_uniform", 2 / 300),
        ("glorot_uniform", 2 / 500),
    ],
)
def test_initialiser_variances(name, variance):
    net = md.Network(layers.Dense(300, 200, init=name), seed=0)
    w = net.parameters()[0].data
    assert w.dtype == np.float32
    assert abs(w.var() / variance - 1) < 0.05


def test_unknown_initialiser_lists_the_valid_ones():
    with pytest.raises(ValueError, match="glorot_uniform"):
        md.Network(layers.Dense(2, 2, init="orthogonal"))


# -- dtypes and devices -------------------------------------------------------------------------------
def test_float32_network_holds_no_float64_in_forward_backward_or_hvp():
    from minidnn.models import lenet5
    from minidnn.testing import graph_tensors

    net = lenet5(seed=0, activation="sigmoid", pool="avg")
    rng = np.random.default_rng(0)
    x = rng.random((3, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 3)
    net.set_tangent(rng.standard_normal(net.nvar).astype(np.float32))
    loss = md.losses.softmax_cross_entropy(net(x), y)
    grads = md.grad(loss, net.parameters(), create_graph=True)
    net.set_tangent(None)
    second = md.grad(ops.sum(grads[0] * grads[0]), net.parameters())
    for t in [loss, *grads, *second, *graph_tensors(loss, *grads)]:
        assert t.dtype == np.float32, t
        assert t.tangent is None or t.tangent.dtype == np.float32


def test_a_network_runs_on_the_strict_device_with_one_transfer_for_the_input_check():
    be = backend.get("array-api-strict")
    net = md.Network(
        layers.Conv2d(1, 2, 3), layers.ReLU(), layers.MaxPool2d(2), layers.Flatten(), layers.Dense(8, 3),
        backend=be,
    )  # fmt: skip
    rng = np.random.default_rng(0)
    x = be.to_device(rng.random((2, 1, 6, 6)), dtype="float32")
    y = be.to_device(rng.integers(0, 3, 2))
    net.set_tangent(be.to_device(rng.standard_normal(net.nvar), dtype="float32"))
    before = be.host_transfers
    loss = md.losses.softmax_cross_entropy(net(x), y, check=False)
    grads = md.grad(loss, net.parameters())
    net.set_tangent(None)
    assert be.host_transfers == before + 1
    assert all(backend.of(g.tangent) is be for g in grads)


# -- bad input ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("layer", "shape", "message"),
    [
        (layers.Dense(4, 3), (2, 5), r"Dense\(4 -> 3\): expected input of shape \(N, 4\), got \(2, 5\)"),
        (
            layers.Conv2d(3, 2, 3),
            (1, 1, 8, 8),
            r"Conv2d\(3 -> 2, 3x3\): expected input of shape \(N, 3, H, W\)",
        ),
        (
            layers.Conv2d(1, 2, 5),
            (1, 1, 3, 8),
            r"Conv2d\(1 -> 2, 5x5\): input \(1, 1, 3, 8\) is smaller than the kernel",
        ),
        (
            layers.MaxPool2d(2),
            (4, 4),
            r"MaxPool2d\(2x2\): expected input of shape \(N, C, H, W\), got \(4, 4\)",
        ),
        (layers.Flatten(), (3,), r"Flatten: expected input .* got \(3,\)"),
    ],
)
def test_wrong_input_shapes_name_the_layer_and_the_shapes(layer, shape, message):
    net = md.Network(layers.Identity(), layer)
    with pytest.raises(ValueError, match="layer 1, " + message):
        net(np.zeros(shape, np.float32))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_batches_are_refused_before_computing(bad):
    net = md.Network(layers.Dense(2, 2))
    x = np.zeros((3, 2), np.float32)
    x[1, 0] = bad
    with pytest.raises(ValueError, match=r"input batch of shape \(3, 2\) contains NaN or Inf"):
        net(x)


def test_bad_layer_arguments():
    with pytest.raises(ValueError, match="Dense: in_features must be a positive integer"):
        layers.Dense(0, 3)
    with pytest.raises(ValueError, match="Conv2d: padding must be an int >= 0"):
        layers.Conv2d(1, 1, 3, padding=-1)
    with pytest.raises(ValueError, match=r"Dropout: p must lie in \[0, 1\)"):
        layers.Dropout(1.0)
    with pytest.raises(TypeError, match="item 1 is a int"):
        layers.Sequential(layers.ReLU(), 3)
    with pytest.raises(RuntimeError, match="no parameters yet"):
        layers.Dense(2, 2)(np.zeros((1, 2), np.float32))
