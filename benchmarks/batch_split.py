"""The batch split across threads against threading inside each operation, timed on the model itself.

Three NeuralNetModels compute a gradient (objgrad) and a Hessian-vector product on one batch, float32:

    per-op       ``threads=T, batch_split=False``: one Python thread, the BLAS with T threads
    split        ``threads=P, batch_split=True``: each chunk cut into P parts, one Python thread
                 each with its own workspace and a one-thread BLAS, the parts' shares summed at the
                 end (NumPy releases the interpreter lock inside BLAS calls and large elementwise
                 loops); P = max(T, 2), a split needing two threads
    serial       ``threads=1, batch_split=False``: the floor both must beat

LeNet goes through its closed forms (``minidnn.conv_front``) and the MLP through the graph
(``fused=False``), as a network the closed forms do not cover would (a dense chain in closed form is
never split). The three are timed in turn (interleaved medians, load recorded); the split's values are
checked against the per-op model's. ``CLOSED_FORM_SPLIT_MIN_WORK`` and ``SPLIT_MIN_WORK`` in
:mod:`minidnn.nlpmodels.neural_net` (the multiply-adds per thread from which ``batch_split=None``
splits) were set from these figures.

    python benchmarks/batch_split.py [--json PATH] [--tiny] [--threads 2] [--batches 128,512]
                                     [--networks lenet,mlp] [--rounds 7]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from minidnn.datasets import from_arrays
from minidnn.nlpmodels import NeuralNetModel
from timing import finish, interleaved, parser, setup

from minidnn import models

NETWORKS = {
    "mlp": ("MLP 784-300-100-10", lambda: models.mlp([784, 300, 100, 10])),
    "lenet": ("LeNet 431,080", models.lenet_knet),
}


def ways(threads: int, fused: bool) -> dict[str, dict[str, Any]]:
    """The NeuralNetModel options of each way, at ``threads`` BLAS threads, in closed form or not."""
    return {
        "per-op": {"threads": threads, "batch_split": False, "fused": fused},
        "split": {"threads": max(threads, 2), "batch_split": True, "fused": fused},
        "serial": {"threads": 1, "batch_split": False, "fused": fused},
    }


def measure(name: str, build: Any, batch: int, threads: int, rounds: int, tiny: bool) -> list[dict[str, Any]]:
    """One row per quantity (objgrad, hprod) for one network at one batch size."""
    rng = np.random.default_rng(0)
    x, y = rng.random((batch, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, batch)
    data = from_arrays(x, y, classes=10)
    nlps = {
        way: NeuralNetModel(build(), data, batch_size=batch, shuffle=False, **options)
        for way, options in ways(threads, fused=name.startswith("LeNet")).items()
    }
    w = nlps["per-op"].meta.x0.copy()
    v = rng.standard_normal(w.shape[0]).astype(np.float32)
    split, per_op = nlps["split"], nlps["per-op"]
    error = float(np.abs(split.objgrad(w)[1] - per_op.objgrad(w)[1]).max())
    error = max(error, float(np.abs(split.hprod(w, v) - per_op.hprod(w, v)).max()))
    rows = []
    for quantity in ("objgrad", "hprod"):
        if quantity == "objgrad":
            cases = {way: (lambda nlp=nlp: nlp.objgrad(w)) for way, nlp in nlps.items()}
        else:
            cases = {way: (lambda nlp=nlp: nlp.hprod(w, v)) for way, nlp in nlps.items()}
        timed = interleaved(cases, rounds=rounds, warmup=0 if tiny else 2)
        row = {"network": name, "batch": batch, "quantity": quantity, "split_parts": split.split_parts}
        row |= {f"{way}_s": t["median_s"] for way, t in timed.items()}
        row |= {"max_abs_difference": error, "load": timed["split"]["load"]}
        row["split_speedup_over_per_op"] = row["per-op_s"] / row["split_s"]
        rows.append(row)
        print(
            f"{name:20s} batch {batch:5d} {quantity:8s} per-op {row['per-op_s'] * 1e3:8.2f} ms  "
            f"split {row['split_s'] * 1e3:8.2f} ms  serial {row['serial_s'] * 1e3:8.2f} ms  "
            f"per-op/split {row['split_speedup_over_per_op']:4.2f}x  |diff| {error:.1e}  "
            f"load {min(row['load']):.1f}-{max(row['load']):.1f}",
            flush=True,
        )
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(__doc__)
    p.add_argument("--batches", default="128,512")
    p.add_argument("--networks", default="mlp,lenet", help=f"some of {','.join(NETWORKS)}")
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args(argv)
    chosen = args.networks.split(",")
    unknown = sorted(set(chosen) - set(NETWORKS))
    if unknown:
        p.error(f"--networks: unknown {', '.join(unknown)}; choose from {', '.join(NETWORKS)}")
    settings = setup(args)
    batches = (4,) if args.tiny else tuple(int(b) for b in args.batches.split(","))
    rounds = 1 if args.tiny else args.rounds
    settings |= {"batches": batches, "rounds": rounds, "parts": max(args.threads, 2), "networks": chosen}
    rows = []
    for key in chosen:
        name, build = NETWORKS[key]
        for batch in batches:
            rows += measure(name, build, batch, args.threads, rounds, args.tiny)
    return finish("batch_split", settings, rows, args)


if __name__ == "__main__":
    main()
