"""``minidnn train --curvature-every K``: the Hessian's top eigenvalue and trace in metrics.json and
curvature.png, in a checkpoint that evaluate and resume accept."""

from __future__ import annotations

import json

import pytest
from test_cli import HAS_MATPLOTLIB, _cli

from minidnn import load_checkpoint


@pytest.fixture(scope="module")
def monitored(tmp_path_factory):
    where = tmp_path_factory.mktemp("curvature")
    done = _cli(where, "train", "--epochs", "1", "--curvature-every", "20", "--out", "run")
    assert done.returncode == 0, done.stderr
    return where, where / "run"


def test_the_history_records_the_top_eigenvalue_and_the_trace_every_k_iterations(monitored):
    _, folder = monitored
    history = json.loads((folder / "metrics.json").read_text())["history"]
    recorded = [it for it, values in zip(history["iter"], history["eigenvalues"]) if values is not None]
    assert recorded == [0, 20, 40, 46]  # every 20 iterations and at the end (46 batches in an epoch)
    for values, trace in zip(history["eigenvalues"], history["trace"]):
        assert (values is None) == (trace is None)
        if values is not None:
            assert len(values) == 1 and values[0] > 0 and trace > 0


@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="the plot needs matplotlib (the plot or test extra)")
def test_the_curves_are_drawn(monitored):
    _, folder = monitored
    assert (folder / "curvature.png").stat().st_size > 10_000


def test_the_checkpoint_holds_them_and_evaluate_and_resume_accept_it(monitored):
    where, folder = monitored
    saved = load_checkpoint(folder / "checkpoint.npz")
    assert saved.settings["curvature_every"] == 20
    assert saved.history["eigenvalues"][0] is not None
    assert _cli(where, "evaluate", "--checkpoint", "run/checkpoint.npz").returncode == 0
    resumed = _cli(where, "train", "--resume", "run/checkpoint.npz", "--epochs", "2", "--out", "more")
    assert resumed.returncode == 0, resumed.stderr
    history = json.loads((where / "more" / "metrics.json").read_text())["history"]
    assert [it for it, v in zip(history["iter"], history["eigenvalues"]) if v is not None][-1] == 92


def test_a_negative_period_names_the_flag(tmp_path):
    done = _cli(tmp_path, "train", "--curvature-every", "-1")
    assert done.returncode == 2 and "--curvature-every" in done.stderr
