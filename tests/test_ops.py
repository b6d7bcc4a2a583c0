"""Every primitive at first and second order, from one table (one line per op).

Each case draws its inputs with hypothesis (away from kinks and overflow) and, where the op needs
them, constants (axes, indices, conditions). The same table runs on NumPy and on the strict device
(array-api-strict on a non-CPU device), in float64 and float32:

- first order: ``check_grad`` (reverse mode and forward mode against a float64 central difference);
- second order: ``check_hvp`` in both modes on F(x) = <w1, y> + 1/2 <w2, y * y>, y = op(x), so that
  linear ops (whose own Hessian is zero) still have their backward differentiated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minidnn import backend, losses, ops
from minidnn.gradcheck import check_grad, check_hvp
from minidnn.testing import arrays, broadcastable_shapes, separated_pair, shapes


@dataclass(frozen=True)
class Case:
    name: str
    draw: st.SearchStrategy  # -> (tuple of float64 arrays, dict of constants)
    fn: Callable  # fn(*tensors, **constants) -> Tensor
    strict: str | None = None  # why the strict stand-in cannot serve this op, if it cannot


def unary(low=-2.0, high=2.0, kinks=(), margin=0.05, min_dims=0, max_dims=3, min_side=1):
    return shapes(min_dims, max_dims, min_side).flatmap(
        lambda s: arrays(s, low, high, kinks, margin).map(lambda a: ((a,), {}))
    )


def binary(b_low=-2.0, b_high=2.0, b_kinks=(), b_margin=0.05):
    @st.composite
    def draw(d):
        shape = d(shapes())
        other = d(broadcastable_shapes(shape))
        if d(st.booleans()):
            shape, other = other, shape
        a = d(arrays(shape))
        b = d(arrays(other, b_low, b_high, b_kinks, b_margin))
        return (a, b), {}

    return draw()


@st.composite
def separated(d):
    a, b = d(separated_pair(d(shapes())))
    return (a, b), {}


@st.composite
def with_condition(d):
    shape = d(shapes())
    a, b = d(arrays(shape)), d(arrays(d(broadcastable_shapes(shape))))
    cond = d(arrays(d(broadcastable_shapes(shape)))) > 0
    return (a, b), {"cond": cond}


@st.composite
def with_axis(d, min_dims=1):
    shape = d(shapes(min_dims=min_dims))
    axis = d(st.sampled_from([None, *range(-len(shape), len(shape))]))
    return (d(arrays(shape)),), {"axis": axis, "keepdims": d(st.booleans())}


@st.composite
def with_one_axis(d):
    shape = d(shapes(min_dims=1))
    return (d(arrays(shape, -3.0, 3.0)),), {"axis": d(st.integers(-len(shape), len(shape) - 1))}


@st.composite
def permuted(d):
    shape = d(shapes())
    return (d(arrays(shape)),), {"axes": tuple(d(st.permutations(range(len(shape)))))}


@st.composite
def reshaped(d):
    shape = d(shapes())
    size = int(np.prod(shape))
    divisors = [k for k in range(1, size + 1) if size % k == 0]
    k = d(st.sampled_from(divisors))
    return (d(arrays(shape)),), {"shape": (k, -1)}


@st.composite
def broadcast_case(d):
    target = d(shapes())
    return (d(arrays(d(broadcastable_shapes(target)))),), {"shape": target}


@st.composite
def sum_to_case(d):
    source = d(shapes())
    return (d(arrays(source)),), {"shape": d(broadcastable_shapes(source))}


@st.composite
def matmul_case(d, batch=False):
    m, k, n = (d(st.integers(1, 4)) for _ in range(3))
    lead = d(shapes(max_dims=2)) if batch else ()
    transa, transb = d(st.booleans()), d(st.booleans())
    a_shape = lead + ((k, m) if transa else (m, k))
    b_lead = d(broadcastable_shapes(lead)) if batch else ()
    b_shape = b_lead + ((n, k) if transb else (k, n))
    return (d(arrays(a_shape)), d(arrays(b_shape))), {"transa": transa, "transb": transb}


@st.composite
def matvec_case(d):
    m, k = d(st.integers(1, 4)), d(st.integers(1, 4))
    if d(st.booleans()):
        return (d(arrays((m, k))), d(arrays((k,)))), {}
    return (d(arrays((k,))), d(arrays((k, m)))), {}


@st.composite
def basic_index_case(d):
    shape = d(shapes(min_dims=2))
    index = (slice(d(st.integers(0, shape[0] - 1)), None), Ellipsis, slice(None, None, d(st.integers(1, 2))))
    if d(st.booleans()):
        index = (d(st.integers(-shape[0], shape[0] - 1)), None) + index[1:]
    return (d(arrays(shape)),), {"index": index}


@st.composite
def array_index_case(d):
    shape = d(shapes(min_dims=1))
    picks = d(st.lists(st.integers(0, shape[0] - 1), min_size=1, max_size=6))
    return (d(arrays(shape)),), {"indices": np.array(picks, dtype=np.int64)}


@st.composite
def take_case(d):
    shape = d(shapes(min_dims=1))
    axis = d(st.integers(-len(shape), len(shape) - 1))
    picked = list(shape)
    picked[axis] = d(st.integers(1, 4))
    idx = d(arrays(picked, 0, shape[axis] - 1e-9)).astype(np.int64)
    return (d(arrays(shape)),), {"indices": idx, "axis": axis}


@st.composite
def join_case(d, new_axis=False):
    shape = d(shapes(min_dims=1))
    count = d(st.integers(1, 3))
    if new_axis:
        axis = d(st.integers(-len(shape) - 1, len(shape)))
        return tuple(d(arrays(shape)) for _ in range(count)), {"axis": axis}
    axis = d(st.integers(0, len(shape) - 1))
    parts = []
    for _ in range(count):
        s = list(shape)
        s[axis] = d(st.integers(1, 3))
        parts.append(d(arrays(s)))
    return tuple(parts), {"axis": axis}


@st.composite
def window_geometry(d, pool=False):
    """(N, C, H, W), kernel, stride, padding with OH, OW >= 1 (padding <= kernel // 2 for pooling)."""
    kh, kw = d(st.integers(1, 3)), d(st.integers(1, 3))
    ph = d(st.integers(0, kh // 2 if pool else 2))
    pw = d(st.integers(0, kw // 2 if pool else 2))
    h, w = d(st.integers(max(1, kh - 2 * ph), 7)), d(st.integers(max(1, kw - 2 * pw), 7))
    shape = (d(st.integers(1, 2)), d(st.integers(1, 3)), h, w)
    return shape, (kh, kw), (d(st.integers(1, 3)), d(st.integers(1, 3))), (ph, pw)


@st.composite
def conv_case(d):
    shape, kernel, stride, padding = d(window_geometry())
    w = d(arrays((d(st.integers(1, 3)), shape[1], *kernel)))
    b = (d(arrays((w.shape[0],))),) if d(st.booleans()) else ()
    return (d(arrays(shape)), w, *b), {"stride": stride, "padding": padding}


@st.composite
def pool_case(d, distinct=False):
    shape, kernel, stride, padding = d(window_geometry(pool=True))
    if distinct:
        size = int(np.prod(shape))
        ranks = np.array(d(st.permutations(range(size))), dtype=np.float64).reshape(shape)
        x = (ranks - size / 2) * (4.0 / size)
    else:
        x = d(arrays(shape))
    return (x,), {"kernel": kernel, "stride": stride, "padding": padding}


@st.composite
def linear_case(d):
    n, fan_in, fan_out = (d(st.integers(1, 4)) for _ in range(3))
    return (d(arrays((n, fan_in))), d(arrays((fan_out, fan_in))), d(arrays((fan_out,)))), {}


@st.composite
def cross_entropy_case(d):
    n, c = d(st.integers(1, 5)), d(st.integers(1, 5))
    labels = np.array(d(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), dtype=np.int64)
    return (d(arrays((n, c), -4.0, 4.0)),), {"labels": labels}


NO_SCATTER = "integer-array scatter-add: the Array API standard has none, so the strict stand-in refuses it"

CASES = [
    Case("add", binary(), lambda a, b: a + b),
    Case("sub", binary(), lambda a, b: a - b),
    Case("mul", binary(), lambda a, b: a * b),
    Case("div", binary(b_kinks=(0.0,), b_margin=0.5), lambda a, b: a / b),
    Case("neg", unary(), lambda x: -x),
    Case("add_scalar", unary(), lambda x: 2.5 + x - 1.0),
    Case("rsub_scalar", unary(), lambda x: 1.0 - x),
    Case("mul_scalar", unary(), lambda x: 3.0 * x / 2.0),
    Case("rdiv_scalar", unary(kinks=(0.0,), margin=0.5), lambda x: 1.5 / x),
    Case("pow_int", unary(), lambda x: x**3),
    Case("pow_fraction", unary(0.2, 3.0), lambda x: x**1.5),
    Case("pow_negative", unary(0.3, 3.0), lambda x: x**-2),
    Case("exp", unary(), ops.exp),
    Case("log", unary(0.2, 4.0), ops.log),
    Case("tanh", unary(), ops.tanh),
    Case("sigmoid", unary(-6.0, 6.0), ops.sigmoid),
    Case("softplus", unary(-6.0, 6.0), ops.softplus),
    Case("relu", unary(kinks=(0.0,)), ops.relu),
    Case("abs", unary(kinks=(0.0,)), ops.abs),
    Case("maximum", separated(), ops.maximum),
    Case("minimum", separated(), ops.minimum),
    Case("where", with_condition(), lambda a, b, cond: ops.where(cond, a, b)),
    Case("sum", with_axis(), lambda x, axis, keepdims: ops.sum(x, axis=axis, keepdims=keepdims)),
    Case("mean", with_axis(), lambda x, axis, keepdims: ops.mean(x, axis=axis, keepdims=keepdims)),
    Case("reshape", reshaped(), lambda x, shape: ops.reshape(x, shape)),
    Case("transpose", permuted(), lambda x, axes: ops.transpose(x, axes)),
    Case("broadcast_to", broadcast_case(), lambda x, shape: ops.broadcast_to(x, shape)),
    Case("sum_to", sum_to_case(), lambda x, shape: ops.sum_to(x, shape)),
    Case("matmul", matmul_case(), lambda a, b, transa, transb: ops.matmul(a, b, transa, transb)),
    Case(
        "matmul_batched",
        matmul_case(batch=True),
        lambda a, b, transa, transb: ops.matmul(a, b, transa, transb),
    ),
    Case("matmul_vector", matvec_case(), lambda a, b: a @ b),
    Case("getitem_basic", basic_index_case(), lambda x, index: x[index]),
    Case("getitem_array", array_index_case(), lambda x, indices: x[indices], strict=NO_SCATTER),
    Case("take_along_axis", take_case(), lambda x, indices, axis: ops.take_along_axis(x, indices, axis)),
    Case("logsumexp", with_one_axis(), lambda x, axis: ops.logsumexp(x, axis=axis)),
    Case("log_softmax", with_one_axis(), lambda x, axis: ops.log_softmax(x, axis=axis)),
    Case("softmax", with_one_axis(), lambda x, axis: ops.softmax(x, axis=axis)),
    Case("concat", join_case(), lambda *xs, axis: ops.concat(xs, axis=axis)),
    Case("stack", join_case(new_axis=True), lambda *xs, axis: ops.stack(xs, axis=axis)),
    Case("conv2d", conv_case(), lambda x, w, b=None, **geometry: ops.conv2d(x, w, b, **geometry)),
    Case("max_pool2d", pool_case(distinct=True), lambda x, **geometry: ops.max_pool2d(x, **geometry)),
    Case("avg_pool2d", pool_case(), lambda x, **geometry: ops.avg_pool2d(x, **geometry)),
    Case("elu", unary(kinks=(0.0,)), lambda x: ops.elu(x, 0.7)),
    Case("linear", linear_case(), ops.linear),
    Case(
        "softmax_cross_entropy",
        cross_entropy_case(),
        lambda z, labels: losses.softmax_cross_entropy(z, labels),
    ),
    Case("reuse", unary(), lambda x: x * x + ops.exp(x) * x),
]


def _setup(case: Case, backend_name: str, dtype: str, drawn):
    if backend_name == "array-api-strict" and case.strict:
        pytest.skip(case.strict)
    b = backend.get(backend_name)
    inputs, constants = drawn
    xs = [b.to_device(a, dtype=dtype) for a in inputs]
    consts = {
        k: b.to_device(v) if isinstance(v, np.ndarray | np.generic) else v for k, v in constants.items()
    }

    def fn(*ts):
        return case.fn(*ts, **consts)

    fn.__name__ = case.name
    return b, xs, fn


def _quadratic_scalarization(fn, b, xs):
    """F(x) = <w1, y> + 1/2 <w2, y * y> with y = fn(x) and fixed random weights."""
    from minidnn import Tensor, no_grad

    with no_grad():
        shape = fn(*[Tensor(x) for x in xs]).shape
    rng = np.random.default_rng(1)
    w1, w2 = (b.to_device(rng.standard_normal(shape), dtype="float64") for _ in range(2))

    def scalar(*ts):
        y = fn(*ts)
        v1, v2 = (b.xp.astype(w, y.dtype) for w in (w1, w2))
        return ops.sum(y * v1) + 0.5 * ops.sum(y * y * v2)

    scalar.__name__ = f"quadratic({fn.__name__})"
    return scalar


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@given(data=st.data())
def test_first_order(case, backend_name, dtype, data):
    b, xs, fn = _setup(case, backend_name, dtype, data.draw(case.draw, label="inputs"))
    check_grad(fn, xs, directions=2)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@given(data=st.data())
def test_second_order(case, backend_name, dtype, data):
    b, xs, fn = _setup(case, backend_name, dtype, data.draw(case.draw, label="inputs"))
    check_hvp(_quadratic_scalarization(fn, b, xs), xs, directions=1)


def test_table_covers_every_public_primitive():
    covered = {c.name.split("_")[0] for c in CASES} | {c.name for c in CASES}
    aliases = {"getitem": "getitem", "compare": None, "expand_dims": "stack"}
    for name in ops.__all__:
        target = aliases.get(name, name)
        assert target is None or target in covered, f"ops.{name} has no line in the table"
