"""The checkpoint schema: every member checked when read, by ``evaluate``, ``train --resume`` and
``minidnn.load_checkpoint`` alike; a tampered, truncated or NaN checkpoint is refused (exit 2) with a
message naming the file and the member."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy
import pytest

import minidnn
from minidnn.checkpoint import FORMAT, CheckpointError
from minidnn.cli import main, plots
from minidnn.cli.errors import USAGE


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """A checkpoint of adam on the digits, stopped mid-epoch (it holds the solver's state)."""
    folder = tmp_path_factory.mktemp("run") / "run"
    with pytest.MonkeyPatch.context() as patch:  # the optional plot: most of a small run's time
        patch.setattr(plots, "run_curves", lambda *args: None)
        assert (
            main(["train", "--epochs", "2", "--max-iter", "10", "--hidden", "8", "--out", str(folder)]) == 0
        )
    return folder / "checkpoint.npz"


def members(path: Path) -> dict[str, numpy.ndarray]:
    with numpy.load(path, allow_pickle=False) as archive:
        return {name: numpy.array(archive[name]) for name in archive.files}


def tampered(saved: Path, folder: Path, change) -> Path:
    """A copy of ``saved`` whose members went through ``change(members, json_parts)``."""
    parts = members(saved)
    texts = {name: json.loads(str(parts[name])) for name in ("layout", "settings", "state", "history")}
    change(parts, texts)
    parts.update({name: numpy.array(json.dumps(value)) for name, value in texts.items()})
    path = folder / "run" / "checkpoint.npz"
    path.parent.mkdir(exist_ok=True)
    numpy.savez(path, **parts)
    return path


def test_json_members_are_text_and_the_solver_state_is_saved(saved):
    parts = members(saved)
    assert str(parts["format"]) == FORMAT
    assert all(parts[name].dtype.kind == "U" for name in ("layout", "settings", "state", "history"))
    state = json.loads(str(parts["state"]))
    assert state["solver_state"]["solver"]["first"] == {"array": "solver.first"}
    assert parts["array.solver.first"].shape == parts["vector"].shape


def _set(where: str, value):
    def change(parts, texts):
        member, *keys = where.split(".")
        target = texts[member]
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


def _vector(value):
    def change(parts, texts):
        parts["vector"] = value(parts["vector"])

    return change


def _array(name, value):
    def change(parts, texts):
        parts[name] = value(parts[name])

    return change


CASES = {
    "nan vector": (
        _vector(lambda v: numpy.where(numpy.arange(v.size) == 7, numpy.nan, v)),
        "vector: 1 of 610 values are not finite (the first at index 7)",
    ),
    "short vector": (_vector(lambda v: v[:-1]), "vector: holds"),
    "int vector": (_vector(lambda v: v.astype(numpy.int64)), "vector: one axis of float32"),
    "absurd epoch": (_set("state.epoch", 10**15), "state.epoch: must be an integer in 0..10"),
    "iterations as text": (_set("state.iterations", "ten"), "state.iterations: must be an integer >= 0"),
    "negative time": (_set("state.time", -1.0), "state.time: must be a finite number >= 0"),
    "runs not a list": (_set("state.runs", {"a": 1}), "state.runs: must be a list of mappings"),
    "layout offsets": (_set("layout.offsets", [0, 1, 2, 3]), "layout.offsets[1]: must be"),
    "layout shape": (_set("layout.shapes", [[8, 64], [8], [10, "8"], [10]]), "layout.shapes[2]"),
    "settings batch size": (_set("settings.batch_size", -3), "settings: batch_size -3"),
    "settings hidden": (_set("settings.hidden", ["a"]), "settings:"),
    "settings dataset": (_set("settings.dataset", "imagenet"), "settings: dataset 'imagenet'"),
    "history ragged": (_set("history.f", [1.0]), "history: the columns are of different lengths"),
    "nan moment": (
        _array("array.solver.second", lambda a: a * numpy.nan),
        "state.solver_state.solver.second",
    ),
    "missing moment": (lambda parts, texts: parts.pop("array.solver.first"), "names a missing array member"),
    "text format": (lambda parts, texts: parts.update(format=numpy.array("other/9")), "format: 'other/9'"),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", ["evaluate", "resume"])
def test_a_tampered_checkpoint_is_refused_naming_the_file_and_the_member(
    saved, tmp_path, capsys, case, command
):
    change, message = CASES[case]
    path = tampered(saved, tmp_path, change)
    args = (
        ["evaluate", "--checkpoint", str(path)] if command == "evaluate" else ["train", "--resume", str(path)]
    )
    assert main(args) == USAGE
    err = capsys.readouterr().err
    assert str(path) in err and message in err
    assert not (tmp_path / "run-resumed").exists()
    if not message.startswith("settings"):  # the command's own settings; Python needs only the network's
        with pytest.raises(CheckpointError, match=re.escape(message)):
            minidnn.load_checkpoint(path)


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        ("state.solver_state.solver.t", -1, "'t' must be an integer >= 0"),
        ("state.solver_state.batches.minibatches.batch", 10**6, "'batch' must be an integer"),
        ("state.solver_state.method", "lbfgs", "the state is that of method 'lbfgs'"),
        ("state.solver_state.tolerance", "x", "'tolerance' must be a finite number"),
    ],
)
def test_a_solver_state_that_does_not_fit_is_refused_on_resume(
    saved, tmp_path, capsys, where, value, message
):
    path = tampered(saved, tmp_path, _set(where, value))
    assert main(["train", "--resume", str(path), "--max-iter", "0"]) == USAGE
    err = capsys.readouterr().err
    assert f"{path}: state.solver_state:" in err and message in err
    assert not (tmp_path / "run-resumed").exists()


def test_a_truncated_checkpoint_is_refused(saved, tmp_path, capsys):
    path = tmp_path / "checkpoint.npz"
    path.write_bytes(saved.read_bytes()[:300])
    assert main(["evaluate", "--checkpoint", str(path)]) == USAGE
    assert str(path) in capsys.readouterr().err


def test_a_format_1_checkpoint_is_read_and_resumed_from_the_start_of_its_epoch(saved, tmp_path, capsys):
    parts = members(saved)
    state = json.loads(str(parts["state"]))
    del state["solver_state"]
    texts = {name: str(parts[name]) for name in ("layout", "settings", "history")}
    texts.update(state=json.dumps(state), format="minidnn-checkpoint/1")
    old = {name: numpy.frombuffer(text.encode(), dtype=numpy.uint8) for name, text in texts.items()}
    path = tmp_path / "old" / "checkpoint.npz"
    path.parent.mkdir()
    numpy.savez(path, vector=parts["vector"], **old)
    assert main(["evaluate", "--checkpoint", str(path)]) == 0
    assert main(["train", "--resume", str(path), "--max-iter", "0", "--epochs", "1"]) == 0
    assert "at the start of that epoch" in capsys.readouterr().out
    assert minidnn.load_checkpoint(tmp_path / "old-resumed" / "checkpoint.npz").state["epoch"] == 1
