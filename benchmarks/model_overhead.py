"""What NeuralNetModel adds to the bare network: LeNet (431,080 parameters), batch 128, float32.

Bare network: forward, forward + backward, forward over reverse (HVP) on the same batch, through the
network's own parameters, without a workspace. Model: obj, grad, objgrad, hprod, each taking and
returning flat vectors (the copy of x in, the gradient vector out, argument checks, the scalar
transfer), inside the network's workspace. The pairs are timed in turn (interleaved medians); a
negative overhead is what the workspace saves.

    python benchmarks/model_overhead.py [--json PATH] [--tiny]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from minidnn.datasets import from_arrays
from minidnn.nlpmodels import NeuralNetModel
from timing import batch_and_rounds, batch_parser, finish, interleaved, setup

import minidnn as md
from minidnn import losses, models


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = batch_parser(__doc__).parse_args(argv)
    settings = setup(args)
    batch, rounds = batch_and_rounds(args)
    settings |= {"network": "LeNet 431,080", "batch": batch, "rounds": rounds}
    rng = np.random.default_rng(0)
    x = rng.random((batch, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    nlp = NeuralNetModel(models.lenet_knet(), from_arrays(x, y, classes=10), batch_size=batch, shuffle=False)
    net = nlp.network
    w = nlp.meta.x0.copy()
    v = rng.standard_normal(nlp.meta.nvar).astype(np.float32)
    inputs, params = md.Tensor(x), net.parameters()

    def forward():
        with md.no_grad():
            return losses.softmax_cross_entropy(net(inputs, check=False), y, check=False)

    def backward():
        return md.grad(losses.softmax_cross_entropy(net(inputs, check=False), y, check=False), params)

    def hvp():
        net.set_tangent(v)
        try:
            return backward()
        finally:
            net.set_tangent(None)

    pairs = {
        "obj": (forward, lambda: nlp.obj(w)),
        "grad": (backward, lambda: nlp.grad(w)),
        "objgrad": (backward, lambda: nlp.objgrad(w)),
        "hprod": (hvp, lambda: nlp.hprod(w, v)),
    }
    rows = {}
    for name, (bare, through_model) in pairs.items():
        net.load(w)
        timed = interleaved(
            {"bare": bare, "model": through_model}, rounds=rounds, warmup=0 if args.tiny else 2
        )
        b, m = timed["bare"], timed["model"]
        rows[name] = {
            "bare_s": b["median_s"],
            "model_s": m["median_s"],
            "overhead": m["median_s"] / b["median_s"] - 1,
            "bare_minor_faults_per_call": b["minor_faults_per_call"],
            "model_minor_faults_per_call": m["minor_faults_per_call"],
            "load": b["load"],
        }
        print(
            f"{name:8s} bare {b['median_s'] * 1e3:8.2f} ms ({b['minor_faults_per_call']:7.1f} faults)   "
            f"model {m['median_s'] * 1e3:8.2f} ms ({m['minor_faults_per_call']:7.1f} faults)   "
            f"overhead {100 * rows[name]['overhead']:+6.1f}%   load {max(b['load']):.1f}",
            flush=True,
        )
    return finish("model_overhead", settings, rows, args)


if __name__ == "__main__":
    main()
