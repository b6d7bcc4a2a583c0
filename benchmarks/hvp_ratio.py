"""Gradient and Hessian-vector product cost on the MLP 784-300-100-10 (ReLU, softmax cross-entropy).

float32, batch 128, the network written with minidnn's primitives; both HVP modes are timed, and
PyTorch CPU too when it is importable (double backward, and forward over reverse with torch.func).

    python benchmarks/hvp_ratio.py [--default-allocator]
"""

from __future__ import annotations

import numpy as np
from timing import best_time, configure_allocator, machine, torch_or_none

import minidnn as md
from minidnn import ops

SIZES = (784, 300, 100, 10)
BATCH = 128


def glorot(rng: np.random.Generator, fan_out: int, fan_in: int) -> np.ndarray:
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (fan_out, fan_in)).astype(np.float32)


def problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        params += [glorot(rng, fan_out, fan_in), np.zeros(fan_out, np.float32)]
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], BATCH)
    vs = [rng.standard_normal(p.shape).astype(np.float32) for p in params]
    return params, x, y, vs


def minidnn_times(params, x, y, vs) -> dict[str, float]:
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

    times = {"gradient": best_time(gradient)}
    for mode in md.derivatives.MODES:
        times[f"hvp {mode}"] = best_time(lambda m=mode: md.hvp(loss, params, vs, mode=m))
    return times


def torch_times(torch, params, x, y, vs) -> dict[str, float]:
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
        "gradient": best_time(gradient),
        "hvp double backward": best_time(double_backward),
        "hvp forward over reverse (torch.func)": best_time(forward_over_reverse),
        "hvp torch.autograd.functional.hvp": best_time(
            lambda: torch.autograd.functional.hvp(loss, tuple(ps), tuple(vt))
        ),
    }


def report(name: str, times: dict[str, float]) -> None:
    base = times["gradient"]
    for label, t in times.items():
        ratio = "" if label == "gradient" else f"  {t / base:4.2f}x gradient"
        print(f"{name:8s} {label:40s} {t * 1e3:7.3f} ms  {BATCH / t:9.0f} samples/s{ratio}")


def main() -> None:
    allocator = configure_allocator()
    print(machine())
    print(allocator)
    print(f"MLP {'-'.join(map(str, SIZES))}, ReLU, softmax cross-entropy, float32, batch {BATCH}")
    params, x, y, vs = problem()
    report("minidnn", minidnn_times(params, x, y, vs))
    torch = torch_or_none()
    if torch is None:
        print("PyTorch is not importable here: no comparison")
    else:
        report(f"torch {torch.__version__.split('+')[0]}", torch_times(torch, params, x, y, vs))


if __name__ == "__main__":
    main()
