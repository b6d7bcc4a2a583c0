"""Convolution and pooling: values against naive loops, the argmax rule, argument errors, dtypes, HVPs.

Derivatives at first and second order are checked by the op table (tests/test_ops.py); here the
forward values meet independent nested-loop references, and whole small networks meet the checks.
"""

from __future__ import annotations

import numpy as np
import pytest

from minidnn import Tensor, backend, function, grad, ops
from minidnn.derivatives import hvp
from minidnn.gradcheck import check_hvp

BACKENDS = ["numpy", "array-api-strict"]


# -- naive references (float64 NumPy loops over every output element) -------------------------------
def pad(x, p, value=0.0):
    (ph, pw) = p
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def out_size(size, k, s, p):
    return (size + 2 * p - k) // s + 1


def naive_conv(x, w, b, stride, padding):
    n, _, h, wd = x.shape
    o, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, padding
    xp = pad(x, padding)
    oh, ow = out_size(h, kh, sh, ph), out_size(wd, kw, sw, pw)
    y = np.zeros((n, o, oh, ow))
    for i in range(n):
        for c in range(o):
            for p in range(oh):
                for q in range(ow):
                    patch = xp[i, :, p * sh : p * sh + kh, q * sw : q * sw + kw]
                    y[i, c, p, q] = np.sum(patch * w[c]) + (0.0 if b is None else b[c])
    return y


def naive_pool(x, kernel, stride, padding, reduce, fill):
    n, c, h, wd = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    xp = pad(x, padding, fill)
    oh, ow = out_size(h, kh, sh, ph), out_size(wd, kw, sw, pw)
    y = np.zeros((n, c, oh, ow))
    for i in range(n):
        for j in range(c):
            for p in range(oh):
                for q in range(ow):
                    y[i, j, p, q] = reduce(xp[i, j, p * sh : p * sh + kh, q * sw : q * sw + kw])
    return y


def run(backend_name, fn, *arrays):
    b = backend.get(backend_name)
    return b.to_host(fn(*[Tensor(b.to_device(a, dtype="float64")) for a in arrays]).data)


# -- forward values ----------------------------------------------------------------------------------
CONV_GEOMETRIES = [
    ((2, 3, 7, 6), (4, 3, 3, 2), 1, 0),
    ((2, 3, 7, 6), (4, 3, 3, 3), 2, 1),
    ((1, 2, 8, 9), (3, 2, 2, 3), (2, 3), (1, 2)),
    ((2, 1, 5, 5), (2, 1, 5, 5), 1, 0),
    ((1, 2, 4, 5), (3, 2, 3, 3), 3, 2),
    ((2, 2, 6, 6), (3, 2, 1, 1), 1, 0),
]


def _pair(v):
    return (v, v) if isinstance(v, int) else v


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("x_shape, w_shape, stride, padding", CONV_GEOMETRIES)
def test_conv2d_matches_naive_loops(backend_name, bias, x_shape, w_shape, stride, padding):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    expected = naive_conv(x, w, b if bias else None, _pair(stride), _pair(padding))
    if bias:
        got = run(backend_name, lambda x, w, b: ops.conv2d(x, w, b, stride, padding), x, w, b)
    else:
        got = run(backend_name, lambda x, w: ops.conv2d(x, w, stride=stride, padding=padding), x, w)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_conv2d_input_memory_layout_does_not_matter():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((3, 2, 6, 5)), rng.standard_normal((4, 2, 3, 3))
    expected = naive_conv(x, w, None, (1, 1), (0, 0))
    for view in (
        np.asfortranarray(x),
        x[:, :, ::-1, :][:, :, ::-1, :],
        x.transpose(1, 0, 2, 3).copy().transpose(1, 0, 2, 3),
    ):
        np.testing.assert_allclose(ops.conv2d(Tensor(view), Tensor(w)).data, expected, rtol=1e-12, atol=1e-12)


POOL_GEOMETRIES = [
    ((2, 3, 6, 6), 2, None, 0),
    ((2, 3, 7, 5), 2, None, 0),
    ((1, 2, 7, 7), 3, 1, 0),
    ((1, 2, 7, 6), 3, 2, 1),
    ((2, 1, 5, 6), (2, 3), (1, 2), (1, 1)),
    ((1, 1, 4, 4), 1, 2, 0),
]


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("x_shape, kernel, stride, padding", POOL_GEOMETRIES)
def test_max_pool2d_matches_naive_loops(backend_name, x_shape, kernel, stride, padding):
    x = np.random.default_rng(2).standard_normal(x_shape)
    k = _pair(kernel)
    s = k if stride is None else _pair(stride)
    expected = naive_pool(x, k, s, _pair(padding), np.max, -np.inf)
    got = run(backend_name, lambda x: ops.max_pool2d(x, kernel, stride, padding), x)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("x_shape, kernel, stride, padding", POOL_GEOMETRIES)
def test_avg_pool2d_matches_naive_loops_counting_padding(backend_name, x_shape, kernel, stride, padding):
    x = np.random.default_rng(3).standard_normal(x_shape)
    k = _pair(kernel)
    s = k if stride is None else _pair(stride)
    expected = naive_pool(x, k, s, _pair(padding), np.mean, 0.0)
    got = run(backend_name, lambda x: ops.avg_pool2d(x, kernel, stride, padding), x)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


# -- max pooling's gradient: the first maximum, accumulated over overlapping windows ------------------
def pool_grad(x, kernel, stride=None, padding=0, gy=None):
    leaf = Tensor(x, requires_grad=True)
    y = ops.max_pool2d(leaf, kernel, stride, padding)
    weights = np.ones(y.shape) if gy is None else gy
    return grad(ops.sum(y * Tensor(weights)), leaf).data


def test_max_pool2d_ties_go_to_the_first_maximum_in_row_major_order():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 2:, 2:] = [[5.0, 7.0], [7.0, 1.0]]
    g = pool_grad(x, 2)
    expected = np.zeros((1, 1, 4, 4))
    expected[0, 0, 0, 0] = expected[0, 0, 0, 2] = expected[0, 0, 2, 0] = 1.0
    expected[0, 0, 2, 3] = 1.0
    np.testing.assert_array_equal(g, expected)


def test_max_pool2d_overlapping_windows_accumulate():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    g = pool_grad(x, 2, 1, gy=np.arange(1.0, 10.0).reshape(1, 1, 3, 3))
    expected = np.zeros((1, 1, 4, 4))
    expected[0, 0, 1:, 1:] = np.arange(1.0, 10.0).reshape(3, 3)
    np.testing.assert_array_equal(g, expected)
    peak = np.zeros((1, 1, 3, 3))
    peak[0, 0, 1, 1] = 1.0
    np.testing.assert_array_equal(
        pool_grad(peak, 2, 1)[0, 0], [[0.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 0.0]]
    )
    ties = pool_grad(np.ones((1, 1, 3, 3)), 2, 1)
    np.testing.assert_array_equal(ties[0, 0], [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])


def test_max_pool2d_never_routes_to_padding():
    x = -np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    g = pool_grad(x, 3, 1, 1)
    assert np.all(g >= 0) and g.sum() == 9.0
    assert g[0, 0, 0, 0] == 4.0


# -- argument errors: ValueErrors naming the op and the shapes, raised before any computation --------
def f32(*shape):
    return Tensor(np.zeros(shape, dtype=np.float32))


BAD_CALLS = [
    ("conv2d", lambda: ops.conv2d(f32(3, 5, 5), f32(2, 3, 3, 3)), "(3, 5, 5)"),
    ("conv2d", lambda: ops.conv2d(f32(1, 3, 5, 5), f32(2, 3, 3)), "(2, 3, 3)"),
    ("conv2d", lambda: ops.conv2d(f32(1, 3, 5, 5), f32(2, 4, 3, 3)), "(2, 4, 3, 3)"),
    ("conv2d", lambda: ops.conv2d(f32(1, 3, 5, 5), f32(2, 3, 3, 3), f32(3)), "(3,)"),
    ("conv2d", lambda: ops.conv2d(f32(1, 3, 5, 5), f32(2, 3, 3, 3), f32(2, 1)), "(2, 1)"),
    ("conv2d", lambda: ops.conv2d(f32(1, 3, 2, 5), f32(2, 3, 3, 3)), "(1, 3, 2, 5)"),
    ("conv2d", lambda: ops.conv2d(f32(1, 3, 5, 5), f32(2, 3, 3, 3), stride=0), "(1, 3, 5, 5)"),
    ("conv2d", lambda: ops.conv2d(f32(1, 3, 5, 5), f32(2, 3, 3, 3), stride=(1, -1)), "(2, 3, 3, 3)"),
    ("conv2d", lambda: ops.conv2d(f32(1, 3, 5, 5), f32(2, 3, 3, 3), padding=-1), "(1, 3, 5, 5)"),
    ("conv2d", lambda: ops.conv2d(f32(1, 3, 5, 5), Tensor(np.zeros((2, 3, 3, 3)))), "(2, 3, 3, 3)"),
    ("max_pool2d", lambda: ops.max_pool2d(f32(5, 5), 2), "(5, 5)"),
    ("max_pool2d", lambda: ops.max_pool2d(f32(1, 1, 2, 5), 3), "(1, 1, 2, 5)"),
    ("max_pool2d", lambda: ops.max_pool2d(f32(1, 1, 5, 5), 2, stride=0), "(1, 1, 5, 5)"),
    ("max_pool2d", lambda: ops.max_pool2d(f32(1, 1, 5, 5), 2, padding=2), "(1, 1, 5, 5)"),
    ("max_pool2d", lambda: ops.max_pool2d(f32(1, 1, 5, 5), 0), "(1, 1, 5, 5)"),
    ("avg_pool2d", lambda: ops.avg_pool2d(f32(2, 1, 5), 2), "(2, 1, 5)"),
    ("avg_pool2d", lambda: ops.avg_pool2d(f32(1, 1, 5, 1), (1, 2)), "(1, 1, 5, 1)"),
    ("avg_pool2d", lambda: ops.avg_pool2d(f32(1, 1, 5, 5), 2, stride=-2), "(1, 1, 5, 5)"),
    ("avg_pool2d", lambda: ops.avg_pool2d(f32(1, 1, 5, 5), 3, padding=(0, 2)), "(1, 1, 5, 5)"),
]


@pytest.mark.parametrize(
    "op, call, shape", BAD_CALLS, ids=[f"{op}-{i}" for i, (op, _, _) in enumerate(BAD_CALLS)]
)
def test_bad_arguments_raise_value_errors_naming_the_op_and_shapes(op, call, shape):
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value).startswith(f"{op}:")
    assert shape in str(info.value)


def test_errors_come_before_any_computation(monkeypatch):
    def refuse(self, *inputs):
        raise AssertionError(f"{type(self).__name__} ran before the arguments were checked")

    monkeypatch.setattr(function.Function, "__call__", refuse)
    for _, call, _ in BAD_CALLS:
        with pytest.raises(ValueError):
            call()


# -- float32 stays float32 through forward, backward and both HVP modes ------------------------------
def small_net(x, w1, b1, w2):
    h = ops.max_pool2d(ops.relu(ops.conv2d(x, w1, b1, padding=1)), 2, 1)
    h = ops.avg_pool2d(ops.tanh(ops.conv2d(h, w2, stride=2)), 2, padding=1)
    return ops.sum(h * h)


def net_inputs(dtype):
    rng = np.random.default_rng(4)
    shapes = [(2, 2, 7, 7), (3, 2, 3, 3), (3,), (2, 3, 2, 2)]
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def test_float32_stays_float32_in_every_node(monkeypatch):
    seen = set()
    call = function.Function.__call__

    def recording(self, *inputs):
        y = call(self, *inputs)
        seen.add((type(self).__name__, str(y.dtype), str(getattr(y.tangent, "dtype", y.dtype))))
        return y

    monkeypatch.setattr(function.Function, "__call__", recording)
    primals = net_inputs(np.float32)
    rng = np.random.default_rng(7)
    vectors = [rng.standard_normal(p.shape).astype(np.float32) for p in primals]
    for mode in ("forward-over-reverse", "reverse-over-reverse"):
        result = hvp(small_net, primals, vectors, mode=mode)
        assert all(t.dtype == np.float32 for t in [result.value, *result.grads, *result.hvps])
    assert seen and all(dtype == "float32" and tangent == "float32" for _, dtype, tangent in seen), seen


# -- second derivatives through whole networks ---------------------------------------------------------
def test_hvp_of_a_relu_conv_net_is_exact_in_both_modes():
    primals = net_inputs(np.float64)
    rng = np.random.default_rng(5)
    vectors = [rng.standard_normal(p.shape) for p in primals]
    forward = hvp(small_net, primals, vectors, mode="forward-over-reverse").hvps
    reverse = hvp(small_net, primals, vectors, mode="reverse-over-reverse").hvps
    for f, r in zip(forward, reverse):
        np.testing.assert_allclose(f.data, r.data, rtol=1e-10, atol=1e-12)
    check_hvp(small_net, primals, directions=2)


def piecewise_linear(x, w):
    h = ops.max_pool2d(ops.relu(ops.conv2d(x, w, padding=1)), 2)
    return ops.sum(h * Tensor(np.linspace(-1.0, 1.0, h.size).reshape(h.shape)))


@pytest.mark.parametrize("mode", ["forward-over-reverse", "reverse-over-reverse"])
def test_piecewise_linear_net_has_zero_curvature_in_the_input(mode):
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))
    v = rng.standard_normal(x.shape)
    h_xx = hvp(lambda x: piecewise_linear(x, Tensor(w)), [x], [v], mode=mode).hvps[0]
    np.testing.assert_array_equal(h_xx.data, np.zeros_like(x))
    joint = hvp(piecewise_linear, [x, w], [v, np.zeros_like(w)], mode=mode).hvps
    np.testing.assert_array_equal(joint[0].data, np.zeros_like(x))
    assert np.abs(joint[1].data).max() > 0  # the input's contribution to the weights' gradient
    check_hvp(piecewise_linear, [x, w], directions=1)
