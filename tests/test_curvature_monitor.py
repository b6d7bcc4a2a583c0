"""CurvatureMonitor: the spectrum recorded in a real solver run's history, without disturbing the run."""

from __future__ import annotations

import numpy as np
import pytest
from minidnn.nlpmodels import NeuralNetModel, curvature
from minidnn.nlpmodels.curvature import CurvatureMonitor
from test_curvature import network_model, synthetic

from minidnn import models, solvers


def test_trunk_records_eigenvalues_and_trace_every_k_iterations():
    nlp = network_model()
    monitor = CurvatureMonitor(every=2, k=2, probes=10, density=True)
    stats = solvers.trunk(nlp, max_iter=5, callback=monitor, eval_every=None)
    history = stats.history
    assert stats.status == "max_iter" and len(history) == 6
    recorded = [i for i, value in zip(history["iter"], history["eigenvalues"]) if value is not None]
    assert recorded == [0, 2, 4, 5]
    for row in history.rows():
        assert (row["trace"] is None) == (row["eigenvalues"] is None) == (row["trace_stderr"] is None)
    last = history["eigenvalues"][-1]
    assert len(last) == 2 and last[0] >= last[1]
    np.testing.assert_array_equal(last, curvature.eigenvalues(nlp, stats.solution, 2))
    assert history["trace"][-1] == curvature.trace(nlp, stats.solution, probes=10).estimate
    density = stats.solver_specific["spectral_density"]
    assert float(np.sum(density.density) * (density.grid[1] - density.grid[0])) == pytest.approx(1.0)
    assert stats.solver_specific["curvature_time"] == monitor.seconds > 0


def test_the_monitor_leaves_the_run_and_its_counters_as_they_were():
    plain = solvers.lbfgs(network_model(), max_iter=6, eval_every=None)
    nlp = network_model()
    monitor = CurvatureMonitor(every=3, probes=4)
    watched = solvers.lbfgs(nlp, max_iter=6, callback=monitor, eval_every=None)
    np.testing.assert_array_equal(watched.solution, plain.solution)
    assert watched.counters == plain.counters and watched.counters["neval_hprod"] == 0
    assert nlp.counters.neval_hprod == 0 and monitor.products > 0
    assert watched.history["f"] == plain.history["f"]
    assert "eigenvalues" not in plain.history.columns


def test_a_stochastic_run_measured_on_the_full_training_set():
    """adam steps on minibatches of 10; the monitor measures the full-batch loss at the same iterate."""
    data = synthetic(40)
    net = models.mlp([16, 12, 3], activation="tanh", seed=0)
    minibatches = NeuralNetModel(net, data, batch_size=10, dtype="float64")
    full = NeuralNetModel(net, data, batch_size=40, dtype="float64", full_batch=True)
    monitor = CurvatureMonitor(every=4, probes=3, model=full)
    stats = solvers.adam(minibatches, max_iter=8, callback=monitor, eval_every=None)
    assert [i for i, v in zip(stats.history["iter"], stats.history["trace"]) if v is not None] == [0, 4, 8]
    expected = curvature.trace(full, stats.solution, probes=3).estimate
    assert stats.history["trace"][-1] == expected


def test_bad_settings_are_refused_at_construction():
    with pytest.raises(ValueError, match="every must be an integer >= 1"):
        CurvatureMonitor(every=0)
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        CurvatureMonitor(every=1, k=0)
    with pytest.raises(ValueError, match="probes must be an integer >= 1"):
        CurvatureMonitor(every=1, probes=0)
    with pytest.raises(TypeError, match="has no Hessian-vector product"):
        CurvatureMonitor(every=1, model=object())
