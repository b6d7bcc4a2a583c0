"""Gradient and Hessian-vector product cost on the MLP 784-300-100-10 (ReLU, softmax cross-entropy).

float32, batch 128, the network written with minidnn's primitives; both HVP modes are timed, and
PyTorch CPU too when it is importable (double backward, and forward over reverse with torch.func).
Each side's quantities are timed in turn (interleaved medians); the ratios are HVP / gradient.

    python benchmarks/hvp_ratio.py [--json PATH] [--tiny]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from timing import batch_and_rounds, batch_parser, finish, interleaved, setup, torch_or_none

import minidnn as md
from minidnn import ops

SIZES = (784, 300, 100, 10)


def glorot(rng: np.random.Generator, fan_out: int, fan_in: int) -> np.ndarray:
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (fan_out, fan_in)).astype(np.float32)


def problem(batch: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        params += [glorot(rng, fan_out, fan_in), np.zeros(fan_out, np.float32)]
    x = rng.standard_normal((batch, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], batch)
    vs = [rng.standard_normal(p.shape).astype(np.float32) for p in params]
    return params, x, y, vs


def minidnn_calls(params, x, y, vs) -> dict[str, Any]:
    inputs, labels = md.Tensor(x), y[:, None]

    def loss(*ps):
        h = inputs
        for k in range(0, len(ps), 2):
            h = ops.matmul(h, ps[k], transb=True) + ps[k + 1]
            if k < len(ps) - 2:
                h = ops.relu(h)
        return ops.mean(ops.logsumexp(h, axis=1) - ops.take_along_axis(h, labels, axis=1)[:, 0])

    def gradient():
        leaves = [md.Tensor(p, requires_grad=True) for p in params]
        return md.grad(loss(*leaves), leaves)

    calls = {"gradient": gradient}
    for mode in md.derivatives.MODES:
        calls[f"hvp {mode}"] = lambda m=mode: md.hvp(loss, params, vs, mode=m)
    return calls


def torch_calls(torch, params, x, y, vs) -> dict[str, Any]:
    ps = [torch.tensor(p, requires_grad=True) for p in params]
    xt, yt = torch.tensor(x), torch.tensor(y)
    vt = [torch.tensor(v) for v in vs]

    def loss(*qs):
        h = xt
        for k in range(0, len(qs), 2):
            h = torch.nn.functional.linear(h, qs[k], qs[k + 1])
            if k < len(qs) - 2:
                h = torch.relu(h)
        return torch.nn.functional.cross_entropy(h, yt)

    def gradient():
        return torch.autograd.grad(loss(*ps), ps)

    def double_backward():
        gs = torch.autograd.grad(loss(*ps), ps, create_graph=True)
        return torch.autograd.grad(gs, ps, vt)

    def forward_over_reverse():
        return torch.func.jvp(torch.func.grad(loss, argnums=tuple(range(len(ps)))), tuple(ps), tuple(vt))

    return {
        "gradient": gradient,
        "hvp double backward": double_backward,
        "hvp forward over reverse (torch.func)": forward_over_reverse,
        "hvp torch.autograd.functional.hvp": lambda: torch.autograd.functional.hvp(
            loss, tuple(ps), tuple(vt)
        ),
    }


def report(side: str, calls: dict[str, Any], rounds: int, batch: int) -> dict[str, Any]:
    """Median seconds per call of each quantity and its ratio to the gradient."""
    timed = interleaved(calls, rounds=rounds, warmup=0 if rounds == 1 else 2)
    base = timed["gradient"]["median_s"]
    out = {}
    for label, t in timed.items():
        out[label] = {"s": t["median_s"], "vs_gradient": t["median_s"] / base, "load": t["load"]}
        print(
            f"{side:8s} {label:40s} {t['median_s'] * 1e3:7.3f} ms  {batch / t['median_s']:9.0f} samples/s"
            f"  {t['median_s'] / base:4.2f}x gradient   load {max(t['load']):.1f}",
            flush=True,
        )
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = batch_parser(__doc__).parse_args(argv)
    settings = setup(args)
    batch, rounds = batch_and_rounds(args)
    torch = torch_or_none(args)
    settings |= {"network": "MLP " + "-".join(map(str, SIZES)), "batch": batch, "rounds": rounds}
    settings["torch"] = torch.__version__ if torch else None
    params, x, y, vs = problem(batch)
    results = {"minidnn": report("minidnn", minidnn_calls(params, x, y, vs), rounds, batch)}
    if torch is not None:
        results["torch"] = report("torch", torch_calls(torch, params, x, y, vs), rounds, batch)
    return finish("hvp_ratio", settings, results, args)


if __name__ == "__main__":
    main()
