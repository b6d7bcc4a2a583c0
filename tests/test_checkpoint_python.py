"""``minidnn.load_checkpoint``: a checkpoint written by ``minidnn train`` read back from Python as the
trained network, its flat vector, the run's settings, state and history; the saved solver state
continues the run from Python exactly."""

from __future__ import annotations

from pathlib import Path

import numpy
import pytest
from minidnn.nlpmodels import NeuralNetModel

import minidnn
from minidnn import datasets, solvers
from minidnn.cli import main, plots


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    with pytest.MonkeyPatch.context() as patch:  # the optional plot: most of a small run's time
        patch.setattr(plots, "run_curves", lambda *args: None)
        for name, budget in (("whole", []), ("part", ["--max-iter", "25"])):
            args = ["train", "--hidden", "16", "--epochs", "2", *budget, "--out", str(folder / name)]
            assert main(args) == 0
    return folder


def test_the_network_holds_the_trained_vector_and_the_settings_describe_the_run(run):
    saved = minidnn.load_checkpoint(run / "whole" / "checkpoint.npz")
    assert isinstance(saved.network, minidnn.Network)
    assert saved.vector.dtype == numpy.float32 and saved.vector.shape == (saved.network.nvar,)
    assert numpy.array_equal(saved.network.vector(), saved.vector)
    assert saved.settings["model"] == "mlp" and saved.settings["hidden"] == [16]
    assert saved.state["epoch"] == 2 and saved.state["status"] == "max_epochs"
    assert len(saved.history["iter"]) == saved.state["iterations"] + 1


def test_the_network_classifies_as_the_run_reported(run):
    saved = minidnn.load_checkpoint(run / "whole" / "checkpoint.npz")
    test = datasets.load("digits", split="test")
    predicted = numpy.argmax(saved.network.eval()(test.x).data, axis=1)
    metrics = (run / "whole" / "metrics.json").read_text()
    accuracy = float(numpy.mean(predicted == test.y))
    assert f'"test_accuracy": {accuracy}' in metrics.replace("\n", "")


def test_the_solver_state_continues_the_run_exactly_from_python(run):
    saved = minidnn.load_checkpoint(run / "part" / "checkpoint.npz")
    s = saved.settings
    nlp = NeuralNetModel(
        saved.network,
        datasets.load("digits"),
        datasets.load("digits", split="test"),
        batch_size=s["batch_size"],
        seed=s["seed"],
    )
    stats = solvers.adam(
        nlp,
        nlp.meta.x0,
        max_epochs=2 - saved.state["epoch"],
        state=saved.solver_state,
        atol=0.0,
        rtol=0.0,
        max_time=None,
    )
    whole = minidnn.load_checkpoint(run / "whole" / "checkpoint.npz")
    assert numpy.array_equal(nlp.meta.backend.to_host(stats.solution), whole.vector)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(minidnn.checkpoint.CheckpointError, match="absent.npz does not exist"):
        minidnn.load_checkpoint(tmp_path / "absent.npz")
