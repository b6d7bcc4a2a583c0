"""Live progress: the batch position, rate and ETAs; one line in place on a terminal, plain rows
elsewhere; f as the running mean over the epoch beside the minibatch value; epochs counted from 1."""

from __future__ import annotations

import io

import pytest
from minidnn.nlpmodels import NeuralNetModel

from minidnn import datasets, models, solvers
from minidnn.cli import progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run(stream: io.StringIO, every: float = 1e-9, epochs: int = 2) -> tuple[NeuralNetModel, list[float]]:
    """Adam for ``epochs`` epochs of the digits (batch 256: 6 batches an epoch), progress to ``stream``."""
    nlp = NeuralNetModel(
        models.mlp((64, 16, 10), seed=0), datasets.load("digits", "train"), datasets.load("digits", "test"),
        batch_size=256,
    )  # fmt: skip
    budget = progress.Budget(end_epoch=epochs)
    tracker = progress.Progress(every, nlp.batches_per_epoch, budget, stream=stream, refresh=0.0)
    fs: list[float] = []

    def callback(model, solver, stats):
        fs.append(stats.history["f"][-1])
        tracker(model, solver, stats)

    solvers.adam(nlp, max_epochs=epochs, callback=callback)
    tracker.close()
    return nlp, fs


def test_plain_rows_count_the_epoch_in_progress_and_the_batch_position():
    out = io.StringIO()
    _, fs = _run(out)
    text = out.getvalue()
    assert "\r" not in text and "\x1b" not in text  # no control codes in a log
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["epoch", "batch", "iter"] and "it/s" in lines[0] and "eta" in lines[0]
    rows = [line.split() for line in lines[1:]]
    assert [(r[0], r[1], r[2]) for r in rows[:7]] == [("1", f"{k}/6", str(k)) for k in range(7)]
    assert [(r[0], r[1], r[2]) for r in rows[7:]] == [("2", f"{k}/6", str(6 + k)) for k in range(1, 7)]
    assert rows[6][6] != "-" and rows[5][6] == "-"  # test accuracy on the row that completes an epoch
    # f (mean) is the running mean of the minibatch values since the epoch began; f (batch) the last one
    assert float(rows[3][3]) == pytest.approx(sum(fs[1:4]) / 3, rel=1e-3)
    assert float(rows[3][4]) == pytest.approx(fs[3], rel=1e-3)
    assert float(rows[8][3]) == pytest.approx(sum(fs[7:9]) / 2, rel=1e-3)
    assert rows[-1][10] == "0:00"  # nothing left of the run at its end


@pytest.mark.parametrize("stream", [io.StringIO, Terminal])
@pytest.mark.parametrize("every", [3600.0, 0.0])
def test_rows_within_an_epoch_wait_for_the_interval_and_zero_is_off(every, stream):
    out = stream()
    _run(out, every=every)
    lines = out.getvalue().replace("\r\x1b[K", "\n").splitlines()
    rows = [line.split() for line in lines if line.split()[:1] in (["1"], ["2"])]
    assert [r[1] for r in rows] == ["0/6", "6/6", "6/6"]  # the start, then each completed epoch
    assert ("batch 1/6" in out.getvalue()) == (every > 0 and stream is Terminal)


def test_a_terminal_gets_one_line_updated_in_place():
    out = Terminal()
    _run(out)
    text = out.getvalue()
    assert "\r\x1b[K" in text
    live = [part for part in text.split("\r\x1b[K") if part.startswith("epoch ") and "\n" not in part]
    assert live and all(" it/s " in part and "eta " in part and " run" in part for part in live)
    assert any(part.startswith("epoch 1/2  batch ") for part in live)
    assert text.endswith("\r\x1b[K")  # closed: the live line is cleared before the summary


@pytest.mark.parametrize(
    ("seconds", "text"), [(None, "-"), (0.4, "0:00"), (59.6, "1:00"), (61, "1:01"), (3725, "1:02:05")]
)
def test_durations(seconds, text):
    assert progress.duration(seconds) == text


def test_plural():
    assert progress.plural(1, "epoch") == "1 epoch" and progress.plural(2, "epoch") == "2 epochs"
