"""Network throughput: gradient and Hessian-vector product, samples per second, beside PyTorch CPU.

float32; MLP 784-300-100-10 and the LeNet of KnetNLPModels (431,080 parameters) at batch 128;
the tiny MLP 10-10-10 at batch 1 (forward + backward, microseconds). Our HVP is forward over reverse,
the parameters carrying the tangent (what NeuralNetModel.hprod does); PyTorch's, when it imports,
is double backward, and torch.autograd.functional.hvp for reference. Each product is timed per
parameter (what a network library returns) and written into one flat vector (what an NLP model
needs: our flat layout, torch.cat for PyTorch, as KnetNLPModels concatenates with vcat).

    python benchmarks/networks.py [--default-allocator]
"""

from __future__ import annotations

import numpy as np
from timing import best_time, configure_allocator, machine, torch_or_none

import minidnn as md
from minidnn import losses, models

BATCH = 128


def data(shape: tuple[int, ...], classes: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random(shape, dtype=np.float32), rng.integers(0, classes, shape[0])


def minidnn_case(net, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    params = net.parameters()
    inputs = md.Tensor(x)
    v = net.backend.to_device(np.random.default_rng(1).standard_normal(net.nvar), dtype="float32")

    def gradient():
        return md.grad(losses.softmax_cross_entropy(net(inputs, check=False), y, check=False), params)

    def hvp():
        net.set_tangent(v)
        try:
            return [md.Tensor(g.tangent) for g in gradient()]
        finally:
            net.set_tangent(None)

    number = max(3, int(2e-2 / max(best_time(gradient, 1, 1, 1), 1e-6)))
    return {
        "gradient": best_time(gradient, number),
        "gradient, flat": best_time(lambda: net.gradient_vector(gradient()), number),
        "hvp": best_time(hvp, number),
        "hvp, flat": best_time(lambda: net.gradient_vector(hvp()), number),
    }


def torch_case(torch, net_fn, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    torch.manual_seed(0)
    net = net_fn(torch)
    params = list(net.parameters())
    xt, yt = torch.tensor(x), torch.tensor(y)
    vs = [torch.randn_like(p) for p in params]

    def loss_of(*ps):
        out = torch.func.functional_call(net, dict(zip([n for n, _ in net.named_parameters()], ps)), (xt,))
        return torch.nn.functional.cross_entropy(out, yt)

    def gradient():
        return torch.autograd.grad(torch.nn.functional.cross_entropy(net(xt), yt), params)

    def double_backward():
        gs = torch.autograd.grad(torch.nn.functional.cross_entropy(net(xt), yt), params, create_graph=True)
        return torch.autograd.grad(gs, params, vs)

    def flat(parts):
        return torch.cat([p.reshape(-1) for p in parts])

    def functional_hvp():
        return torch.autograd.functional.hvp(loss_of, tuple(params), tuple(vs))

    number = max(3, int(2e-2 / max(best_time(gradient, 1, 1, 1), 1e-6)))
    return {
        "gradient": best_time(gradient, number),
        "gradient, flat": best_time(lambda: flat(gradient()), number),
        "hvp": best_time(double_backward, number),
        "hvp, flat": best_time(lambda: flat(double_backward()), number),
        "hvp (autograd.functional)": best_time(functional_hvp, number),
    }


def torch_mlp(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10)
    )


def torch_lenet(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 20, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(20, 50, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10),
    )  # fmt: skip


def tiny_minidnn() -> float:
    net = models.mlp([10, 10, 10])
    x, y = data((1, 10))
    params = net.parameters()
    inputs = md.Tensor(x)

    def step():
        return md.grad(losses.softmax_cross_entropy(net(inputs, check=False), y, check=False), params)

    return best_time(step, 2000)


def tiny_torch(torch) -> float:
    nn = torch.nn
    net = nn.Sequential(nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 10))
    x, y = (torch.tensor(a) for a in data((1, 10)))
    params = list(net.parameters())
    return best_time(lambda: torch.autograd.grad(nn.functional.cross_entropy(net(x), y), params), 2000)


def row(label: str, ours: float, theirs: float | None, unit: str = "samples/s") -> None:
    if unit == "samples/s":
        text = f"{label:42s} minidnn {BATCH / ours:9.0f}/s"
        if theirs is not None:
            text += f"   torch {BATCH / theirs:9.0f}/s   ratio {theirs / ours:5.2f}x"
    else:
        text = f"{label:42s} minidnn {ours * 1e6:7.1f} us"
        if theirs is not None:
            text += f"   torch {theirs * 1e6:7.1f} us   ratio {theirs / ours:5.2f}x"
    print(text)


def main() -> None:
    allocator = configure_allocator()
    torch = torch_or_none()
    print(machine())
    print(allocator)
    print(
        f"float32, batch {BATCH}; ratio = minidnn speed / PyTorch speed"
        + ("" if torch else " (PyTorch absent)")
    )
    cases = [
        ("MLP 784-300-100-10", lambda: models.mlp([784, 300, 100, 10]), torch_mlp, (BATCH, 1, 28, 28)),
        ("LeNet 431,080", models.lenet_knet, torch_lenet, (BATCH, 1, 28, 28)),
    ]
    for name, build, torch_build, shape in cases:
        x, y = data(shape)
        ours = minidnn_case(build(), x, y)
        theirs = torch_case(torch, torch_build, x, y) if torch else {}
        for key in ("gradient", "gradient, flat", "hvp", "hvp, flat"):
            row(f"{name} {key.replace('hvp', 'HVP')}", ours[key], theirs.get(key))
        if theirs:
            row(f"{name} HVP vs autograd.functional.hvp", ours["hvp"], theirs["hvp (autograd.functional)"])
        print(f"{name:42s} HVP / gradient = {ours['hvp'] / ours['gradient']:.2f}")
    row("tiny MLP 10-10-10 batch 1 fwd+bwd", tiny_minidnn(), tiny_torch(torch) if torch else None, unit="us")


if __name__ == "__main__":
    main()
