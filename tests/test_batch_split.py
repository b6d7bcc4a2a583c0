"""The batch split: each chunk cut into parts evaluated at once, one thread each, gives the unsplit
values to rounding, the same bits call after call, under the automatic rule only where it pays, and
leaves the thread counts, the kept linearisation and the pool as they should be."""

from __future__ import annotations

import gc
import sys
import threading

import numpy as np
import pytest
import threadpoolctl
from minidnn.datasets import from_arrays
from minidnn.nlpmodels import NeuralNetModel, neural_net
from probes import faults_per_call, forward_passes, fresh_product_check

import minidnn as md
from minidnn import backend, layers, losses, models, thread_limits


def conv_net(dropout: bool = False) -> md.Network:
    """Conv2d 1->2 k3, ReLU, max-pool 2, Dense: 47 parameters on 8x8 images."""
    noise = [layers.Dropout(0.3)] if dropout else []
    return md.Network(
        layers.Conv2d(1, 2, 3), layers.ReLU(), layers.MaxPool2d(2), layers.Flatten(), *noise,
        layers.Dense(18, 3), seed=0,
    )  # fmt: skip


def images(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return from_arrays(rng.random((n, 1, 8, 8)), rng.integers(0, 3, n), classes=3)


def model(batch_split: bool | None, n: int = 60, threads: int | None = 2, net=None, **options):
    options.setdefault("batch_size", 30)
    options.setdefault("shuffle", False)
    network = conv_net() if net is None else net
    return NeuralNetModel(
        network, images(n), dtype="float64", threads=threads, batch_split=batch_split, **options
    )


def custom_loss(outputs, labels):
    """Softmax cross-entropy as a callable: its Gauss-Newton products go through the general path."""
    return losses.softmax_cross_entropy(outputs, labels)


def evaluations(nlp: NeuralNetModel, x: np.ndarray, v: np.ndarray) -> dict[str, np.ndarray]:
    """Every evaluation that goes through the chunk loop, as arrays."""
    f, g = nlp.objgrad(x)
    f_part, g_part = nlp.objgrad_samples(x, 3, 17)
    return {
        "obj": np.array(nlp.obj(x)),
        "grad": nlp.grad(x),
        "objgrad": np.append(g, f),
        "hprod": nlp.hprod(x, v),
        "sample_hprod": nlp.sample_hprod(x, v, 0.4),
        "objgrad_samples": np.append(g_part, f_part),
        "ghprod": nlp.ghprod(x, v),
        "ghprod again": nlp.ghprod(x, 2 * v),
        "ghprod fraction": nlp.ghprod(x, v, fraction=0.4),
    }


def point(nlp: NeuralNetModel) -> tuple[np.ndarray, np.ndarray]:
    return nlp.meta.x0 + 0.1, np.cos(np.arange(nlp.meta.nvar))


SPLIT_MIN_SAMPLES = 48
CONV_NET_WORK = 6 * 6 * 2 * 9 + 18 * 3
"""conv_net's multiply-adds per sample: the convolution's 6 x 6 x 2 outputs of 9 each, the Dense 18 x 3."""


@pytest.fixture(autouse=True)
def restored_threads():
    yield
    backend.set_threads(None)


@pytest.fixture(autouse=True)
def split_from_48_samples(monkeypatch):
    """The automatic rule's thresholds set to 48 samples per thread of conv_net."""
    work = SPLIT_MIN_SAMPLES * CONV_NET_WORK
    for table in ("SPLIT_MIN_WORK", "CLOSED_FORM_SPLIT_MIN_WORK"):
        monkeypatch.setattr(neural_net, table, {"gradient": work, "hessian": work})


# -- values -------------------------------------------------------------------------------------------
SETUPS = {
    "one chunk": {},
    "chunks of 11": {"chunk_size": 11},
    "l2": {"l2": 0.3},
    "3 threads, 31 samples": {"threads": 3, "batch_size": 31},
    "full batch in chunks of 13": {"full_batch": True, "eval_batch_size": 13},
    "callable loss": {"loss": custom_loss},
    "mse": {"loss": "mse"},
    "through the graph": {"fused": False},
    "through the graph in chunks of 11": {"fused": False, "chunk_size": 11},
}


@pytest.mark.parametrize("setup", SETUPS)
def test_the_split_gives_the_unsplit_values_to_rounding(setup):
    split, whole = model(True, **SETUPS[setup]), model(False, **SETUPS[setup])
    assert split.split_parts == SETUPS[setup].get("threads", 2) and whole.split_parts == 1
    x, v = point(whole)
    for step in range(2):
        if step:
            split.next_minibatch()
            whole.next_minibatch()
        expected = evaluations(whole, x, v)
        for name, value in evaluations(split, x, v).items():
            np.testing.assert_allclose(value, expected[name], rtol=1e-12, atol=1e-14, err_msg=name)
    assert split.counters.as_dict() == whole.counters.as_dict()


def test_the_split_values_are_the_same_bits_call_after_call():
    nlp = model(True, chunk_size=16)
    x, v = point(nlp)
    first = evaluations(nlp, x, v)
    for _ in range(3):
        nlp.obj(x + 1.0)  # other values in the workspaces between the calls
        for name, value in evaluations(nlp, x, v).items():
            np.testing.assert_array_equal(value, first[name], err_msg=name)
    twin = model(True, chunk_size=16)
    for name, value in evaluations(twin, x, v).items():
        np.testing.assert_array_equal(value, first[name], err_msg=name)


# -- the kept linearisation: one per part ---------------------------------------------------------------
def test_products_at_one_point_reuse_each_part_linearisation_and_any_change_renews_them(monkeypatch):
    nlp, twin = model(True, batch_size=20, fused=False), model(True, batch_size=20, fused=False)
    x, v = point(nlp)
    calls = forward_passes(monkeypatch, nlp)
    same_as_fresh = fresh_product_check(nlp, twin, x, calls)

    same_as_fresh(v)
    assert len(calls) == 4  # per part: the forward-mode pass and the forward pass with its graph
    assert len(nlp._kept_linearisation[2]) == 2
    same_as_fresh(2 * v + 1)
    assert len(calls) == 2  # per part: the forward-mode pass only
    x[0] += 0.5
    same_as_fresh(v)
    assert len(calls) == 4
    same_as_fresh(v, fraction=0.5)
    assert len(calls) == 4
    nlp.next_minibatch()
    twin.next_minibatch()
    same_as_fresh(v, fraction=0.5)
    assert len(calls) == 4
    nlp.grad(x)
    assert nlp._kept_linearisation is None


# -- when a batch is split ------------------------------------------------------------------------------
def test_batch_split_true_is_refused_where_it_cannot_work():
    for threads in (None, 1):
        with pytest.raises(ValueError, match=rf"batch_split=True needs threads >= 2.*threads={threads}"):
            model(True, threads=threads)
    if backend.available("array-api-strict"):
        with pytest.raises(
            ValueError, match="batch_split=True needs backend 'numpy', got 'array-api-strict'"
        ):
            model(True, backend="array-api-strict")
    with pytest.raises(ValueError, match=r"random layers: Dropout\(p=0.3\) \(layer 4\)"):
        model(True, net=conv_net(dropout=True))
    for bad in ("yes", 1, np.True_):
        with pytest.raises(ValueError, match="batch_split must be True, False or None"):
            model(bad)
    assert model(None, net=conv_net(dropout=True), n=4 * SPLIT_MIN_SAMPLES).split_parts == 1


def test_the_automatic_rule_splits_conv_nets_with_enough_samples_per_thread():
    enough = 2 * SPLIT_MIN_SAMPLES
    assert model(None, n=enough, batch_size=enough).split_parts == 2
    assert model(None, n=enough, batch_size=enough - 1).split_parts == 1
    assert model(None, n=enough, batch_size=enough, chunk_size=enough - 1).split_parts == 1
    assert model(None, n=enough, batch_size=enough, threads=None).split_parts == 1
    assert model(False, n=enough, batch_size=enough).split_parts == 1
    mlp = models.mlp([64, 5, 3], seed=0)
    assert model(None, n=enough, batch_size=enough, net=mlp).split_parts == 1
    full = model(None, n=enough + 1, full_batch=True, eval_batch_size=enough)
    assert full.split_parts == 2


def test_the_automatic_threshold_is_work_per_thread(monkeypatch):
    monkeypatch.setattr(neural_net, "CLOSED_FORM_SPLIT_MIN_WORK", {"gradient": 100_000_000})
    assert neural_net._multiply_adds(conv_net().root, (1, 1, 8, 8)) == CONV_NET_WORK
    data = from_arrays(np.random.default_rng(0).random((720, 1, 28, 28)), np.arange(720) % 10, classes=10)
    for net, splits, keeps in ((models.lenet_knet, 88, 86), (models.lenet5, 712, 710)):
        options = {"threads": 2, "chunk_size": 1024}
        assert NeuralNetModel(net(), data, batch_size=splits, **options).split_parts == 2
        assert NeuralNetModel(net(), data, batch_size=keeps, **options).split_parts == 1


def test_an_automatic_split_runs_its_parts_on_two_threads_in_the_callers_grad_mode(monkeypatch):
    seen: list[tuple[str, bool]] = []

    def recording_loss(outputs, labels):
        seen.append((threading.current_thread().name, md.is_grad_enabled()))
        return losses.softmax_cross_entropy(outputs, labels)

    def threads_used(call) -> set[str]:
        seen.clear()
        call()
        return {name for name, _ in seen}

    enough = 2 * SPLIT_MIN_SAMPLES
    nlp = model(None, n=enough, batch_size=enough, loss=recording_loss)
    forced = model(True, n=enough, batch_size=enough, loss=recording_loss)
    x, v = point(nlp)
    for call, recording in ((lambda: nlp.grad(x), True), (lambda: forced.obj(x), False)):
        names = threads_used(call)
        assert len(seen) == 2 and threading.current_thread().name in names
        assert any(name.startswith("minidnn-part") for name in names)
        assert {mode for _, mode in seen} == {recording}
    assert threads_used(lambda: nlp.obj(x)) == {threading.current_thread().name}  # obj alone: never
    monkeypatch.setitem(neural_net.SPLIT_MIN_WORK, "gradient", enough * CONV_NET_WORK)
    assert nlp.split_parts == 1 and threads_used(lambda: nlp.grad(x)) == {threading.current_thread().name}
    assert len(threads_used(lambda: nlp.hprod(x, v))) == 2  # Hessian products split from less work


def test_the_blas_runs_one_thread_per_part_and_its_counts_come_back_after():
    seen: list[set[int]] = []

    def recording_loss(outputs, labels):
        seen.append({info["num_threads"] for info in threadpoolctl.threadpool_info()})
        return losses.softmax_cross_entropy(outputs, labels)

    backend.set_threads(2)
    nlp = model(True, threads=2, loss=recording_loss)
    before = thread_limits.thread_counts()
    seen.clear()
    nlp.objgrad(nlp.meta.x0)
    assert seen == [{1}, {1}]
    assert thread_limits.thread_counts() == before


# -- faults, memory, the pool ---------------------------------------------------------------------------
class PartFailure(ArithmeticError):
    pass


@pytest.mark.parametrize("where", ["calling thread", "pool thread"])
def test_an_exception_in_a_part_reaches_the_caller_as_it_was_and_changes_nothing(where):
    failing = {"on": False}

    def loss(outputs, labels):
        on_pool = threading.current_thread() is not threading.main_thread()
        if failing["on"] and on_pool == (where == "pool thread"):
            raise PartFailure(f"no loss on the {where}")
        return losses.softmax_cross_entropy(outputs, labels)

    nlp = model(True, loss=loss)
    x, v = point(nlp)
    before = thread_limits.thread_counts()
    kept = nlp.ghprod(x, v)
    values = evaluations(nlp, x, v)
    counters = nlp.counters.as_dict()
    failing["on"] = True
    for call in (lambda: nlp.objgrad(x), lambda: nlp.hprod(x, v), lambda: nlp.ghprod(x, v)):
        with pytest.raises(PartFailure, match=f"^no loss on the {where}$"):
            call()
        assert thread_limits.thread_counts() == before
    assert nlp.counters.as_dict() == counters
    failing["on"] = False
    np.testing.assert_array_equal(nlp.ghprod(x, v), kept)
    for name, value in evaluations(nlp, x, v).items():
        np.testing.assert_array_equal(value, values[name], err_msg=name)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="minor page faults are counted on Linux")
def test_steady_state_split_calls_map_no_new_memory():
    rng = np.random.default_rng(0)
    data = from_arrays(rng.random((64, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 64))
    nlp = NeuralNetModel(models.lenet_knet(), data, batch_size=64, shuffle=False, threads=2, batch_split=True)
    x = nlp.meta.x0.copy()
    v = rng.standard_normal(nlp.meta.nvar).astype(np.float32)
    calls = {"objgrad": lambda: nlp.objgrad(x), "hprod": lambda: nlp.hprod(x, v)}
    for name, call in calls.items():
        per_call = faults_per_call(call)
        assert per_call <= 16, f"{name}: {per_call} minor page faults per call after warm-up"


def test_the_pool_threads_end_when_the_model_is_collected():
    def pool_threads() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name.startswith("minidnn-part")}

    already = pool_threads()
    nlp = model(True)
    nlp.grad(nlp.meta.x0)
    started = pool_threads() - already
    assert started
    del nlp
    gc.collect()
    for thread in started:
        thread.join(timeout=10)
        assert not thread.is_alive()


# -- data parallelism: each rank splits its share -------------------------------------------------------
def rank_values(comm) -> dict[str, np.ndarray]:
    """The evaluations of a split model (or, without ``comm``, of an unsplit one) on 2 batches."""
    nlp = model(comm is not None, comm=comm, chunk_size=9)
    x, v = point(nlp)
    first = evaluations(nlp, x, v)
    nlp.next_minibatch()
    return {**first, **{f"{k} next": value for k, value in evaluations(nlp, x, v).items()}}


def rank_worker(folder: str) -> None:
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    np.savez(f"{folder}/rank{comm.Get_rank()}.npz", **rank_values(comm))


def test_each_rank_splits_its_share_and_the_ranks_agree(tmp_path):
    from test_mpi import RANKS, launch

    job = launch(f"import test_batch_split; test_batch_split.rank_worker({str(tmp_path)!r})")
    assert job.returncode == 0, job.stderr[-4000:]
    first, second = (dict(np.load(tmp_path / f"rank{r}.npz")) for r in range(RANKS))
    expected = rank_values(None)
    for name, value in first.items():
        np.testing.assert_array_equal(value, second[name], err_msg=name)
        np.testing.assert_allclose(value, expected[name], rtol=1e-12, atol=1e-14, err_msg=name)
