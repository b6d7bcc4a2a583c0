"""Network throughput beside PyTorch CPU: gradient and Hessian-vector product per batch size.

float32; the MLP 784-300-100-10 and the LeNet of KnetNLPModels (431,080 parameters) at batch 32, 128,
512 and 2048, through ``NeuralNetModel(..., threads=--threads)`` (``objgrad`` and ``hprod``: flat
vectors in and out; both through closed forms, LeNet's convolutions through ``minidnn.conv_front``, its
batch split across the threads from 2 x 44 samples, 2 x 22 for the HVP);
PyTorch, when it imports, computes the same gradient written into one flat vector (``torch.cat``) and
its HVP by double backward. Then the tiny MLP 10-10-10 at batch 1: the per-call floor. Sides are
interleaved (see ``timing.py``); ratio = PyTorch time / minidnn time (above 1: minidnn faster). Minor
page faults per call come with every figure.

    python benchmarks/networks.py [--json PATH] [--tiny] [--threads N] [--batches 32,128]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from minidnn.datasets import from_arrays
from minidnn.nlpmodels import NeuralNetModel
from timing import describe, finish, parser, setup, side_by_side, torch_or_none

from minidnn import models

BATCHES = (32, 128, 512, 2048)
NETWORKS = {
    "MLP 784-300-100-10": (lambda: models.mlp([784, 300, 100, 10]), (1, 28, 28)),
    "LeNet 431,080": (models.lenet_knet, (1, 28, 28)),
}


def data(batch: int, shape: tuple[int, ...], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((batch, *shape), dtype=np.float32), rng.integers(0, 10, batch)


def minidnn_calls(build: Any, x: np.ndarray, y: np.ndarray, threads: int | None = None) -> dict[str, Any]:
    """objgrad and hprod of a model whose one batch is (x, y), run with ``threads`` (the model's
    setting: its convolutional networks then split large batches across the threads)."""
    data = from_arrays(x, y, classes=10)
    nlp = NeuralNetModel(build(), data, batch_size=len(x), shuffle=False, threads=threads)
    w = nlp.meta.x0.copy()
    v = np.random.default_rng(1).standard_normal(nlp.meta.nvar).astype(np.float32)
    return {"gradient": lambda: nlp.objgrad(w), "hvp": lambda: nlp.hprod(w, v)}


def torch_calls(torch: Any, name: str, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """The same network's flat gradient and double-backward HVP in PyTorch."""
    torch.manual_seed(0)
    net = torch_network(torch, name)
    params = list(net.parameters())
    xt, yt = torch.tensor(x), torch.tensor(y)
    vs = [torch.randn_like(p) for p in params]

    def flat_gradient():
        gs = torch.autograd.grad(torch.nn.functional.cross_entropy(net(xt), yt), params)
        return torch.cat([g.reshape(-1) for g in gs])

    def flat_hvp():
        gs = torch.autograd.grad(torch.nn.functional.cross_entropy(net(xt), yt), params, create_graph=True)
        return torch.cat([h.reshape(-1) for h in torch.autograd.grad(gs, params, vs)])

    return {"gradient": flat_gradient, "hvp": flat_hvp}


def torch_network(torch: Any, name: str) -> Any:
    nn = torch.nn
    if name.startswith("MLP"):
        return nn.Sequential(
            nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10)
        )
    if name.startswith("tiny"):
        return nn.Sequential(nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 10))
    return nn.Sequential(
        nn.Conv2d(1, 20, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(20, 50, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10),
    )  # fmt: skip


def compare(name: str, ours: dict[str, Any], theirs: dict[str, Any], rounds: int, batch: int) -> list[dict]:
    """One row per quantity: both sides timed in turn."""
    rows = []
    for quantity, row in side_by_side(ours, theirs, rounds).items():
        rows.append({"network": name, "batch": batch, "quantity": quantity, **row})
        print(describe(f"{name} batch {batch} {quantity}", row), flush=True)
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(__doc__)
    p.add_argument("--batches", default=",".join(map(str, BATCHES)), help="comma-separated batch sizes")
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args(argv)
    settings = setup(args)
    torch = torch_or_none(args)
    batches = (2,) if args.tiny else tuple(int(b) for b in args.batches.split(","))
    rounds = 1 if args.tiny else args.rounds
    settings |= {"batches": batches, "rounds": rounds, "torch": torch.__version__ if torch else None}
    rows = []
    for name, (build, shape) in NETWORKS.items():
        for batch in batches:
            x, y = data(batch, shape)
            theirs = torch_calls(torch, name, x, y) if torch else {}
            rows += compare(name, minidnn_calls(build, x, y, args.threads), theirs, rounds, batch)
    x, y = data(1, (10,))
    tiny = {"gradient": minidnn_calls(lambda: models.mlp([10, 10, 10]), x, y)["gradient"]}
    theirs = {"gradient": torch_calls(torch, "tiny", x, y)["gradient"]} if torch else {}
    rows += compare("tiny MLP 10-10-10", tiny, theirs, rounds, 1)
    return finish("networks", settings, rows, args)


if __name__ == "__main__":
    main()
