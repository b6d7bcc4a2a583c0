"""The workspace: buffers reused only once nothing references them, the same values with or without
one, and steady-state model calls that map no new memory (minor page faults, Linux)."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest
from minidnn.datasets import from_arrays
from minidnn.nlpmodels import NeuralNetModel
from probes import faults_per_call

from minidnn import Tensor, backend, grad, models, ops, workspace
from minidnn.derivatives import hvp
from minidnn.workspace import Workspace

F32 = np.dtype(np.float32)


def address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


# -- the pool ----------------------------------------------------------------------------------------
def test_a_buffer_is_handed_out_again_only_when_nothing_references_it():
    ws = Workspace()
    first = ws.take((50_000,), F32)
    where = address(first)
    second = ws.take((50_000,), F32)
    assert address(second) != where  # first is still held
    view = first[10:].reshape(-1, 10)
    del first
    third = ws.take((50_000,), F32)
    assert address(third) != where  # a view of it is still alive
    del view
    assert address(ws.take((50_000,), F32)) == where
    assert ws.take((50_000,), np.dtype(np.float64)).dtype == np.float64  # another key, another buffer


def test_buffers_left_unused_for_keep_calls_are_dropped():
    ws = Workspace(keep=2)
    with ws:
        ws.take((100_000,), F32)
    with ws:
        ws.take((100_000,), F32)
    with ws:
        ws.take((50_000,), F32)
    assert ws.nbytes == 600_000
    with ws:
        ws.take((50_000,), F32)
    assert ws.nbytes == 200_000  # the larger buffer was last taken two calls ago
    ws.clear()
    assert ws.nbytes == 0


def test_the_current_workspace_is_per_thread_and_nests():
    ws, inner = Workspace(), Workspace()
    seen = []
    with ws:
        assert workspace.current() is ws
        with inner:
            assert workspace.current() is inner
        assert workspace.current() is ws
        thread = threading.Thread(target=lambda: seen.append(workspace.current()))
        thread.start()
        thread.join()
    assert seen == [None]
    assert workspace.current() is None


def test_small_results_and_non_pooling_backends_get_no_buffer():
    x = np.zeros(10, np.float32)
    with Workspace():
        assert workspace.buffer(x, (10,)) is None
        assert workspace.buffer(x, (1_000_000,)) is not None
    assert workspace.buffer(x, (1_000_000,)) is None
    pytest.importorskip("array_api_strict")
    strict = backend.get("array-api-strict")
    with Workspace(strict, min_bytes=0):
        assert workspace.buffer(strict.zeros((3,)), (100,)) is None
        y = ops.relu(ops.max_pool2d(Tensor(strict.zeros((2, 1, 4, 4))), 2))  # the plain expressions run
        assert strict.owns(y.data) and y.shape == (2, 1, 2, 2)


# -- the same values with a workspace ------------------------------------------------------------------
def window_net(x, w1, b1, w2, b2):
    """Every window path: padded and unpadded convolutions, tiling and overlapping max pools (one padded
    with -inf), tiling and non-tiling average pools, a flattening copy, and curvature from softplus."""
    h = ops.max_pool2d(ops.relu(ops.conv2d(x, w1, b1, padding=1)), 2)
    h = ops.relu(ops.conv2d(h, w2, b2))
    overlapping = ops.max_pool2d(h, 3, stride=1, padding=1)
    tiling, partial = ops.avg_pool2d(h, 3, stride=3, padding=1), ops.avg_pool2d(h, 3)
    flat = ops.reshape(overlapping, (h.shape[0], -1))
    return ops.sum(ops.softplus(flat)) + ops.sum(tiling * tiling) + ops.sum(ops.tanh(partial))


def window_inputs():
    rng = np.random.default_rng(0)
    shapes = [(3, 2, 10, 10), (4, 2, 3, 3), (4,), (3, 4, 2, 2), (3,)]
    return [rng.standard_normal(s) for s in shapes], [rng.standard_normal(s) for s in shapes]


@pytest.mark.parametrize("mode", ["forward-over-reverse", "reverse-over-reverse"])
def test_values_gradients_and_hvps_are_identical_with_a_workspace(mode):
    primals, vectors = window_inputs()
    plain = hvp(window_net, primals, vectors, mode=mode)
    ws = Workspace(min_bytes=0)
    for _ in range(3):  # the later calls run on reused buffers
        with ws:
            pooled = hvp(window_net, primals, vectors, mode=mode)
        np.testing.assert_array_equal(pooled.value.data, plain.value.data)
        for a, b in zip(pooled.grads + pooled.hvps, plain.grads + plain.hvps):
            np.testing.assert_array_equal(a.data, b.data)
    assert ws.nbytes > 0


def test_elementwise_results_keep_the_batch_innermost_memory_order():
    rng = np.random.default_rng(1)
    x, w = Tensor(rng.standard_normal((4, 2, 6, 6))), Tensor(rng.standard_normal((3, 2, 3, 3)))
    with Workspace(min_bytes=0):
        y = ops.conv2d(x, w)
        for h in (y, ops.relu(y), ops.tanh(ops.relu(y))):
            assert h.data.strides[0] == h.data.itemsize  # the batch axis is innermost in memory


def test_results_kept_by_the_caller_are_never_overwritten():
    primals, _ = window_inputs()
    ws = Workspace(min_bytes=0)
    leaves = [Tensor(p, requires_grad=True) for p in primals]
    with ws:
        first = grad(window_net(*leaves), leaves)
    kept = [g.numpy() for g in first]
    leaves[0] = Tensor(-primals[0], requires_grad=True)
    for _ in range(2):
        with ws:
            grad(window_net(*leaves), leaves)
    for g, k in zip(first, kept):
        np.testing.assert_array_equal(g.data, k)


# -- models: no new memory per call -----------------------------------------------------------------------
def model(network, batch):
    rng = np.random.default_rng(0)
    data = from_arrays(rng.random((batch, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, batch))
    return NeuralNetModel(network, data, batch_size=batch, shuffle=False)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="minor page faults are counted on Linux")
@pytest.mark.parametrize("preset", ["mlp", "lenet"])
def test_steady_state_objgrad_and_hprod_map_no_new_memory(preset):
    nlp = model(models.mlp([784, 300, 100, 10]) if preset == "mlp" else models.lenet_knet(), 128)
    x = nlp.meta.x0.copy()
    v = np.random.default_rng(1).standard_normal(nlp.meta.nvar).astype(np.float32)
    calls = {"objgrad": lambda: nlp.objgrad(x), "hprod": lambda: nlp.hprod(x, v)}
    for name, call in calls.items():
        per_call = faults_per_call(call)
        assert per_call <= 16, f"{name}: {per_call} minor page faults per call after warm-up"


def test_model_results_stay_valid_after_later_calls():
    nlp = model(models.mlp([784, 32, 10]), 64)
    x = nlp.meta.x0.copy()
    g = nlp.grad(x)
    kept = g.copy()
    nlp.grad(x * 2)
    nlp.hprod(x, x)
    np.testing.assert_array_equal(g, kept)
