"""The convolutional front's closed forms (minidnn.conv_front) against the graph, float64: f, ∇f, ∇²f v
and Jᵀ H_L J v of conv / activation / max-pooling stages before a dense chain; which networks it takes;
its ties, its buffers and its batch split."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from minidnn.datasets import from_arrays
from minidnn.nlpmodels import NeuralNetModel
from probes import fresh_product_check, steady_state_growth
from test_dense_chain import ACTIVATIONS, LOSSES, assert_same_evaluations, classification, twins

import minidnn as md
from minidnn import dense_chain, layers, models
from minidnn.dense_chain import DenseChain


def fronted(*body: md.Layer, seed: int = 0) -> md.Network:
    net = md.Network(*body, seed=seed)
    chain = DenseChain.of(net, "softmax_cross_entropy")
    assert chain is not None and chain.front is not None
    return net


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_and_loss_gives_the_graphs_values(activation, loss):
    net = fronted(
        layers.Conv2d(2, 3, 3, padding=1),
        activation(),
        layers.MaxPool2d(2),
        layers.Conv2d(3, 4, 2, bias=False),
        activation(),
        layers.Flatten(),
        layers.Dense(36, 5),
        layers.Tanh(),
        layers.Dense(5, 4),
        seed=1,
    )
    data = classification(n=11, shape=(2, 8, 8))
    assert_same_evaluations(*twins(net, data, loss=loss, batch_size=11), fraction=0.4)


@pytest.mark.parametrize(
    "body",
    [
        # no pooling before a padded convolution; strides; a rectangular kernel and pooling
        (
            layers.Conv2d(2, 3, 3),
            layers.ReLU(),
            layers.Conv2d(3, 2, 3, padding=2, bias=False),
            layers.Sigmoid(),
            layers.Conv2d(2, 3, (2, 3), stride=(1, 2)),
            layers.MaxPool2d((2, 1)),
            layers.Flatten(),
            layers.Dense(27, 4),
        ),
        # pooling with no activation; a 1x1 window; the last stage unpooled
        (
            layers.Conv2d(2, 3, 1),
            layers.MaxPool2d(1),
            layers.Conv2d(3, 2, 2, stride=2, padding=1),
            layers.Softplus(),
            layers.Flatten(),
            layers.Dense(32, 4, bias=False),
            layers.Tanh(),
        ),
        # pooling before the activation, as the network has it
        (
            layers.Conv2d(2, 3, 2, padding=1),
            layers.MaxPool2d(2),
            layers.Tanh(),
            layers.Conv2d(3, 2, 2),
            layers.MaxPool2d(2),
            layers.ReLU(),
            layers.Flatten(),
            layers.Dense(2, 4),
        ),
        # windows with a gap between them (stride > kernel) and a remainder
        (
            layers.Conv2d(2, 4, 2),
            layers.Tanh(),
            layers.MaxPool2d(2, stride=3),
            layers.Identity(),
            layers.Flatten(),
            layers.Dense(16, 4),
        ),
    ],
)
def test_strides_padding_gaps_and_missing_stages_give_the_graphs_values(body):
    net = fronted(*body, seed=4)
    data = classification(n=9, shape=(2, 7, 7))
    for loss in LOSSES:
        assert_same_evaluations(*twins(net, data, loss=loss, batch_size=9, l2=0.01), fraction=0.4)


def test_lenet5_in_chunks_with_l2_and_in_full_batch_gives_the_graphs_values():
    data = classification(n=21, shape=(1, 28, 28), classes=10)
    net = models.lenet5(seed=2)
    assert_same_evaluations(*twins(net, data, batch_size=21, chunk_size=8, l2=0.02), seed=1, fraction=0.5)
    assert_same_evaluations(*twins(net, data, full_batch=True, batch_size=21, eval_batch_size=9), seed=2)


@pytest.mark.parametrize("activation", [layers.ReLU, layers.Tanh])  # pooled before and after it
def test_ties_in_a_window_send_everything_to_the_first_maximum(activation):
    rng = np.random.default_rng(5)
    first = rng.choice([0.25, 0.5, 0.75], size=(7, 1, 6, 6))
    images = np.concatenate([first, 1.0 - first], axis=1)  # channels summing to 1 at every pixel
    data = from_arrays(images, rng.integers(0, 3, 7), classes=3)
    body = (layers.Conv2d(2, 1, 1), activation(), layers.MaxPool2d(2), layers.Flatten(), layers.Dense(9, 3))
    fused, graph = twins(fronted(*body, seed=2), data, batch_size=7)
    x = fused.meta.x0.copy()
    weight, bias = fused.network.layout.views(fused.meta.backend, x)[:2]
    weight[...], bias[...] = 1.0, 0.0  # every window of Z ties at 1, its inputs differing
    v = rng.standard_normal(x.size)
    for ours, theirs in (
        (fused.grad(x), graph.grad(x)),
        (fused.hprod(x, v), graph.hprod(x, v)),
        (fused.ghprod(x, v), graph.ghprod(x, v)),
    ):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-13)


@given(
    channels=st.lists(st.integers(1, 3), min_size=1, max_size=2),
    kernel=st.integers(1, 3),
    padding=st.integers(0, 1),
    pool=st.sampled_from((None, 1, 2)),
    activation=st.sampled_from((None, *ACTIVATIONS)),
    n=st.integers(1, 6),
    loss=st.sampled_from(LOSSES),
    seed=st.integers(0, 100),
)
def test_random_fronts_give_the_graphs_values(channels, kernel, padding, pool, activation, n, loss, seed):
    body: list[md.Layer] = []
    size, before = 6, 2
    for c in channels:
        body.append(layers.Conv2d(before, c, kernel, padding=padding, bias=bool(seed % 2)))
        size = size + 2 * padding - kernel + 1
        if activation is not None or pool is None:
            body.append((activation or layers.ReLU)())
        if pool is not None and size >= pool:
            body.append(layers.MaxPool2d(pool))
            size //= pool
        before = c
    body += [layers.Flatten(), layers.Dense(before * size * size, 3)]
    net = fronted(*body, seed=seed)
    data = classification(n=max(n, 4), shape=(2, 6, 6), classes=3, seed=seed)
    fused, graph = twins(net, data, loss=loss, batch_size=n, chunk_size=3)
    assert_same_evaluations(fused, graph, seed=seed, fraction=0.5)


def test_the_gauss_newton_product_is_symmetric_and_positive_semidefinite():
    net = fronted(
        layers.Conv2d(1, 2, 2), layers.Tanh(), layers.MaxPool2d(2), layers.Flatten(), layers.Dense(8, 3)
    )
    data = classification(n=10, shape=(1, 5, 5), classes=3)
    fused = NeuralNetModel(net, data, dtype="float64", batch_size=10)
    x, count = fused.meta.x0, fused.meta.nvar
    dense = np.column_stack([fused.ghprod(x, e) for e in np.eye(count)])
    np.testing.assert_allclose(dense, dense.T, atol=1e-14)
    assert np.linalg.eigvalsh(dense).min() > -1e-12


@pytest.mark.parametrize(
    "body",
    [
        (layers.Conv2d(1, 2, 3), layers.Flatten(), layers.Dense(2, 3)),  # neither activation nor pooling
        (layers.Conv2d(1, 2, 2), layers.ReLU(), layers.AvgPool2d(2), layers.Flatten(), layers.Dense(2, 3)),
        (layers.Conv2d(1, 2, 2), layers.ReLU(), layers.MaxPool2d(2, 1), layers.Flatten(), layers.Dense(2, 3)),
        (
            layers.Conv2d(1, 2, 1),
            layers.ReLU(),
            layers.MaxPool2d(3, padding=1),
            layers.Flatten(),
            layers.Dense(2, 3),
        ),
        (layers.Conv2d(1, 2, 2), layers.ReLU(), layers.Dense(2, 3)),  # no Flatten
        (layers.Conv2d(1, 2, 2), layers.ELU(), layers.Flatten(), layers.Dense(8, 3)),
        (layers.Conv2d(1, 2, 2), layers.ReLU(), layers.Dropout(0.5), layers.Flatten(), layers.Dense(8, 3)),
    ],
)
def test_other_convolutional_networks_go_through_the_graph(body):
    assert DenseChain.of(md.Network(*body, seed=0), "softmax_cross_entropy") is None


def test_a_convolution_applied_twice_goes_through_the_graph():
    shared = layers.Conv2d(2, 2, 1)
    body = (layers.Conv2d(1, 2, 1), layers.ReLU(), shared, layers.ReLU(), shared, layers.ReLU())
    net = md.Network(*body, layers.Flatten(), layers.Dense(8, 3), seed=0)
    assert DenseChain.of(net, "mse") is None


def test_steady_state_calls_reuse_their_buffers():
    data = classification(n=32, shape=(1, 28, 28), classes=10)
    nlp = NeuralNetModel(models.lenet5(), data, batch_size=32, shuffle=False)
    assert nlp.fused
    x, v, out = nlp.meta.x0.copy(), np.ones(nlp.meta.nvar, np.float32), np.empty(nlp.meta.nvar, np.float32)
    calls = (lambda: nlp.objgrad(x, out), lambda: nlp.hprod(x, v, out), lambda: nlp.ghprod(x, v, out))
    assert steady_state_growth(calls) < 32 * 6 * 24 * 24 * 4 // 4  # a quarter of one activation


def test_a_split_batch_gives_the_unsplit_values_and_the_same_bits_every_call():
    data = classification(n=40, shape=(1, 12, 12), classes=3)
    net = fronted(
        layers.Conv2d(1, 3, 3),
        layers.ReLU(),
        layers.MaxPool2d(2),
        layers.Flatten(),
        layers.Dense(75, 3),
        seed=3,
    )
    options = {"dtype": "float64", "batch_size": 40, "shuffle": False, "threads": 2, "l2": 0.01}
    split = NeuralNetModel(net, data, batch_split=True, **options)
    whole = NeuralNetModel(net, data, batch_split=False, **options)
    assert split.fused and split.split_parts == 2 and whole.split_parts == 1
    rng = np.random.default_rng(0)
    x, v = split.meta.x0 + 0.2 * rng.standard_normal(split.meta.nvar), rng.standard_normal(split.meta.nvar)
    evaluations = (
        lambda m: np.array([m.obj(x)]),
        lambda m: m.grad(x),
        lambda m: m.hprod(x, v),
        lambda m: m.ghprod(x, v),
    )
    for evaluate in evaluations:
        first = evaluate(split)
        np.testing.assert_allclose(first, evaluate(whole), rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(evaluate(split), first)


def value_passes(monkeypatch) -> list[int]:
    """A list that grows by one each time the chain computes the loss's values (a pass with values)."""
    calls: list[int] = []
    rules = dense_chain.LOSS_RULES["softmax_cross_entropy"]
    value = type(rules).value

    def counted(self, *args, **kwargs):
        calls.append(1)
        return value(self, *args, **kwargs)

    monkeypatch.setattr(type(rules), "value", counted)
    return calls


@pytest.mark.parametrize("front", [True, False])
def test_products_at_one_point_reuse_the_chains_values_and_any_change_renews_them(monkeypatch, front):
    """CG's products at one point compute only the R-derivatives after the first, bit for bit the
    products of a model that computes everything each time (float32: no rounding hides a change)."""
    data = classification(n=24, shape=(1, 6, 6), classes=3)
    body = (layers.Conv2d(1, 2, 3), layers.Tanh(), layers.MaxPool2d(2)) if front else ()

    def build() -> NeuralNetModel:
        net = md.Network(
            *body,
            layers.Flatten(),
            layers.Dense(8 if front else 36, 5),
            layers.ReLU(),
            layers.Dense(5, 3),
            seed=1,
        )
        nlp = NeuralNetModel(net, data, batch_size=8, shuffle=False, threads=1)
        assert nlp.fused and (nlp._chain.front is not None) == front
        return nlp

    nlp, twin = build(), build()
    x = nlp.meta.x0 + np.float32(0.1) * np.cos(np.arange(nlp.meta.nvar, dtype=np.float32))
    v = np.sin(np.arange(nlp.meta.nvar, dtype=np.float32))
    calls = value_passes(monkeypatch)
    same_as_fresh = fresh_product_check(nlp, twin, x, calls)

    same_as_fresh(v)
    assert len(calls) == 1
    same_as_fresh(2 * v + 1)
    assert len(calls) == 0  # same point, same samples: the R pass only
    same_as_fresh(v - 3)
    assert len(calls) == 0
    x[0] += 0.5  # the caller changes x in place
    same_as_fresh(v)
    assert len(calls) == 1
    same_as_fresh(v, fraction=0.5)  # other samples
    assert len(calls) == 1
    same_as_fresh(v, fraction=0.5)
    assert len(calls) == 0
    nlp.next_minibatch()
    twin.next_minibatch()
    same_as_fresh(v, fraction=0.5)  # another batch
    assert len(calls) == 1
    nlp.hprod(x, v)  # any other evaluation drops it
    same_as_fresh(v, fraction=0.5)
    assert len(calls) == 1
