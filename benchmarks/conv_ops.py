"""Convolution and max pooling on the LeNet shapes, float32, beside PyTorch CPU.

Seconds per call for the forward pass alone and for the forward pass plus the gradient: for the
convolutions with respect to w and b, and, for the second layer, x; for max pooling with respect to
x. Our inputs have the memory order the LeNet feeds them in: the images C-ordered NCHW, every
later array batch-innermost as conv2d and pooling make them (see minidnn/ops/windows.py), except
the gradient reaching the last pooling, which the flattening reshape makes C-ordered. Our calls run
inside a workspace, as a model's do. PyTorch, when it imports (never a dependency of the project),
gets C-ordered arrays, its own layout. Sides interleaved; ratio = PyTorch time / minidnn time.

    python benchmarks/conv_ops.py [--json PATH] [--tiny] [--batch 128]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from timing import batch_and_rounds, batch_parser, describe, finish, setup, side_by_side, torch_or_none

from minidnn import Tensor, grad, no_grad, ops
from minidnn.workspace import Workspace


def cases(batch: int) -> tuple[list, list]:
    convs = [  # (label, x shape, w shape, gradient with respect to x too, x batch-innermost)
        ("conv 5x5 1->20", (batch, 1, 28, 28), (20, 1, 5, 5), False, False),
        ("conv 5x5 20->50", (batch, 20, 12, 12), (50, 20, 5, 5), True, True),
    ]
    pools = [  # (label, x shape, output gradient batch-innermost)
        ("max_pool 2x2 20ch", (batch, 20, 24, 24), True),
        ("max_pool 2x2 50ch", (batch, 50, 8, 8), False),
    ]
    return convs, pools


def arrays(*shapes: tuple[int, ...], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s, dtype=np.float32) for s in shapes]


def batch_innermost(a: np.ndarray) -> np.ndarray:
    """The same (N, C, H, W) values with (C, H, W, N) memory."""
    return np.ascontiguousarray(a.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)


def in_workspace(fn: Any) -> Any:
    ws = Workspace()

    def run() -> Any:
        with ws:
            return fn()

    return run


def minidnn_conv(x_shape, w_shape, wrt_x, x_inner):
    x, w, b = arrays(x_shape, w_shape, w_shape[:1])
    x = batch_innermost(x) if x_inner else x
    xt, wt, bt = Tensor(x, requires_grad=wrt_x), Tensor(w, requires_grad=True), Tensor(b, requires_grad=True)
    with no_grad():
        gy = batch_innermost(arrays(ops.conv2d(xt, wt, bt).shape, seed=1)[0])
    wrt = [xt, wt, bt] if wrt_x else [wt, bt]

    def forward():
        with no_grad():
            return ops.conv2d(xt, wt, bt)

    def backward():
        return grad(ops.conv2d(xt, wt, bt), wrt, grad_outputs=gy)

    return {"forward": in_workspace(forward), "fwd+grad": in_workspace(backward)}


def minidnn_pool(x_shape, gy_inner):
    xt = Tensor(batch_innermost(arrays(x_shape)[0]), requires_grad=True)
    gy = arrays((x_shape[0], x_shape[1], x_shape[2] // 2, x_shape[3] // 2), seed=1)[0]
    gy = batch_innermost(gy) if gy_inner else gy

    def forward():
        with no_grad():
            return ops.max_pool2d(xt, 2)

    def backward():
        return grad(ops.max_pool2d(xt, 2), xt, grad_outputs=gy)

    return {"forward": in_workspace(forward), "fwd+grad": in_workspace(backward)}


def torch_conv(torch, x_shape, w_shape, wrt_x):
    x, w, b = (torch.tensor(a) for a in arrays(x_shape, w_shape, w_shape[:1]))
    x.requires_grad_(wrt_x)
    w.requires_grad_(True)
    b.requires_grad_(True)
    gy = torch.tensor(arrays(torch.nn.functional.conv2d(x, w, b).shape, seed=1)[0])
    wrt = [x, w, b] if wrt_x else [w, b]

    def forward():
        with torch.no_grad():
            return torch.nn.functional.conv2d(x, w, b)

    def backward():
        return torch.autograd.grad(torch.nn.functional.conv2d(x, w, b), wrt, gy)

    return {"forward": forward, "fwd+grad": backward}


def torch_pool(torch, x_shape):
    x = torch.tensor(arrays(x_shape)[0], requires_grad=True)
    gy = torch.tensor(arrays((x_shape[0], x_shape[1], x_shape[2] // 2, x_shape[3] // 2), seed=1)[0])

    def forward():
        with torch.no_grad():
            return torch.nn.functional.max_pool2d(x, 2)

    def backward():
        return torch.autograd.grad(torch.nn.functional.max_pool2d(x, 2), x, gy)

    return {"forward": forward, "fwd+grad": backward}


def compare(label: str, ours: dict, theirs: dict, rounds: int) -> list[dict[str, Any]]:
    rows = []
    for kind, row in side_by_side(ours, theirs, rounds).items():
        rows.append({"op": label, "pass": kind, **row})
        print(describe(f"{label} {kind}", row), flush=True)
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = batch_parser(__doc__).parse_args(argv)
    settings = setup(args)
    torch = torch_or_none(args)
    batch, rounds = batch_and_rounds(args)
    settings |= {"batch": batch, "rounds": rounds, "torch": torch.__version__ if torch else None}
    convs, pools = cases(batch)
    rows = []
    for label, x_shape, w_shape, wrt_x, x_inner in convs:
        theirs = torch_conv(torch, x_shape, w_shape, wrt_x) if torch else {}
        rows += compare(label, minidnn_conv(x_shape, w_shape, wrt_x, x_inner), theirs, rounds)
    for label, x_shape, gy_inner in pools:
        theirs = torch_pool(torch, x_shape) if torch else {}
        rows += compare(label, minidnn_pool(x_shape, gy_inner), theirs, rounds)
    return finish("conv_ops", settings, rows, args)


if __name__ == "__main__":
    main()
