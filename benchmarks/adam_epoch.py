"""One epoch of Adam on the MNIST MLP 784-300-100-10 at batch 128, beside a ``torch.optim.Adam`` loop.

Ours: ``solvers.adam(nlp, max_epochs=1)`` on a ``NeuralNetModel`` (shuffled minibatches, one
``objgrad`` per step, the driver's bookkeeping, no test evaluation), as a user's script gets it.
Theirs: the same network in ``torch.nn``, a shuffled pass over the same arrays with
``zero_grad``, cross-entropy, ``backward`` and ``Adam.step`` per batch. The two epochs run in turn
(``timing.side_by_side``: A B A B ..., each timed epoch after a pause and an untimed one). Data: MNIST
from DATA_FOLDER (default ``$MINIDNN_DATA``) when it holds ``mnist/``, else random MNIST-shaped data
of the same size (the timing does not depend on the values).

    python benchmarks/adam_epoch.py [DATA_FOLDER] [--json PATH] [--tiny] [--threads N] [--rounds 5]
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from minidnn.datasets import from_arrays, load
from minidnn.nlpmodels import NeuralNetModel
from timing import finish, parser, setup, side_by_side, torch_or_none

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


def ours(x: np.ndarray, y: np.ndarray) -> Callable[[], Any]:
    """One epoch of our Adam, from the same start each time."""
    nlp = NeuralNetModel(models.mlp(SIZES), from_arrays(x, y, classes=10), batch_size=BATCH, seed=0)

    def epoch() -> Any:
        nlp.reset_minibatch()
        return solvers.adam(nlp, max_epochs=1, eval_every=None, atol=0.0, rtol=0.0)

    return epoch


def theirs(torch: Any, x: np.ndarray, y: np.ndarray) -> Callable[[], Any]:
    """One epoch of a torch.optim.Adam loop."""
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

    return epoch


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(__doc__)
    p.add_argument("data", nargs="?", default=os.environ.get("MINIDNN_DATA"), help="folder holding mnist/")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    settings = setup(args)
    torch = torch_or_none(args)
    samples, rounds = (4 * BATCH, 1) if args.tiny else (60_000, args.rounds)
    x, y, source = mnist_or_random(args.data, samples)
    their_epoch = {"epoch": theirs(torch, x, y)} if torch else {}
    row = side_by_side({"epoch": ours(x, y)}, their_epoch, rounds)["epoch"]
    settings |= {"data": source, "samples": len(x), "batch": BATCH, "rounds": rounds}
    settings |= {"torch": torch.__version__ if torch else None}
    line = f"Adam epoch, MLP 784-300-100-10, batch {BATCH}, {source}: minidnn {row['minidnn_s']:.3f} s"
    if row["ratio"] is not None:
        line += f"   torch {row['torch_s']:.3f} s   ratio {row['ratio']:.2f}x"
    print(line + f"   load {min(row['load']):.1f}-{max(row['load']):.1f}")
    results = row
    return finish("adam_epoch", settings, results, args)


if __name__ == "__main__":
    main()
