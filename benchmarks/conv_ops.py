"""Convolution and max pooling on the LeNet shapes at batch 128, float32, beside PyTorch CPU.

Milliseconds per call (best of repeated rounds) for the forward pass alone and for the forward pass
plus the gradient: for the convolutions with respect to w and b, and, for the second layer, x; for
max pooling with respect to x. Our inputs have the memory order the LeNet feeds them in: the
images C-ordered NCHW, every later array batch-innermost as conv2d and pooling make them (see
minidnn/ops/windows.py), except the gradient reaching the last pooling, which the flattening
reshape makes C-ordered. PyTorch, timed on the same shapes when it imports (it is never a dependency
of the project), gets C-ordered arrays, its own layout.

    python benchmarks/conv_ops.py [--default-allocator]

Freed host memory is kept for reuse (``minidnn.backend.retain_freed_host_memory``) unless
``--default-allocator`` is given; the difference shows what glibc's default allocator costs.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")  # before NumPy loads OpenBLAS: the 2-core target

import numpy as np  # noqa: E402
from timing import best_time, configure_allocator, machine, torch_or_none  # noqa: E402

from minidnn import Tensor, grad, no_grad, ops  # noqa: E402

BATCH = 128
CONVS = [  # (label, x shape, w shape, gradient with respect to x too, x batch-innermost)
    ("conv 5x5 1->20", (BATCH, 1, 28, 28), (20, 1, 5, 5), False, False),
    ("conv 5x5 20->50", (BATCH, 20, 12, 12), (50, 20, 5, 5), True, True),
]
POOLS = [  # (label, x shape, output gradient batch-innermost)
    ("max_pool 2x2 20ch", (BATCH, 20, 24, 24), True),
    ("max_pool 2x2 50ch", (BATCH, 50, 8, 8), False),
]


def arrays(*shapes: tuple[int, ...], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s, dtype=np.float32) for s in shapes]


def batch_innermost(a: np.ndarray) -> np.ndarray:
    """The same (N, C, H, W) values with (C, H, W, N) memory."""
    return np.ascontiguousarray(a.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)


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

    return forward, backward


def minidnn_pool(x_shape, gy_inner):
    xt = Tensor(batch_innermost(arrays(x_shape)[0]), requires_grad=True)
    gy = arrays((x_shape[0], x_shape[1], x_shape[2] // 2, x_shape[3] // 2), seed=1)[0]
    gy = batch_innermost(gy) if gy_inner else gy

    def forward():
        with no_grad():
            return ops.max_pool2d(xt, 2)

    def backward():
        return grad(ops.max_pool2d(xt, 2), xt, grad_outputs=gy)

    return forward, backward


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

    return forward, backward


def torch_pool(torch, x_shape):
    x = torch.tensor(arrays(x_shape)[0], requires_grad=True)
    gy = torch.tensor(arrays((x_shape[0], x_shape[1], x_shape[2] // 2, x_shape[3] // 2), seed=1)[0])

    def forward():
        with torch.no_grad():
            return torch.nn.functional.max_pool2d(x, 2)

    def backward():
        return torch.autograd.grad(torch.nn.functional.max_pool2d(x, 2), x, gy)

    return forward, backward


def report(label: str, ours: tuple, theirs: tuple | None) -> None:
    for kind, mine, other in zip(("forward", "fwd+grad"), ours, theirs or (None, None)):
        t = best_time(mine, 10)
        text = f"{label:20s} {kind:9s} minidnn {t * 1e3:7.2f} ms"
        if other is not None:
            u = best_time(other, 10)
            text += f"   torch {u * 1e3:7.2f} ms   minidnn/torch {t / u:5.2f}"
        print(text)


def main() -> None:
    allocator = configure_allocator()
    torch = torch_or_none()
    print(machine())
    print(
        f"float32, batch {BATCH}, OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, {allocator}"
        + ("" if torch else "; PyTorch absent")
    )
    for label, x_shape, w_shape, wrt_x, x_inner in CONVS:
        theirs = torch_conv(torch, x_shape, w_shape, wrt_x) if torch else None
        report(label, minidnn_conv(x_shape, w_shape, wrt_x, x_inner), theirs)
    for label, x_shape, gy_inner in POOLS:
        report(label, minidnn_pool(x_shape, gy_inner), torch_pool(torch, x_shape) if torch else None)


if __name__ == "__main__":
    main()
