"""What NeuralNetModel adds on top of the bare network: LeNet (431,080 parameters), batch 128, float32.

Bare network: forward, forward + backward, forward over reverse (HVP) on the same batch, through the
network's own flat vector. Model: obj, grad, objgrad, hprod, each taking and returning flat vectors
(the copy of x in, the gradient vector out, argument checks, the scalar transfer).

    python benchmarks/model_overhead.py [--default-allocator]
"""

from __future__ import annotations

import numpy as np
from minidnn.datasets import Dataset
from minidnn.nlpmodels import NeuralNetModel
from timing import best_time, configure_allocator, machine

import minidnn as md
from minidnn import losses, models

BATCH = 128


def main() -> None:
    allocator = configure_allocator()
    rng = np.random.default_rng(0)
    x = rng.random((BATCH, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, BATCH)
    data = Dataset(x, y, tuple(map(str, range(10))), "random", "train")
    nlp = NeuralNetModel(models.lenet_knet(), data, batch_size=BATCH, shuffle=False)
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

    pairs = [
        ("obj", forward, lambda: nlp.obj(w)),
        ("grad", backward, lambda: nlp.grad(w)),
        ("objgrad", backward, lambda: nlp.objgrad(w)),
        ("hprod", hvp, lambda: nlp.hprod(w, v)),
    ]
    print(machine())
    print(allocator)
    print(f"LeNet {nlp.meta.nvar:,d} parameters, batch {BATCH}, float32; best of 7 rounds")
    for name, bare, through_model in pairs:
        times = [best_time(f, number=5) for f in (bare, through_model)]
        print(
            f"{name:8s} bare {times[0] * 1e3:8.2f} ms   model {times[1] * 1e3:8.2f} ms   "
            f"overhead {100 * (times[1] / times[0] - 1):+6.1f}%"
        )


if __name__ == "__main__":
    main()
