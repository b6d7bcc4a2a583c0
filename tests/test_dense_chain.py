"""The dense chain's closed forms (minidnn.dense_chain) against the graph, float64: f, ∇f, ∇²f v and
Jᵀ H_L J v for every activation and loss it takes, through NeuralNetModel(fused=True) and (fused=False);
which networks and losses it takes; its buffers."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from minidnn.datasets import from_arrays
from minidnn.nlpmodels import NeuralNetModel
from probes import steady_state_growth

import minidnn as md
from minidnn import layers, models
from minidnn.dense_chain import SIZES_KEPT, DenseChain

ACTIVATIONS = (layers.ReLU, layers.Tanh, layers.Sigmoid, layers.Softplus)
LOSSES = ("softmax_cross_entropy", "mse")


def classification(n: int = 23, shape: tuple[int, ...] = (2, 3), classes: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    return from_arrays(rng.random((n, *shape)), rng.integers(0, classes, n), classes=classes)


def twins(network: md.Network, data, **options) -> tuple[NeuralNetModel, NeuralNetModel]:
    """The same model with the closed forms and with the graph."""
    options = {"dtype": "float64", "shuffle": False, **options}
    fused, graph = (
        NeuralNetModel(network, data, **options),
        NeuralNetModel(network, data, fused=False, **options),
    )
    assert fused.fused and not graph.fused
    return fused, graph


def assert_same_evaluations(
    fused: NeuralNetModel, graph: NeuralNetModel, seed: int = 0, fraction: float = 1.0
):
    rng = np.random.default_rng(seed)
    x = fused.meta.x0 + 0.3 * rng.standard_normal(fused.meta.nvar)
    v, count = rng.standard_normal(fused.meta.nvar), fused.batch_samples
    assert fused.obj(x) == pytest.approx(graph.obj(x), rel=1e-12, abs=1e-14)
    f, g = fused.objgrad(x)
    assert f == pytest.approx(graph.objgrad(x)[0], rel=1e-12, abs=1e-14)
    for ours, theirs in (
        (g, graph.grad(x)),
        (fused.hprod(x, v), graph.hprod(x, v)),
        (fused.ghprod(x, v, fraction=fraction), graph.ghprod(x, v, fraction=fraction)),
        (fused.sample_hprod(x, v, fraction), graph.sample_hprod(x, v, fraction)),
        (fused.objgrad_samples(x, count // 3, count)[1], graph.objgrad_samples(x, count // 3, count)[1]),
    ):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("last", [None, layers.Sigmoid])
def test_every_activation_and_loss_gives_the_graphs_values(activation, loss, last):
    body = [
        layers.Flatten(),
        layers.Dense(6, 5),
        activation(),
        layers.Sequential(layers.Dense(5, 7, bias=False)),
    ]
    body += [layers.Tanh(), layers.Identity(), layers.Dense(7, 4)] + ([last()] if last else [])
    fused, graph = twins(md.Network(*body, seed=1), classification(), loss=loss, batch_size=23)
    assert_same_evaluations(fused, graph, fraction=0.4)


def test_chunks_l2_and_a_full_batch_give_the_graphs_values():
    net = models.mlp([6, 5, 4], activation="tanh", seed=2)
    data = classification(n=41)
    assert_same_evaluations(*twins(net, data, batch_size=41, chunk_size=16, l2=0.03), seed=1, fraction=0.5)
    assert_same_evaluations(
        *twins(net, data, full_batch=True, batch_size=41, eval_batch_size=10, l2=0.03), seed=2
    )


def test_regression_targets_give_the_graphs_values():
    rng = np.random.default_rng(3)
    data = from_arrays(rng.random((19, 5)), rng.standard_normal((19, 2)), name="regression")
    net = md.Network(layers.Dense(5, 8), layers.Softplus(), layers.Dense(8, 2), seed=0)
    assert_same_evaluations(*twins(net, data, loss="mse", batch_size=19), fraction=0.5)


@given(
    widths=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    activations=st.lists(st.sampled_from((None, *ACTIVATIONS)), min_size=3, max_size=3),
    n=st.integers(1, 12),
    loss=st.sampled_from(LOSSES),
    seed=st.integers(0, 100),
)
def test_random_chains_give_the_graphs_values(widths, activations, n, loss, seed):
    sizes = [6, *widths, 3]
    body: list[md.Layer] = [layers.Flatten()]
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        body.append(layers.Dense(fan_in, fan_out, bias=bool((seed + i) % 2)))
        if activations[i % 3] is not None:
            body.append(activations[i % 3]())
    data = classification(n=max(n, 5), classes=3, seed=seed)
    fused, graph = twins(md.Network(*body, seed=seed), data, loss=loss, batch_size=n, chunk_size=4)
    assert_same_evaluations(fused, graph, seed=seed, fraction=0.5)


def test_the_gauss_newton_product_is_symmetric_and_positive_semidefinite():
    fused = NeuralNetModel(models.mlp([6, 5, 4], seed=1), classification(), dtype="float64", batch_size=23)
    x, n = fused.meta.x0, fused.meta.nvar
    dense = np.column_stack([fused.ghprod(x, e) for e in np.eye(n)])
    np.testing.assert_allclose(dense, dense.T, atol=1e-14)
    assert np.linalg.eigvalsh(dense).min() > -1e-12


@pytest.mark.parametrize(
    ("body", "loss"),
    [
        ((layers.Conv2d(1, 2, 3), layers.Flatten(), layers.Dense(2, 3)), "softmax_cross_entropy"),
        (
            (layers.Flatten(), layers.Dense(9, 5), layers.Dropout(0.5), layers.Dense(5, 3)),
            "softmax_cross_entropy",
        ),
        ((layers.Flatten(), layers.Dense(9, 5), layers.ELU(), layers.Dense(5, 3)), "softmax_cross_entropy"),
        ((layers.Flatten(), layers.Dense(9, 5), layers.ReLU(), layers.Tanh(), layers.Dense(5, 3)), "mse"),
        ((layers.Flatten(), layers.ReLU(), layers.Dense(9, 3)), "mse"),
        ((layers.Flatten(), layers.Dense(9, 3)), "binary_cross_entropy"),
        ((layers.Flatten(), layers.Dense(9, 3)), "logistic"),
    ],
)
def test_other_networks_and_losses_go_through_the_graph(body, loss):
    net = md.Network(*body, seed=0)
    assert DenseChain.of(net, loss) is None
    data = classification(n=6, shape=(1, 3, 3), classes=3)
    assert not NeuralNetModel(net, data, loss=loss, batch_size=6).fused


def test_a_dense_layer_applied_twice_or_subclassed_goes_through_the_graph():
    shared = layers.Dense(3, 3)
    assert (
        DenseChain.of(md.Network(layers.Flatten(), layers.Dense(9, 3), shared, shared, seed=0), "mse") is None
    )

    class Scaled(layers.Dense):
        def forward(self, x):
            return super().forward(x) * 2.0

    assert DenseChain.of(md.Network(layers.Flatten(), Scaled(9, 3), seed=0), "mse") is None


def test_a_callable_loss_the_strict_backend_and_fused_false_go_through_the_graph():
    data = classification(n=6, shape=(1, 3, 3), classes=3)
    net = models.mlp([9, 4, 3])
    assert not NeuralNetModel(
        net, data, loss=lambda z, y: md.losses.softmax_cross_entropy(z, y), batch_size=6
    ).fused
    assert not NeuralNetModel(net, data, backend="array-api-strict", batch_size=6).fused
    assert not NeuralNetModel(net, data, fused=False, batch_size=6).fused
    with pytest.raises(ValueError, match="fused must be True or False"):
        NeuralNetModel(net, data, fused=1, batch_size=6)


def test_steady_state_calls_reuse_their_buffers():
    data = classification(n=64, shape=(20,), classes=10)
    nlp = NeuralNetModel(models.mlp([20, 300, 10]), data, batch_size=64, shuffle=False)
    x, v, out = nlp.meta.x0.copy(), np.ones(nlp.meta.nvar, np.float32), np.empty(nlp.meta.nvar, np.float32)
    calls = (lambda: nlp.objgrad(x, out), lambda: nlp.hprod(x, v, out), lambda: nlp.ghprod(x, v, out))
    assert steady_state_growth(calls, rounds=3) < 64 * 300 * 4  # less than one hidden activation


def test_each_thread_keeps_the_buffers_of_its_last_batch_sizes():
    net = models.mlp([6, 5, 4], seed=0).copy(dtype="float64")
    chain = DenseChain.of(net, "softmax_cross_entropy")
    rng = np.random.default_rng(0)
    out = np.empty(net.nvar)

    def evaluate(n: int) -> float:
        return float(chain.value_and_gradient(rng.standard_normal((n, 6)), rng.integers(0, 4, n), 1.0, out))

    for n in (3, 4, 3, 5):
        evaluate(n)
    assert (
        sorted(chain._local.sizes) == [3, 5] and len(chain._local.sizes) == SIZES_KEPT
    )  # 4: used least recently
    elsewhere = threading.Thread(target=evaluate, args=(7,))
    elsewhere.start()
    elsewhere.join()
    assert sorted(chain._local.sizes) == [3, 5]


def test_a_dense_chain_is_never_split_across_threads():
    data = classification(n=200, shape=(9,), classes=3)
    nlp = NeuralNetModel(models.mlp([9, 5, 3]), data, batch_size=200, threads=2, batch_split=True)
    assert nlp.fused and nlp.split_parts == 1
    graph = NeuralNetModel(
        models.mlp([9, 5, 3]), data, batch_size=200, threads=2, batch_split=True, fused=False
    )
    assert graph.split_parts == 2
