"""Convolution and max pooling on the LeNet shapes at batch 128, float32, beside PyTorch CPU.

Milliseconds per call (best of repeated rounds) for the forward pass alone and for the forward pass
plus the gradient: for the convolutions with respect to w and b, and, for the second layer, x; for
max pooling with respect to x. Our inputs have the memory order the LeNet feeds them in: the
images C-ordered NCHW, every later array batch-innermost as conv2d and pooling make them (see
minidnn/ops/windows.py), except the gradient reaching the last pooling, which the flattening
reshape makes C-ordered. PyTorch, timed on the same shapes when it imports (it is never a dependency
of the project), gets C-ordered arrays, its own layout.

    python benchmarks/conv_ops.py [--keep-freed-memory]

NumPy allocates a fresh array for every result, and glibc by default hands large freed blocks back
to the kernel, which must zero the pages again on the next allocation: on the LeNet gradient that
is about a third of the time. ``--keep-freed-memory`` raises glibc's mmap and trim thresholds
(``mallopt``, the same as the environment variables MALLOC_MMAP_THRESHOLD_=33554432 and
MALLOC_TRIM_THRESHOLD_=4000000000) so that freed memory is reused; it shows what the allocator costs.
"""

from __future__ import annotations

import ctypes
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")  # before NumPy loads OpenBLAS: the 2-core target

import numpy as np  # noqa: E402
from timing import best_time, machine, torch_or_none  # noqa: E402

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


def keep_freed_memory() -> str:
    """Raises glibc's mmap threshold to its maximum (32 MiB) and its trim threshold to 4 GB."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return "allocator untouched (no glibc)"
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    ok = libc.mallopt(m_mmap_threshold, 32 * 2**20) and libc.mallopt(m_trim_threshold, 4 * 10**9)
    return "glibc keeps freed memory" if ok else "mallopt refused"


def main() -> None:
    allocator = keep_freed_memory() if "--keep-freed-memory" in sys.argv[1:] else "default allocator"
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
