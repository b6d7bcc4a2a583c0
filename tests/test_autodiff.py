"""The graph and the engine: accumulation, deep graphs, pruning, higher order, modes and bad input."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import minidnn as md
from minidnn import Function, Tensor, backend, ops
from minidnn.derivatives import MODES
from minidnn.testing import graph_tensors


def leaf(values, dtype=np.float64, be="numpy"):
    return Tensor(backend.get(be).to_device(np.asarray(values, dtype=dtype)), requires_grad=True)


def host(t):
    return t.backend.to_host(t.data)


def test_a_value_used_twice_accumulates_both_gradients():
    x = leaf([1.0, -2.0, 3.0])
    y = (x * x + x).sum()
    np.testing.assert_allclose(host(md.grad(y, x)), 2 * host(x) + 1)


def test_deep_graphs_need_no_recursion():
    x = leaf(0.5)
    y = x
    for _ in range(20000):
        y = y * 1.0001 + 0.0
    g = md.grad(y, x)
    np.testing.assert_allclose(host(g), 1.0001**20000, rtol=1e-9)


class CountingIdentity(Function):
    calls = 0

    def forward(self, x):
        return x

    def backward(self, gy):
        CountingIdentity.calls += 1
        return (gy,)

    def jvp(self, dx):
        return dx


def test_branches_that_do_not_lead_to_the_inputs_are_pruned():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    CountingIdentity.calls = 0
    y = (CountingIdentity()(b) * 2.0).sum() + (a * a).sum()
    md.grad(y, a)
    assert CountingIdentity.calls == 0
    md.grad(y, [a, b])
    assert CountingIdentity.calls == 1


def test_grad_leaves_no_state_behind():
    x = leaf([1.0, 2.0])
    y = (ops.exp(x) * x).sum()
    first = host(md.grad(y, x))
    second = host(md.grad(y, x))
    np.testing.assert_array_equal(first, second)
    assert not hasattr(x, "grad")
    assert md.is_grad_enabled()


def test_grad_mode_is_restored_when_backward_raises():
    class Broken(CountingIdentity):
        def backward(self, gy):
            raise RuntimeError("boom")

    x = leaf([1.0])
    y = Broken()(x).sum()
    with pytest.raises(RuntimeError, match="boom"):
        md.grad(y, x)
    assert md.is_grad_enabled()


def test_unused_inputs_get_zeros():
    a, b = leaf([1.0, 2.0]), leaf([[3.0]])
    ga, gb = md.grad((a * a).sum(), [a, b])
    np.testing.assert_array_equal(host(gb), [[0.0]])
    assert gb.shape == b.shape and gb.dtype == b.dtype


def test_single_input_gives_a_tensor_and_a_list_gives_a_list():
    x = leaf([1.0])
    assert isinstance(md.grad(x.sum(), x), Tensor)
    assert isinstance(md.grad(x.sum(), [x]), list)


def test_higher_derivatives_with_create_graph():
    x = leaf(1.5)
    y = x**4
    (g1,) = md.grad(y, [x], create_graph=True)
    (g2,) = md.grad(g1, [x], create_graph=True)
    (g3,) = md.grad(g2, [x])
    np.testing.assert_allclose([host(g1), host(g2), host(g3)], [4 * 1.5**3, 12 * 1.5**2, 24 * 1.5])


def test_grad_of_an_intermediate_tensor():
    x = leaf([1.0, 2.0])
    h = x * 3.0
    y = (h * h).sum()
    gh, gx = md.grad(y, [h, x])
    np.testing.assert_allclose(host(gh), 2 * host(h))
    np.testing.assert_allclose(host(gx), 18 * host(x))


def test_grad_outputs_weight_a_non_scalar_output():
    x = leaf([1.0, 2.0, 3.0])
    w = np.array([1.0, 0.0, 2.0])
    g = md.grad(x * x, x, grad_outputs=w)
    np.testing.assert_allclose(host(g), 2 * host(x) * w)


def test_forward_mode_matches_the_gradient():
    rng = np.random.default_rng(0)
    x, v = rng.standard_normal(5), rng.standard_normal(5)

    def f(t):
        return ops.logsumexp(ops.tanh(t) * t)

    value, tangent = md.jvp(f, [x], [v])
    xt = leaf(x)
    g = host(md.grad(f(xt), xt))
    np.testing.assert_allclose(host(tangent), g @ v, rtol=1e-12)
    assert value.creator is None


def test_hvp_modes_agree_on_an_mlp():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((7, 4))
    labels = rng.integers(0, 3, (7, 1))
    params = [
        rng.standard_normal((5, 4)),
        rng.standard_normal(5),
        rng.standard_normal((3, 5)),
        rng.standard_normal(3),
    ]
    vs = [rng.standard_normal(p.shape) for p in params]

    def loss(w1, b1, w2, b2):
        h = ops.tanh(ops.matmul(Tensor(x), w1, transb=True) + b1)
        z = ops.matmul(h, w2, transb=True) + b2
        return ops.mean(ops.logsumexp(z, axis=1) - ops.take_along_axis(z, labels, axis=1)[:, 0])

    results = [md.hvp(loss, params, vs, mode=m) for m in MODES]
    for a, b in zip(results[0].hvps, results[1].hvps):
        np.testing.assert_allclose(host(a), host(b), rtol=1e-10, atol=1e-12)
    for a, b in zip(results[0].grads, results[1].grads):
        np.testing.assert_allclose(host(a), host(b), rtol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_piecewise_linear_net_has_a_zero_hessian_not_an_error(mode):
    rng = np.random.default_rng(2)
    x = Tensor(rng.standard_normal((6, 3)))
    w1, w2 = rng.standard_normal((4, 3)), rng.standard_normal((1, 4))

    def f(a, b):
        return ops.sum(ops.matmul(ops.relu(ops.matmul(x, a, transb=True)), b, transb=True))

    out = md.hvp(f, [w1, w2], [np.ones_like(w1), np.zeros_like(w2)], mode=mode)
    assert not np.any(host(out.hvps[0]))


def test_inputs_are_never_mutated():
    rng = np.random.default_rng(3)
    p = rng.standard_normal((3, 3))
    v = rng.standard_normal((3, 3))
    before = (p.copy(), v.copy())
    md.hvp(lambda t: ops.sum(ops.exp(t) @ t), [p], [v])
    np.testing.assert_array_equal(p, before[0])
    np.testing.assert_array_equal(v, before[1])


def test_no_grad_records_nothing_and_nests():
    x = leaf([1.0])
    with md.no_grad():
        y = x * 2.0
        with md.enable_grad():
            z = x * 2.0
    assert y.creator is None and not y.requires_grad
    assert z.creator is not None
    assert md.is_grad_enabled()


def test_grad_mode_is_per_thread():
    seen = []
    with md.no_grad():
        t = threading.Thread(target=lambda: seen.append(md.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]


def test_float32_graphs_hold_no_float64_anywhere():
    rng = np.random.default_rng(4)
    x = Tensor(rng.standard_normal((5, 4)).astype(np.float32))
    params = [leaf(rng.standard_normal(s), np.float32) for s in [(3, 4), (3,)]]
    v = [Tensor(p.data, tangent=rng.standard_normal(p.shape).astype(np.float32)) for p in params]
    for ps in (params, [Tensor(p.data, requires_grad=True, tangent=t.tangent) for p, t in zip(params, v)]):
        z = ops.matmul(x, ps[0], transb=True) + ps[1]
        loss = ops.mean(ops.logsumexp(ops.sigmoid(z) * 3.0 - 1.0 / (1.0 + ops.softplus(z)), axis=1))
        grads = md.grad(loss, ps, create_graph=True)
        for t in [loss, *grads, *graph_tensors(loss, grads[0])]:
            assert t.dtype == np.float32, t
            assert t.tangent is None or t.tangent.dtype == np.float32


def test_the_strict_device_runs_a_whole_hvp_without_host_transfers():
    be = backend.get("array-api-strict")
    rng = np.random.default_rng(5)
    w = be.to_device(rng.standard_normal((3, 4)))
    v = be.to_device(rng.standard_normal((3, 4)))
    x = Tensor(be.to_device(rng.standard_normal((2, 4))))
    before = be.host_transfers
    out = md.hvp(lambda t: ops.sum(ops.tanh(ops.matmul(x, t, transb=True)) ** 2), [w], [v])
    assert be.host_transfers == before
    assert backend.of(out.hvps[0].data) is be


# -- bad input -------------------------------------------------------------------------------------
def test_grad_of_a_non_scalar_needs_grad_outputs():
    x = leaf([1.0, 2.0])
    with pytest.raises(ValueError, match=r"output 0 has shape \(2,\).*grad_outputs"):
        md.grad(x * x, x)


def test_grad_outputs_must_match_the_output():
    x = leaf([1.0, 2.0])
    with pytest.raises(ValueError, match=r"grad_outputs\[0\] has shape \(3,\)"):
        md.grad(x * x, x, grad_outputs=np.ones(3))


def test_differentiating_a_tensor_that_does_not_require_grad():
    x = Tensor(np.ones(2))
    with pytest.raises(ValueError, match=r"input 0 \(shape \(2,\)\) does not require grad"):
        md.grad((x * x).sum(), x)


def test_shape_mismatch_names_the_operation_and_shapes():
    a, b = leaf(np.ones((2, 3))), leaf(np.ones(4))
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\) do not broadcast"):
        a + b
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4,\) are not aligned"):
        ops.matmul(a, b)
    with pytest.raises(ValueError, match=r"reshape: cannot reshape \(2, 3\)"):
        a.reshape(4, 2)


def test_mixing_dtypes_is_refused():
    with pytest.raises(
        ValueError, match=r"mul: operands have different dtypes \(float32 with shape \(2,\), float64"
    ):
        leaf([1.0, 2.0], np.float32) * leaf([1.0, 2.0], np.float64)


def test_mixing_backends_is_refused():
    a = leaf([1.0, 2.0])
    b = leaf([1.0, 2.0], be="array-api-strict")
    with pytest.raises(ValueError, match="sub: operands live on different backends .numpy.*array-api-strict"):
        a - b


def test_requires_grad_needs_a_floating_dtype():
    with pytest.raises(ValueError, match="floating dtype"):
        Tensor(np.arange(3), requires_grad=True)


def test_tangents_must_match_their_data():
    with pytest.raises(ValueError, match="tangent must match"):
        Tensor(np.ones(3), tangent=np.ones(2))


def test_tensor_conveniences():
    t = Tensor([1.5, 2.5])
    assert t.dtype == np.float32 and t.shape == (2,) and len(t) == 2
    assert Tensor(np.float32(2.0)).item() == 2.0
    with pytest.raises(TypeError, match="ambiguous"):
        bool(t)
    assert "requires_grad" in repr(leaf([1.0]))
    d = (leaf([1.0]) * 2.0).detach()
    assert d.creator is None and not d.requires_grad


def test_unknown_hvp_mode_lists_the_valid_ones():
    with pytest.raises(ValueError, match="forward-over-reverse, reverse-over-reverse"):
        md.hvp(lambda t: t.sum(), [np.ones(2)], [np.ones(2)], mode="finite")
