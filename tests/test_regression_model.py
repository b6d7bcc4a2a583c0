"""Regression targets through NeuralNetModel: float targets with mse or a callable loss."""

import numpy as np
import pytest
from minidnn.datasets import from_arrays, train_test_split
from minidnn.nlpmodels import LBFGSModel, NeuralNetModel

import minidnn as md
from minidnn import layers, solvers


def linear_data(n=200, features=5, outputs=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, features))
    weights = rng.standard_normal((features, outputs))
    y = x @ weights + 0.5
    return from_arrays(x, y if outputs > 1 else y[:, 0], name="linear")


def network(features=5, outputs=2):
    return md.Network(layers.Dense(features, 8), layers.Tanh(), layers.Dense(8, outputs), seed=0)


def test_mse_is_the_mean_squared_error_of_the_outputs_against_the_targets():
    data = linear_data()
    nlp = NeuralNetModel(network(), data, full_batch=True, loss="mse", dtype="float64")
    x = nlp.meta.x0
    nlp.network.load(x)
    outputs = nlp.network(md.Tensor(data.x.astype(np.float64))).data
    assert nlp.obj(x) == pytest.approx(float(np.mean((outputs - data.y) ** 2)), rel=1e-12)


@pytest.mark.parametrize("outputs", [1, 2])
def test_lbfgs_fits_a_smooth_regression(outputs):
    train, test = train_test_split(linear_data(outputs=outputs), test_fraction=0.25, seed=0, stratify=False)
    nlp = NeuralNetModel(network(outputs=outputs), train, test, loss="mse", full_batch=True, dtype="float64")
    start = nlp.evaluate(nlp.meta.x0)[0]
    stats = solvers.lbfgs(nlp, max_iter=200, max_time=None)
    loss, accuracy = nlp.evaluate(stats.solution)
    assert accuracy is None and loss < 0.01 * start


def test_a_callable_loss_gets_float_targets_shaped_like_the_outputs():
    seen = []

    def huber_like(outputs, targets):
        seen.append((targets.shape, targets.dtype))
        r = outputs - md.Tensor(targets)
        return md.ops.mean(md.ops.softplus(r) + md.ops.softplus(-r))

    data = linear_data()
    nlp = NeuralNetModel(network(), data, loss=huber_like, full_batch=True, dtype="float64")
    assert seen[0] == ((2, 2), np.float64)
    x = nlp.meta.x0
    _, g = nlp.objgrad(x)
    v = np.random.default_rng(1).standard_normal(x.shape)
    h = 1e-6
    assert float(g @ v) == pytest.approx((nlp.obj(x + h * v) - nlp.obj(x - h * v)) / (2 * h), rel=1e-6)


def test_per_epoch_evaluation_is_skipped_and_accuracy_refused_for_regression():
    train, test = train_test_split(linear_data(), test_fraction=0.25, seed=0, stratify=False)
    nlp = NeuralNetModel(network(), train, test, loss="mse", batch_size=50)
    assert not nlp.has_accuracy and not LBFGSModel(nlp).has_accuracy
    stats = solvers.adam(nlp, max_epochs=2, max_time=None)
    assert stats.status == "max_epochs" and all(a is None for a in stats.history["accuracy"])
    with pytest.raises(ValueError, match="accuracy needs class labels"):
        nlp.accuracy(stats.solution)
    with pytest.raises(ValueError, match="eval_every"):
        solvers.adam(nlp, max_iter=2, eval_every=1)


@pytest.mark.parametrize("loss", ["softmax_cross_entropy", "binary_cross_entropy", "logistic"])
def test_a_classification_loss_on_regression_targets_is_refused(loss):
    with pytest.raises(ValueError, match="regression targets take 'mse'"):
        NeuralNetModel(network(), linear_data(), loss=loss)


def test_targets_of_another_width_than_the_outputs_are_refused():
    with pytest.raises(ValueError, match="targets have 2 values per sample but the network outputs 3"):
        NeuralNetModel(network(outputs=3), linear_data(outputs=2), loss="mse")
