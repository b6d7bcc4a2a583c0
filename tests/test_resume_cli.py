"""``minidnn train --resume``: exact continuation, budgets as the run's totals, and the output folder.

A run stopped by ``--max-iter`` (mid-epoch) and resumed ends on the same vector, bit for bit, as
the same run done in one go, for adam, lbfgs and trunk; a 2-epoch run resumed with ``--epochs 4``
ends where a 4-epoch run ends. A resume writes to a new folder unless told otherwise.
"""

from __future__ import annotations

from pathlib import Path

import numpy
import pytest

import minidnn
from minidnn.cli import main, plots
from minidnn.cli.errors import USAGE

SMALL = ["--hidden", "8", "--batch-size", "64"]
"""A small MLP and 23 batches per epoch of the shipped digits: each run takes a fraction of a second."""


@pytest.fixture(autouse=True)
def no_plot(monkeypatch):
    """The plot is optional and its drawing is most of a small run's time: left out here."""
    monkeypatch.setattr(plots, "run_curves", lambda *args: None)


def vector(folder: Path) -> numpy.ndarray:
    with numpy.load(folder / "checkpoint.npz", allow_pickle=False) as archive:
        return numpy.array(archive["vector"])


def train(*args: str) -> None:
    assert main(["train", *SMALL, *args]) == 0


@pytest.mark.parametrize(
    ("solver", "options"), [("adam", []), ("lbfgs", []), ("trunk", ["--option", "cg_max_iter=4"])]
)
def test_a_run_stopped_by_max_iter_and_resumed_ends_bit_for_bit_where_the_whole_run_ends(
    tmp_path, solver, options
):
    run = ["--solver", solver, *options, "--epochs", "2"]
    train(*run, "--out", str(tmp_path / "whole"))
    train(*run, "--max-iter", "30", "--out", str(tmp_path / "part"))
    train("--resume", str(tmp_path / "part" / "checkpoint.npz"), "--max-iter", "0")
    assert numpy.array_equal(vector(tmp_path / "part-resumed"), vector(tmp_path / "whole"))
    assert not numpy.array_equal(vector(tmp_path / "part"), vector(tmp_path / "whole"))


def test_epochs_on_resume_are_the_runs_total(tmp_path, capsys):
    train("--epochs", "4", "--out", str(tmp_path / "four"))
    train("--epochs", "2", "--out", str(tmp_path / "two"))
    train(
        "--resume", str(tmp_path / "two" / "checkpoint.npz"), "--epochs", "4", "--out", str(tmp_path / "more")
    )
    assert numpy.array_equal(vector(tmp_path / "more"), vector(tmp_path / "four"))
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "two" / "checkpoint.npz")]) == USAGE
    assert "already used its budget of 2 epochs" in capsys.readouterr().err


def test_resume_never_writes_over_the_original_without_overwrite(tmp_path, capsys):
    train("--epochs", "1", "--out", str(tmp_path / "run"))
    original = (tmp_path / "run" / "checkpoint.npz").read_bytes()
    source = str(tmp_path / "run" / "checkpoint.npz")
    capsys.readouterr()
    assert main(["train", "--resume", source, "--epochs", "2", "--out", str(tmp_path / "run")]) == USAGE
    assert "add --overwrite" in capsys.readouterr().err
    assert (tmp_path / "run" / "checkpoint.npz").read_bytes() == original
    train("--resume", source, "--epochs", "2")
    train("--resume", source, "--epochs", "2")
    assert (tmp_path / "run-resumed" / "checkpoint.npz").is_file()
    assert (tmp_path / "run-resumed-2" / "checkpoint.npz").is_file()
    assert (tmp_path / "run" / "checkpoint.npz").read_bytes() == original
    train("--resume", source, "--epochs", "2", "--out", str(tmp_path / "run"), "--overwrite")
    assert numpy.array_equal(vector(tmp_path / "run"), vector(tmp_path / "run-resumed"))


def test_another_solver_continues_from_the_start_of_the_saved_epoch(tmp_path, capsys):
    train("--epochs", "2", "--max-iter", "30", "--out", str(tmp_path / "run"))
    capsys.readouterr()
    train("--resume", str(tmp_path / "run" / "checkpoint.npz"), "--solver", "sgd", "--max-iter", "0")
    out = capsys.readouterr().out
    assert "at the start of that epoch, the solver's state afresh" in out
    state = minidnn.load_checkpoint(tmp_path / "run-resumed" / "checkpoint.npz").state
    assert [run["solver"] for run in state["runs"]] == ["adam", "sgd"]
    assert state["epoch"] == 2 and state["solver_state"]["method"] == "sgd"
