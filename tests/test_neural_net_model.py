"""NeuralNetModel: derivatives through the model, minibatch control, evaluation, own losses, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from minidnn.datasets import Dataset, DatasetError
from minidnn.nlpmodels import NeuralNetModel

import minidnn as md
from minidnn import backend, layers, models, ops
from minidnn.gradcheck import check_grad, check_hvp


def synthetic(n: int = 23, classes: int = 3, shape=(1, 4, 4), seed: int = 0, split: str = "train") -> Dataset:
    rng = np.random.default_rng(seed)
    x = rng.random((n, *shape), dtype=np.float32)
    y = rng.integers(0, classes, n).astype(np.int64)
    return Dataset(x, y, tuple(str(c) for c in range(classes)), "synthetic", split)


def dense_net(seed: int = 0, activation: str = "tanh") -> md.Network:
    return models.mlp([16, 5, 3], activation=activation, seed=seed)


def conv_net(seed: int = 0) -> md.Network:
    return md.Network(
        layers.Conv2d(1, 2, 3), layers.Softplus(), layers.AvgPool2d(2), layers.Flatten(), layers.Dense(2, 3),
        seed=seed,
    )  # fmt: skip


NETS = {"dense": dense_net, "conv": conv_net}


def model(net="dense", dtype="float64", be="numpy", n=23, **options) -> NeuralNetModel:
    options.setdefault("batch_size", 7)
    return NeuralNetModel(
        NETS[net](), synthetic(n), synthetic(9, seed=1, split="test"), backend=be, dtype=dtype, **options
    )


def host(nlp, a):
    return np.asarray(nlp.meta.backend.to_host(a), dtype=np.float64)


def vec(nlp, values):
    return nlp.meta.backend.to_device(np.asarray(values), dtype=nlp.meta.dtype)


# -- derivatives ------------------------------------------------------------------------------------
@pytest.mark.parametrize("net", NETS)
@pytest.mark.parametrize("l2", [0.0, 0.3])
@given(seed=st.integers(0, 2**16), steps=st.integers(0, 5))
def test_gradient_and_hessian_products_match_finite_differences(net, l2, seed, steps):
    nlp = model(net, l2=l2)
    for _ in range(steps):
        nlp.next_minibatch()
    rng = np.random.default_rng(seed)
    x = nlp.meta.x0 + 0.3 * rng.standard_normal(nlp.meta.nvar)
    d, u = rng.standard_normal(nlp.meta.nvar), rng.standard_normal(nlp.meta.nvar)
    h = 1e-6
    f, g = nlp.objgrad(x)
    assert f == pytest.approx(nlp.obj(x), rel=1e-14)
    np.testing.assert_allclose(g, nlp.grad(x), rtol=1e-13, atol=1e-15)
    fd = (nlp.obj(x + h * d) - nlp.obj(x - h * d)) / (2 * h)
    assert g @ d == pytest.approx(fd, rel=1e-6, abs=1e-8)
    hv = nlp.hprod(x, d)
    fd_hv = (nlp.grad(x + h * d) - nlp.grad(x - h * d)) / (2 * h)
    np.testing.assert_allclose(hv, fd_hv, rtol=1e-5, atol=1e-7)
    assert u @ hv == pytest.approx(d @ nlp.hprod(x, u), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("net", NETS)
def test_float32_model_agrees_with_its_float64_twin(net):
    m32, m64 = model(net, "float32"), model(net, "float64")
    x = m64.meta.x0 + 0.1
    v = np.linspace(-1, 1, m64.meta.nvar)
    f32, g32 = m32.objgrad(vec(m32, x))
    f64, g64 = m64.objgrad(x)
    assert g32.dtype == np.float32 and m32.hprod(vec(m32, x), vec(m32, v)).dtype == np.float32
    assert f32 == pytest.approx(f64, rel=1e-5)
    np.testing.assert_allclose(g32, g64, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(m32.hprod(vec(m32, x), vec(m32, v)), m64.hprod(x, v), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("loss", ["mse", "binary_cross_entropy", "logistic"])
def test_other_losses_train_on_one_hot_targets(loss):
    nlp = model(loss=loss)
    x = nlp.meta.x0
    d = np.random.default_rng(0).standard_normal(nlp.meta.nvar)
    fd = (nlp.obj(x + 1e-6 * d) - nlp.obj(x - 1e-6 * d)) / 2e-6
    assert nlp.grad(x) @ d == pytest.approx(fd, rel=1e-6)


def test_full_batch_is_the_mean_over_every_sample_in_bounded_chunks():
    full = model(full_batch=True, eval_batch_size=5)
    whole = model(batch_size=23, shuffle=False)
    x = full.meta.x0 + 0.05
    v = np.cos(np.arange(full.meta.nvar))
    assert full.obj(x) == pytest.approx(whole.obj(x), rel=1e-13)
    np.testing.assert_allclose(full.grad(x), whole.grad(x), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(full.hprod(x, v), whole.hprod(x, v), rtol=1e-12, atol=1e-15)
    version = full.batch_version
    assert full.next_minibatch() and full.epoch == 1 and full.batch_version == version


@pytest.mark.parametrize("net", NETS)
def test_a_large_batch_in_chunks_gives_the_values_of_one_pass(net):
    chunked = model(net, batch_size=20, chunk_size=6, shuffle=False)  # chunks of 6, 6, 6 and 2
    whole = model(net, batch_size=20, shuffle=False)
    x = whole.meta.x0 + 0.05
    v = np.cos(np.arange(whole.meta.nvar))
    assert chunked.obj(x) == pytest.approx(whole.obj(x), rel=1e-13)
    for name, call in {
        "grad": lambda nlp: nlp.grad(x),
        "hprod": lambda nlp: nlp.hprod(x, v),
        "ghprod": lambda nlp: nlp.ghprod(x, v),
        "sample_hprod": lambda nlp: nlp.sample_hprod(x, v, 0.7),
        "objgrad_samples": lambda nlp: nlp.objgrad_samples(x, 3, 17)[1],
    }.items():
        np.testing.assert_allclose(call(chunked), call(whole), rtol=1e-12, atol=1e-15, err_msg=name)
    assert chunked.counters.as_dict() == whole.counters.as_dict()


def test_dropout_masks_differ_between_the_chunks_of_a_batch():
    """A batch of one sample repeated: were two chunks given the same mask, the chunked gradient would
    equal the gradient of one chunk."""
    one = synthetic(1)
    data = Dataset(np.repeat(one.x, 8, axis=0), np.repeat(one.y, 8), one.classes, "repeated", "train")
    net = md.Network(layers.Flatten(), layers.Dense(16, 8), layers.Dropout(0.5), layers.Dense(8, 3), seed=1)
    chunked = NeuralNetModel(net, data, batch_size=8, chunk_size=4, dtype="float64", shuffle=False)
    x = chunked.meta.x0
    first_chunk = chunked.objgrad_samples(x, 0, 4)[1]
    assert not np.allclose(chunked.grad(x), first_chunk)
    assert chunked.obj(x) == chunked.obj(x)


# -- state: x, counters, seeds ---------------------------------------------------------------------
def test_counters_count_exactly_and_reset():
    nlp = model()
    x, v = nlp.meta.x0.copy(), np.ones(nlp.meta.nvar)
    nlp.obj(x)
    nlp.grad(x)
    nlp.objgrad(x)
    nlp.hprod(x, v)
    nlp.hprod(x, v)
    assert nlp.counters.as_dict() == {"neval_obj": 2, "neval_grad": 2, "neval_hprod": 2, "neval_ghprod": 0}
    nlp.reset_counters()
    assert nlp.counters.as_dict() == {"neval_obj": 0, "neval_grad": 0, "neval_hprod": 0, "neval_ghprod": 0}


def test_x_is_never_kept_nor_mutated_and_x0_never_changes():
    nlp = model()
    x0 = nlp.meta.x0.copy()
    x = x0 + 1.0
    keep = x.copy()
    v = np.ones_like(x)
    out = np.empty_like(x)
    nlp.obj(x)
    g = nlp.grad(x, out=out)
    nlp.hprod(x, v)
    nlp.accuracy(x)
    assert g is out
    np.testing.assert_array_equal(x, keep)
    np.testing.assert_array_equal(nlp.meta.x0, x0)
    assert not any(np.shares_memory(x, t.data) for t in nlp.network.parameters())
    assert not nlp.meta.x0.flags.writeable
    x[:] = 0.0
    assert nlp.obj(keep) == pytest.approx(nlp.obj(x0 + 1.0))


def test_same_seed_same_batches_objective_and_gradient():
    a, b = model(seed=5), model(seed=5)
    c = model(seed=6)
    x = a.meta.x0
    for _ in range(4):
        a.next_minibatch(), b.next_minibatch(), c.next_minibatch()
    assert a.obj(x) == b.obj(x) != c.obj(x)
    np.testing.assert_array_equal(a.grad(x), b.grad(x))


def test_one_epoch_covers_every_sample_once_with_a_partial_last_batch():
    nlp = model(batch_size=7)
    seen, new_epoch = [], False
    while not new_epoch:
        seen.extend(nlp._batches.indices().tolist())
        new_epoch = nlp.next_minibatch()
    assert sorted(seen) == list(range(23)) and nlp.batches_per_epoch == 4
    assert nlp.epoch == 1


def test_every_change_of_batch_changes_the_version():
    nlp = model()
    versions = [nlp.batch_version]
    x = nlp.meta.x0
    values = [nlp.obj(x)]
    for change in (
        nlp.next_minibatch,
        nlp.random_minibatch,
        lambda: nlp.set_batch_size(5),
        nlp.reset_minibatch,
    ):
        change()
        versions.append(nlp.batch_version)
        values.append(nlp.obj(x))
    assert len(set(versions)) == len(versions)
    assert nlp.batch_size == 5 and nlp.epoch == 0
    assert len(set(values)) > 2


def test_dropout_is_pinned_to_the_batch_and_off_in_evaluation():
    net = md.Network(layers.Flatten(), layers.Dense(16, 8), layers.Dropout(0.5), layers.Dense(8, 3), seed=1)
    nlp = NeuralNetModel(net, synthetic(), synthetic(9, seed=1, split="test"), batch_size=7, dtype="float64")
    x = nlp.meta.x0
    assert nlp.obj(x) == nlp.obj(x)
    d = np.random.default_rng(0).standard_normal(nlp.meta.nvar)
    fd = (nlp.obj(x + 1e-6 * d) - nlp.obj(x - 1e-6 * d)) / 2e-6
    assert nlp.grad(x) @ d == pytest.approx(fd, rel=1e-6)
    before = nlp.obj(x)
    nlp.next_minibatch()
    nlp.reset_minibatch()
    assert nlp.obj(x) != before
    assert nlp.accuracy(x) == nlp.accuracy(x)


# -- evaluation -------------------------------------------------------------------------------------
def test_accuracy_and_loss_cover_the_whole_split_including_the_partial_chunk():
    nlp = model(eval_batch_size=4)
    x = nlp.meta.x0 + 0.2
    test = nlp.test_data
    nlp.network.load(x)
    logits = nlp.network(test.x.astype(np.float64)).data
    expected = (logits.argmax(1) == test.y).mean()
    shifted = logits - logits.max(1, keepdims=True)
    loss = (np.log(np.exp(shifted).sum(1)) - shifted[np.arange(9), test.y]).mean()
    assert nlp.accuracy(x) == pytest.approx(expected)
    assert nlp.evaluate(x, "test") == pytest.approx((loss, expected))
    assert 0.0 <= nlp.accuracy(x, split="train") <= 1.0


def test_the_strict_device_transfers_only_the_objective():
    nlp = model("conv", "float32", "array-api-strict")
    be = backend.get("array-api-strict")
    x = nlp.meta.x0
    v = vec(nlp, np.ones(nlp.meta.nvar))
    nlp.obj(x)  # the first use of a batch moves it over; count from here
    for call, transfers in ((lambda: nlp.obj(x), 1), (lambda: nlp.grad(x), 0), (lambda: nlp.objgrad(x), 1),
                            (lambda: nlp.hprod(x, v), 0)):  # fmt: skip
        before = be.host_transfers
        call()
        assert be.host_transfers - before == transfers
    before = be.host_transfers
    nlp.accuracy(x)
    assert be.host_transfers - before == 1


# -- bad input --------------------------------------------------------------------------------------
def test_bad_vectors_are_refused_and_nothing_is_counted_or_changed():
    nlp = model()
    weights = nlp.network.vector()
    bad = [
        np.zeros(3),
        np.zeros(nlp.meta.nvar, np.float32),
        backend.get("array-api-strict").to_device(np.zeros(3)),
    ]
    for x in bad:
        for call in (nlp.obj, nlp.grad, lambda y: nlp.hprod(y, y), nlp.accuracy):
            with pytest.raises(ValueError, match="x must"):
                call(x)
    with pytest.raises(ValueError, match=r"v must have shape"):
        nlp.hprod(nlp.meta.x0, np.zeros(2))
    assert nlp.counters.as_dict() == {"neval_obj": 0, "neval_grad": 0, "neval_hprod": 0, "neval_ghprod": 0}
    np.testing.assert_array_equal(nlp.network.vector(), weights)


@pytest.mark.parametrize("size", [0, -3, 24, 2.5])
def test_batch_sizes_outside_the_dataset_are_refused(size):
    with pytest.raises(DatasetError, match="batch_size must be a whole number of samples in 1..23"):
        model(batch_size=size)
    nlp = model()
    with pytest.raises(DatasetError, match="batch_size"):
        nlp.set_batch_size(size)
    assert nlp.batch_size == 7


def test_labels_must_match_the_network_output():
    with pytest.raises(ValueError, match="labels span 4 classes but the network outputs 3"):
        NeuralNetModel(dense_net(), synthetic(classes=4))
    with pytest.raises(ValueError, match=r"train images of shape \(1, 5, 5\) do not fit the network"):
        NeuralNetModel(dense_net(), synthetic(shape=(1, 5, 5)))


def test_unknown_loss_and_bad_options():
    with pytest.raises(
        ValueError, match="valid losses: softmax_cross_entropy, mse, binary_cross_entropy, logistic"
    ):
        model(loss="hinge")
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0"):
        model(l2=-1.0)
    with pytest.raises(ValueError, match="eval_batch_size must be a positive integer"):
        model(eval_batch_size=0)
    for bad in (0, 2.0, True, None):
        with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
            model(chunk_size=bad)
    with pytest.raises(ValueError, match="dtype must be one of"):
        model(dtype="float16")
    nlp = model()
    with pytest.raises(ValueError, match="split must be one of"):
        nlp.accuracy(nlp.meta.x0, split="valid")
    alone = NeuralNetModel(dense_net(), synthetic(), batch_size=5)
    with pytest.raises(ValueError, match="no test data"):
        alone.accuracy(alone.meta.x0)


def test_non_finite_images_are_refused_once_at_construction():
    data = synthetic()
    x = data.x.copy()
    x[3, 0, 1, 1] = np.nan
    with pytest.raises(ValueError, match="train images of shape .* contain NaN or Inf"):
        NeuralNetModel(dense_net(), Dataset(x, data.y, data.classes, "bad", "train"))


@pytest.mark.parametrize(
    ("method", "options"), [("L-BFGS-B", {"maxiter": 60}), ("trust-ncg", {"maxiter": 20})]
)
def test_scipy_trains_a_small_mlp_on_the_shipped_digits_through_to_scipy(method, options):
    import warnings

    from minidnn.nlpmodels import to_scipy
    from scipy.optimize import minimize

    from minidnn import datasets

    train, test = datasets.load("digits"), datasets.load("digits", split="test")
    nlp = NeuralNetModel(
        models.mlp([64, 32, 10], seed=0), train, test, full_batch=True, dtype="float64", l2=1e-4
    )
    problem = to_scipy(nlp, combined=True)
    if method == "L-BFGS-B":
        problem.pop("hessp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = minimize(method=method, options=options, **problem)
    assert result.fun < 0.2 * nlp.obj(nlp.meta.x0)
    assert nlp.accuracy(result.x) > 0.93


# -- a loss of one's own -------------------------------------------------------------------------------
def squared_softplus_margin(outputs: md.Tensor, labels) -> md.Tensor:
    """Mean over samples and classes of softplus(z_c - z_y + 1)^2: smooth, with a nonzero Hessian."""
    be = outputs.backend
    onehot = md.Tensor(
        be.xp.astype(be.xp.reshape(labels, (-1, 1)) == be.arange(outputs.shape[1]), outputs.dtype)
    )
    margin = outputs - ops.sum(outputs * onehot, axis=1, keepdims=True) + 1.0
    return ops.mean(ops.softplus(margin) ** 2)


def flat_objective(nlp: NeuralNetModel, loss):
    """w -> loss(network(inputs; w), labels) on the whole training set, with each parameter the
    reshaped slice of the flat Tensor w (so gradcheck differentiates through the flat vector)."""
    net, layout = nlp.network, nlp.network.layout
    entries = list(net.named_specs())
    inputs = md.Tensor(nlp.train_data.x.astype(np.float64))
    labels = nlp.train_data.y

    def f(w):
        own = [getattr(layer, spec.name) for _, layer, spec in entries]
        for (_, layer, spec), offset, size, shape in zip(
            entries, layout.offsets, layout.sizes, layout.shapes
        ):
            setattr(layer, spec.name, w[offset : offset + size].reshape(shape))
        try:
            return loss(net.forward(inputs), labels)
        finally:
            for (_, layer, spec), tensor in zip(entries, own):
                setattr(layer, spec.name, tensor)

    return f


@pytest.mark.parametrize("net", NETS)
def test_a_callable_loss_has_exact_gradients_and_hessian_products(net):
    nlp = model(net, loss=squared_softplus_margin, full_batch=True)
    assert nlp.loss_name == "squared_softplus_margin" and nlp.meta.name.startswith("squared_softplus_margin")
    rng = np.random.default_rng(3)
    x = nlp.meta.x0 + 0.2 * rng.standard_normal(nlp.meta.nvar)
    v = rng.standard_normal(nlp.meta.nvar)
    f = flat_objective(nlp, squared_softplus_margin)
    check_grad(f, [x])
    check_hvp(f, [x])
    exact = md.hvp(f, [x], [v])
    assert nlp.obj(x) == pytest.approx(exact.value.item(), rel=1e-13)
    np.testing.assert_allclose(nlp.grad(x), exact.grads[0].data, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(nlp.hprod(x, v), exact.hvps[0].data, rtol=1e-12, atol=1e-15)
    loss, _ = nlp.evaluate(x, "train")
    assert loss == pytest.approx(nlp.obj(x), rel=1e-12)


def test_a_callable_loss_that_cannot_be_trained_on_is_refused_at_construction():
    def per_sample(z, y):
        return ops.sum(z * z, axis=1)

    def as_float(z, y):
        return float(ops.mean(z).item())

    def constant(z, y):
        return md.Tensor(z.data.mean())

    def single(z, y):
        return ops.mean(z).data.astype(np.float32) * md.Tensor(np.float32(1.0), requires_grad=True)

    with pytest.raises(ValueError, match=r"loss per_sample must return a scalar Tensor .* got shape \(2,\)"):
        model(loss=per_sample)
    with pytest.raises(TypeError, match="loss as_float returned a float"):
        model(loss=as_float)
    with pytest.raises(ValueError, match="loss constant does not depend on the outputs"):
        model(loss=constant)
    with pytest.raises(ValueError, match="dtype float64 .* got shape \\(\\) and dtype float32"):
        model(loss=single)
    with pytest.raises(TypeError, match="loss must be a name from minidnn.losses or a callable"):
        model(loss=3)


# -- shared objects and explicit points ---------------------------------------------------------------
def test_one_network_serves_a_float32_and_a_float64_model():
    net = dense_net()
    weights = net.vector()
    m32 = NeuralNetModel(net, synthetic(), batch_size=7, dtype="float32")
    x32 = m32.meta.x0 + np.float32(0.1)
    f32, g32 = m32.objgrad(x32)
    m64 = NeuralNetModel(net, synthetic(), batch_size=7, dtype="float64")
    assert m64.obj(m64.meta.x0 + 0.1) == pytest.approx(f32, rel=1e-5)
    assert m32.objgrad(x32)[0] == f32 and np.array_equal(m32.objgrad(x32)[1], g32)
    assert net.dtype == np.float32 and np.array_equal(net.vector(), weights)
    assert m32.network is not net and m64.network is not net and m32.network.root is not net.root


def test_the_model_takes_a_network_not_layers():
    with pytest.raises(TypeError, match=r"network must be a minidnn.Network, got Sequential: build one with"):
        NeuralNetModel(layers.Sequential(layers.Flatten(), layers.Dense(16, 3)), synthetic())


def test_evaluation_needs_its_point_and_ignores_the_point_evaluated_last():
    nlp = model(eval_batch_size=4)
    x, y = nlp.meta.x0, nlp.meta.x0 + 0.5
    first = nlp.evaluate(x)
    nlp.objgrad(y)
    nlp.hprod(y, np.ones(nlp.meta.nvar))
    assert nlp.evaluate(x) == first
    assert nlp.evaluate(y) != first
    with pytest.raises(TypeError):
        nlp.accuracy()
    with pytest.raises(TypeError):
        nlp.evaluate(split="test")
