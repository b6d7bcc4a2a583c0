"""Using both cores for more than the matrix products: the batch split across threads, against
threading inside each operation.

Three ways to compute a gradient (objgrad) and a Hessian-vector product on one batch, float32:

    per-op       one Python thread, the BLAS with ``--threads`` threads (what NeuralNetModel does)
    split        the batch cut into ``--threads`` chunks, one Python thread each with its own
                 workspace and a one-thread BLAS, the chunks' shares summed at the end (NumPy
                 releases the interpreter lock inside BLAS calls and large elementwise loops)
    serial       one Python thread, a one-thread BLAS (the floor both must beat)

The three are timed in turn (interleaved medians, load recorded); the split's values are checked
against the model's. The split would be kept in the library only if it measured faster.

    python benchmarks/batch_split.py [--json PATH] [--tiny] [--threads 2] [--batches 128,512]
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from minidnn.datasets import from_arrays
from minidnn.nlpmodels import NeuralNetModel
from timing import finish, interleaved, parser, setup

from minidnn import Tensor, backend, grad, losses, models
from minidnn.workspace import Workspace

NETWORKS = {"MLP 784-300-100-10": lambda: models.mlp([784, 300, 100, 10]), "LeNet 431,080": models.lenet_knet}


class BatchSplit:
    """The mean loss of one batch, its gradient and its HVP, computed chunk by chunk on ``parts`` threads."""

    def __init__(self, nlp: NeuralNetModel, x: np.ndarray, y: np.ndarray, parts: int):
        self.net = nlp.network
        self.params = self.net.parameters()
        bounds = np.linspace(0, len(x), parts + 1).astype(int)
        self.chunks = [
            (Tensor(x[a:b]), y[a:b], (b - a) / len(x)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a
        ]
        self.workspaces = [Workspace() for _ in self.chunks]
        self.pool = ThreadPoolExecutor(len(self.chunks))

    def _share(self, k: int) -> tuple[Any, Any]:
        inputs, labels, weight = self.chunks[k]
        with self.workspaces[k]:
            loss = losses.softmax_cross_entropy(self.net(inputs, check=False), labels, check=False) * weight
            grads = grad(loss, self.params)
            if self.params[0].tangent is not None:
                grads = [Tensor(g.tangent) for g in grads]
            return loss.data, self.net.gradient_vector(grads)

    def _sum(self) -> tuple[float, Any]:
        with backend.threads(1):
            shares = list(self.pool.map(self._share, range(len(self.chunks))))
        total, out = shares[0][0], shares[0][1]
        for value, vector in shares[1:]:
            total = total + value
            out += vector
        return float(total), out

    def objgrad(self, w: Any) -> tuple[float, Any]:
        self.net.load(w)
        return self._sum()

    def hprod(self, w: Any, v: Any) -> Any:
        self.net.load(w)
        self.net.set_tangent(v)
        try:
            return self._sum()[1]
        finally:
            self.net.set_tangent(None)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(__doc__)
    p.add_argument("--batches", default="128,512")
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args(argv)
    settings = setup(args)
    batches = (4,) if args.tiny else tuple(int(b) for b in args.batches.split(","))
    rounds = 1 if args.tiny else args.rounds
    settings |= {"batches": batches, "rounds": rounds, "parts": args.threads}
    rows = []
    for name, build in NETWORKS.items():
        for batch in batches:
            rng = np.random.default_rng(0)
            x, y = rng.random((batch, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, batch)
            data = from_arrays(x, y, classes=10)
            per_op = NeuralNetModel(build(), data, batch_size=batch, shuffle=False, threads=args.threads)
            serial = NeuralNetModel(build(), data, batch_size=batch, shuffle=False, threads=1)
            split = BatchSplit(
                NeuralNetModel(build(), data, batch_size=batch, shuffle=False), x, y, args.threads
            )
            w = per_op.meta.x0.copy()
            v = rng.standard_normal(per_op.meta.nvar).astype(np.float32)
            error = float(np.abs(split.objgrad(w)[1] - per_op.objgrad(w)[1]).max())
            error = max(error, float(np.abs(split.hprod(w, v) - per_op.hprod(w, v)).max()))
            for quantity, calls in (
                ("objgrad", {"per-op": per_op.objgrad, "split": split.objgrad, "serial": serial.objgrad}),
                ("hprod", {"per-op": per_op.hprod, "split": split.hprod, "serial": serial.hprod}),
            ):
                point = (w,) if quantity == "objgrad" else (w, v)
                cases = {way: (lambda f=f, point=point: f(*point)) for way, f in calls.items()}
                timed = interleaved(cases, rounds=rounds, warmup=0 if args.tiny else 2)
                row = {"network": name, "batch": batch, "quantity": quantity, "max_abs_difference": error}
                row |= {f"{way}_s": t["median_s"] for way, t in timed.items()}
                row["split_speedup_over_per_op"] = row["per-op_s"] / row["split_s"]
                row["load"] = timed["split"]["load"]
                rows.append(row)
                print(
                    f"{name:20s} batch {batch:5d} {quantity:8s} per-op {row['per-op_s'] * 1e3:8.2f} ms  "
                    f"split {row['split_s'] * 1e3:8.2f} ms  serial {row['serial_s'] * 1e3:8.2f} ms  "
                    f"per-op/split {row['split_speedup_over_per_op']:4.2f}x  |diff| {error:.1e}  "
                    f"load {min(row['load']):.1f}-{max(row['load']):.1f}",
                    flush=True,
                )
    return finish("batch_split", settings, rows, args)


if __name__ == "__main__":
    main()
