"""Losses, each the mean over the batch of a per-sample loss, and the accuracy of predictions.

Every loss checks its arguments before computing: shapes, label dtype and range, targets' range; a
ValueError names the loss and the shapes. ``check=False`` skips the checks that read values (label
range), which cost a host transfer on a GPU; a model that validated its data once passes it.

    softmax_cross_entropy(z, y)   mean_i logsumexp(z_i) - z_{i, y_i}     z (N, C), y int (N,) in 0..C-1
    mse(p, t)                     mean over all elements of (p - t)^2    (Knet's and PyTorch's mse)
    binary_cross_entropy(z, t)    mean of softplus(z) - t z              logits z, targets t in [0, 1]
    logistic(z, y)                mean of log(1 + exp(-y z))             labels y in {-1, +1}
"""

from __future__ import annotations

from typing import Any

from minidnn import backend as _backend
from minidnn.ops import softplus
from minidnn.ops.cross_entropy import SoftmaxCrossEntropy
from minidnn.ops.operands import tensor_arg
from minidnn.ops.reduction import mean
from minidnn.tensor import Tensor

NAMES = ("softmax_cross_entropy", "mse", "binary_cross_entropy", "logistic")


def softmax_cross_entropy(logits: Any, labels: Any, check: bool = True) -> Tensor:
    """Mean softmax cross-entropy of logits (N, C) against integer labels (N,) in 0..C-1."""
    z = tensor_arg("softmax_cross_entropy", logits)
    y = _labels("softmax_cross_entropy", z, labels)
    if check:
        _check_range("softmax_cross_entropy", z, y, 0, z.shape[1] - 1 if z.ndim == 2 else 0)
    return SoftmaxCrossEntropy(y)(z)


def mse(predictions: Any, targets: Any) -> Tensor:
    """Mean squared error over all elements."""
    p = tensor_arg("mse", predictions)
    t = _targets("mse", p, targets)
    d = p - t
    return mean(d * d)


def binary_cross_entropy(logits: Any, targets: Any, check: bool = True) -> Tensor:
    """Mean binary cross-entropy of logits against targets in [0, 1] (stable: softplus(z) - t z)."""
    z = tensor_arg("binary_cross_entropy", logits)
    t = _targets("binary_cross_entropy", z, targets)
    if check:
        _check_range("binary_cross_entropy", z, t.data, 0.0, 1.0)
    return mean(softplus(z) - t * z)


def logistic(scores: Any, labels: Any, check: bool = True) -> Tensor:
    """Mean logistic loss log(1 + exp(-y z)) of scores against labels in {-1, +1}."""
    z = tensor_arg("logistic", scores)
    y = _targets("logistic", z, labels)
    if check:
        xp = z.backend.xp
        if not z.backend.to_float(xp.all(xp.abs(y.data) == 1)):
            raise ValueError(f"logistic: labels must be -1 or +1 (shape {y.shape})")
    return mean(softplus(-(y * z)))


def accuracy(logits: Any, labels: Any) -> float:
    """The fraction of rows whose largest logit is at the label (ties: the first maximum)."""
    z = logits.data if isinstance(logits, Tensor) else logits
    be = _backend.of(z)
    y = _labels("accuracy", Tensor._make(z, None, None), labels)
    xp = be.xp
    hits = xp.sum(xp.astype(xp.argmax(z, axis=1) == y, xp.int64))
    return be.to_float(hits) / max(int(y.shape[0]), 1)


def get(name: str) -> Any:
    """The loss called ``name``; a ValueError listing the valid names otherwise."""
    if name not in NAMES:
        raise ValueError(f"unknown loss {name!r}; valid losses: {', '.join(NAMES)}")
    return globals()[name]


def _labels(op: str, z: Tensor, labels: Any) -> Any:
    y = labels.data if isinstance(labels, Tensor) else labels
    be = z.backend
    if not be.owns(y):
        raise ValueError(f"{op}: labels must be an array of backend {be.name}, got {type(y).__name__}")
    if not be.xp.isdtype(y.dtype, "integral"):
        raise ValueError(
            f"{op}: labels must be integers 0..C-1, got dtype {y.dtype} with shape {tuple(y.shape)}"
        )
    if z.ndim != 2 or tuple(y.shape) != (z.shape[0],):
        raise ValueError(
            f"{op}: expected logits (N, C) and labels (N,), got logits {z.shape} and labels {tuple(y.shape)}"
        )
    return y


def _targets(op: str, p: Tensor, targets: Any) -> Tensor:
    t = tensor_arg(op, targets)
    if t.shape != p.shape:
        raise ValueError(f"{op}: predictions {p.shape} and targets {t.shape} differ in shape")
    if t.dtype != p.dtype:
        raise ValueError(f"{op}: predictions are {p.dtype} but targets are {t.dtype}")
    return t


def _check_range(op: str, z: Tensor, values: Any, low: float, high: float) -> None:
    be = z.backend
    xp = be.xp
    if values.size == 0:
        return
    inside = xp.all((values >= low) & (values <= high))
    if not be.to_float(inside):
        raise ValueError(
            f"{op}: values must lie in [{low}, {high}] (shape {tuple(values.shape)}, logits {z.shape})"
        )
