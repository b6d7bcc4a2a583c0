"""Deterministic solvers on minibatch models: a batch change between iterations (by a callback or by
``resample``) makes the solver re-evaluate f(x_k) and ∇f(x_k) on the new batch before any ratio test or
line search, and no quasi-Newton pair (s, y) mixes gradients of two batches."""

from __future__ import annotations

import numpy
import pytest
from doubles import MinibatchLogistic
from minidnn.nlpmodels import InverseLBFGSOperator, LBFGSModel, LSR1Model

from minidnn import solvers

DETERMINISTIC = solvers.DETERMINISTIC
ON_DOUBLES = {"hessian_free": {"curvature": "hessian"}}
"""Options a method needs on the doubles, which have no Gauss-Newton product."""


def minimize(nlp, method, **options):
    return solvers.minimize(nlp, method, **{**ON_DOUBLES.get(method, {}), **options})


class Recorder:
    """A callback that swaps the batch at chosen iterations and records, per iteration, the log length,
    the iterate and the batch version after the callback."""

    def __init__(self, swap_at: set[int]):
        self.swap_at = swap_at
        self.marks: list[tuple[int, int, numpy.ndarray, int]] = []

    def __call__(self, nlp, solver, stats) -> None:
        if stats.iter in self.swap_at:
            nlp.next_minibatch()
        model = getattr(nlp, "nlp", nlp)  # the double itself, also under a quasi-Newton model
        self.marks.append((stats.iter, len(model.log), solver.x.copy(), nlp.batch_version))


def segments(model: MinibatchLogistic, recorder: Recorder):
    """For each iteration k >= 1: (the evaluations it made, x_{k-1}, the version it started on)."""
    for (_, start, x_prev, version), (_, end, _, _) in zip(recorder.marks, recorder.marks[1:]):
        yield model.log[start:end], x_prev, version


def check_reference_first(model: MinibatchLogistic, recorder: Recorder, swapped_before: set[int]) -> None:
    """Iteration k runs on one batch; it starts by re-evaluating f and ∇f at x_{k-1} exactly when the
    batch changed after iteration k - 1 (the iterations in ``swapped_before``). A solver told of the
    move (``batches.moving``) may leave that evaluation to the driver, right after the move: it then
    ends iteration k - 1's evaluations, on the next batch, and counts as iteration k's."""
    previous = model.log[recorder.marks[0][1] - 1].version
    deferred: list = []
    for k, (evaluations, x_prev, version) in enumerate(segments(model, recorder), start=1):
        evaluations, deferred = deferred + list(evaluations), []
        if len(evaluations) > 1 and evaluations[-1].version != evaluations[-2].version:
            evaluations, deferred = evaluations[:-1], evaluations[-1:]
        assert evaluations, f"iteration {k} evaluated nothing"
        assert {e.version for e in evaluations} == {version}, f"iteration {k} mixed batches"
        assert (version != previous) == (k - 1 in swapped_before)
        refreshed = numpy.array_equal(evaluations[0].x, x_prev) and evaluations[0].kind == "objgrad"
        assert refreshed == (k - 1 in swapped_before), f"iteration {k}: refresh {refreshed}"
        previous = version


class RecordingUpdates:
    """Records every (s, y) offered to a quasi-Newton model or operator."""

    def __init__(self) -> None:
        self.pairs: list[tuple[numpy.ndarray, numpy.ndarray]] = []

    def wrap(self, update):
        def recorded(model, s, y, **options):
            self.pairs.append((numpy.array(s, copy=True), numpy.array(y, copy=True)))
            return update(model, s, y, **options)

        return recorded


def gradient_evaluations(model: MinibatchLogistic) -> list[tuple[numpy.ndarray, int, numpy.ndarray]]:
    out = []
    for e in model.log:
        if e.kind == "grad":
            out.append((e.x, e.version, e.value))
        elif e.kind == "objgrad":
            out.append((e.x, e.version, e.value[1]))
    return out


def check_pairs_from_one_batch(model: MinibatchLogistic, pairs) -> None:
    grads = gradient_evaluations(model)
    assert pairs
    for s, y in pairs:
        sources = [
            (va, vb)
            for xa, va, ga in grads
            for xb, vb, gb in grads
            if numpy.allclose(xb - xa, s, rtol=1e-12, atol=1e-15)
            and numpy.allclose(gb - ga, y, rtol=1e-10, atol=1e-14)
        ]
        assert sources, "a pair matches no two gradient evaluations"
        assert all(va == vb for va, vb in sources), "a pair mixes two batches"


SWAPS = {2, 3, 5}


@pytest.mark.parametrize("method", DETERMINISTIC)
def test_batch_swapped_by_a_callback_is_re_evaluated_before_the_next_step(method: str) -> None:
    nlp = MinibatchLogistic()
    recorder = Recorder(SWAPS)
    stats = minimize(nlp, method, callback=recorder, max_iter=8, atol=0.0, rtol=0.0)
    assert stats.iter == 8
    check_reference_first(nlp, recorder, SWAPS)


@pytest.mark.parametrize("qn_class", [LSR1Model, LBFGSModel])
def test_trunk_pairs_never_mix_batches(qn_class: type, monkeypatch: pytest.MonkeyPatch) -> None:
    updates = RecordingUpdates()
    monkeypatch.setattr(qn_class, "update", updates.wrap(qn_class.update))
    nlp = MinibatchLogistic()
    recorder = Recorder(SWAPS)
    solvers.trunk(qn_class(nlp), callback=recorder, max_iter=8, atol=0.0, rtol=0.0)
    check_reference_first(nlp, recorder, SWAPS)
    check_pairs_from_one_batch(nlp, updates.pairs)


@pytest.mark.parametrize("method", ["lbfgs", "lsr1"])
def test_solver_owned_quasi_newton_pairs_never_mix_batches(
    method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    updates = RecordingUpdates()
    if method == "lbfgs":
        monkeypatch.setattr(InverseLBFGSOperator, "push", updates.wrap(InverseLBFGSOperator.push))
    else:
        monkeypatch.setattr(LSR1Model, "update", updates.wrap(LSR1Model.update))
    nlp = MinibatchLogistic()
    recorder = Recorder(SWAPS)
    minimize(nlp, method, callback=recorder, max_iter=8, atol=0.0, rtol=0.0)
    check_pairs_from_one_batch(nlp, updates.pairs)


def test_the_pair_check_would_catch_a_mixed_pair() -> None:
    nlp = MinibatchLogistic()
    x = numpy.full(5, 0.1)
    s = numpy.full(5, 0.05)
    g_old = nlp.grad(x)
    nlp.next_minibatch()
    g_new = nlp.grad(x + s)
    with pytest.raises(AssertionError, match="mixes two batches"):
        check_pairs_from_one_batch(nlp, [(s, g_new - g_old)])


def test_ratio_after_a_swap_uses_the_new_batch() -> None:
    nlp = MinibatchLogistic()
    recorder = Recorder({1})
    stats = solvers.r2(nlp, callback=recorder, max_iter=2, atol=0.0, rtol=0.0)
    _, _, x1, version = recorder.marks[1]
    evaluations = nlp.log[recorder.marks[1][1] :]
    f_ref, g_ref = evaluations[0].value
    trial = evaluations[1]
    f_trial = trial.value[0]
    assert evaluations[0].version == trial.version == version
    sigma = stats.history["step"][1]
    predicted = float(g_ref @ g_ref) / sigma
    assert stats.history["ratio"][2] == pytest.approx((f_ref - f_trial) / predicted, rel=1e-6)
    numpy.testing.assert_allclose(trial.x, x1 - g_ref / sigma, rtol=1e-12)


# -- resampling ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", DETERMINISTIC)
def test_resample_every_iteration(method: str) -> None:
    nlp = MinibatchLogistic()
    recorder = Recorder(set())
    stats = minimize(nlp, method, resample="iteration", callback=recorder, max_iter=6, atol=0.0, rtol=0.0)
    versions = [v for _, _, _, v in recorder.marks]
    assert versions == list(range(versions[0], versions[0] + stats.iter + 1))
    check_reference_first(nlp, recorder, set(range(1, stats.iter)))


@pytest.mark.parametrize("method", DETERMINISTIC)
def test_resample_every_epoch_and_every_k(method: str) -> None:
    nlp = MinibatchLogistic()
    per_epoch = nlp.batches_per_epoch
    recorder = Recorder(set())
    minimize(nlp, method, resample="epoch", callback=recorder, max_iter=9, atol=0.0, rtol=0.0)
    changes = [k for (k, _, _, v), (_, _, _, w) in zip(recorder.marks, recorder.marks[1:]) if w != v]
    assert changes == [per_epoch - 1, 2 * per_epoch - 1]
    recorder = Recorder(set())
    minimize(MinibatchLogistic(), method, resample=3, callback=recorder, max_iter=9, atol=0.0, rtol=0.0)
    changes = [k for (k, _, _, v), (_, _, _, w) in zip(recorder.marks, recorder.marks[1:]) if w != v]
    assert changes == [2, 5, 8]


@pytest.mark.parametrize("method", DETERMINISTIC)
def test_epoch_budget_and_accuracy_with_resampling(method: str) -> None:
    nlp = MinibatchLogistic()
    stats = minimize(nlp, method, resample="iteration", max_epochs=2)
    assert stats.status == "max_epochs"
    assert stats.solver_specific["epochs"] == 2
    measured = [stats.history["epoch"][k] for k, a in enumerate(stats.history["accuracy"]) if a is not None]
    assert measured == [1, 2]
    assert stats.solver_specific["accuracy"] > 0.6


def test_quasi_newton_wrapper_forwards_the_minibatch_interface() -> None:
    nlp = MinibatchLogistic()
    stats = solvers.trunk(LSR1Model(nlp), resample="iteration", max_epochs=1)
    assert stats.status == "max_epochs" and nlp.epoch == 1
    assert stats.solver_specific["accuracy"] is not None
