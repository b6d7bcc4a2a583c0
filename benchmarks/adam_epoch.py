"""One epoch of Adam on the MNIST MLP 784-300-100-10 at batch 128, beside a ``torch.optim.Adam`` loop.

Ours: ``solvers.adam(nlp, max_epochs=1)`` on a ``NeuralNetModel`` (shuffled minibatches, one
``objgrad`` per step, the driver's bookkeeping, no test evaluation), as a user's script gets it.
Theirs: the same network in ``torch.nn``, a shuffled pass over the same arrays with
``zero_grad``, cross-entropy, ``backward`` and ``Adam.step`` per batch. The two epochs run in turn
(A B A B ...); each timed epoch follows a pause and one untimed step of its own side. Data: MNIST
from DATA_FOLDER (default ``$MINIDNN_DATA``) when it holds ``mnist/``, else random MNIST-shaped data
of the same size (the timing does not depend on the values).

    python benchmarks/adam_epoch.py [DATA_FOLDER] [--json PATH] [--tiny] [--threads N] [--rounds 5]
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from minidnn.datasets import from_arrays, load
from minidnn.nlpmodels import NeuralNetModel
from timing import PAUSE_S, finish, parser, setup, torch_or_none

from minidnn import models, solvers

SIZES = [784, 300, 100, 10]
BATCH = 128


def mnist_or_random(folder: str | None, samples: int) -> tuple[np.ndarray, np.ndarray, str]:
    """(images N x 784 float32, labels, description) of MNIST's training split, or random stand-ins."""
    if folder and (Path(folder) / "mnist").is_dir():
        train = load("mnist", "train", root=folder, download=False)
        return train.x.reshape(len(train), -1)[:samples], train.y[:samples], "MNIST training split"
    rng = np.random.default_rng(0)
    x = rng.random((samples, SIZES[0]), dtype=np.float32)
    return x, rng.integers(0, 10, samples), "random MNIST-shaped data"


def ours(x: np.ndarray, y: np.ndarray) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """(one epoch of our Adam from the same start, one untimed step)."""
    nlp = NeuralNetModel(models.mlp(SIZES), from_arrays(x, y, classes=10), batch_size=BATCH, seed=0)
    w = nlp.meta.x0.copy()

    def epoch() -> Any:
        nlp.reset_minibatch()
        return solvers.adam(nlp, max_epochs=1, eval_every=None, atol=0.0, rtol=0.0)

    return epoch, lambda: nlp.objgrad(w)


def theirs(torch: Any, x: np.ndarray, y: np.ndarray) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """(one epoch of a torch.optim.Adam loop, one untimed step)."""
    torch.manual_seed(0)
    layers: list[Any] = []
    for i, (fan_in, fan_out) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        layers += [torch.nn.Linear(fan_in, fan_out)] + ([torch.nn.ReLU()] if i < len(SIZES) - 2 else [])
    net = torch.nn.Sequential(*layers)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    xt, yt = torch.tensor(x), torch.tensor(y.astype(np.int64))
    generator = torch.Generator().manual_seed(0)

    def step(index: Any) -> None:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(xt[index]), yt[index]).backward()
        optimizer.step()

    def epoch() -> None:
        order = torch.randperm(len(xt), generator=generator)
        for start in range(0, len(xt), BATCH):
            step(order[start : start + BATCH])

    return epoch, lambda: step(torch.arange(BATCH))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(__doc__)
    p.add_argument("data", nargs="?", default=os.environ.get("MINIDNN_DATA"), help="folder holding mnist/")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    settings = setup(args)
    torch = torch_or_none(args)
    samples, rounds = (4 * BATCH, 1) if args.tiny else (60_000, args.rounds)
    x, y, source = mnist_or_random(args.data, samples)
    sides = {"minidnn": ours(x, y)} | ({"torch": theirs(torch, x, y)} if torch else {})
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    loads = []
    for _ in range(rounds):
        loads.append(os.getloadavg()[0])
        for name, (epoch, warm) in sides.items():
            time.sleep(PAUSE_S)
            warm()
            start = time.perf_counter()
            epoch()
            seconds[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    ratio = medians["torch"] / medians["minidnn"] if torch else None
    settings |= {"data": source, "samples": len(x), "batch": BATCH, "rounds": rounds}
    settings |= {"torch": torch.__version__ if torch else None}
    line = f"Adam epoch, MLP 784-300-100-10, batch {BATCH}, {source}: minidnn {medians['minidnn']:.3f} s"
    if ratio is not None:
        line += f"   torch {medians['torch']:.3f} s   ratio {ratio:.2f}x"
    print(line + f"   load {min(loads):.1f}-{max(loads):.1f}")
    results = {"seconds": seconds, "median_s": medians, "ratio": ratio, "load": loads}
    return finish("adam_epoch", settings, results, args)


if __name__ == "__main__":
    main()
