"""``from_arrays``: a :class:`Dataset` from one's own arrays, checked and converted once."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from minidnn.datasets.dataset import Dataset
from minidnn.datasets.errors import DatasetError, DatasetWarning

_REAL_KINDS = "biuf"
"""NumPy dtype kinds taken as real numbers: bool, signed and unsigned integers, floating."""


def from_arrays(
    x: Any,
    y: Any,
    *,
    classes: int | Sequence[str] | None = None,
    name: str = "arrays",
    split: str = "train",
) -> Dataset:
    """A Dataset from arrays in memory (anything ``numpy.asarray`` takes), copied and checked.

    ``x``: N samples, batch first, of any real dtype (bool, integers, floats), converted once to
    float32 in a new array (the caller's array is never aliased nor frozen):

    - N x D feature vectors stay flat (an MLP's first Dense layer takes them as they are; ``mlp()``
      and ``Flatten`` take them too);
    - N x H x W images gain a channel axis: N x 1 x H x W;
    - N x C x H x W images stay as they are.

    NaN, infinities and values beyond the float32 range raise DatasetError naming the first one;
    values outside [0, 1] load with a :class:`DatasetWarning` (the presets and the reference results
    assume inputs scaled to [0, 1]).

    ``y``: integer class labels (any width, or bool), shape (N,), stored as int64 and checked to
    lie in 0..C-1, where C is ``classes`` (a count, or the class names) or, when ``classes`` is
    None, the largest label + 1 (names "0".."C-1"); or floating regression targets of shape (N,)
    or (N, K), stored as finite float32, with ``classes`` left None (the Dataset then has no class
    names: ``dataset.task == "regression"``). Anything else raises DatasetError naming ``name``.
    """
    for argument, value in (("name", name), ("split", split)):
        if not isinstance(value, str) or not value:
            raise DatasetError(f"from_arrays: {argument} must be a non-empty string, got {value!r}")
    samples = _samples(_array(x, "x", name), name)
    if samples.min() < 0.0 or samples.max() > 1.0:
        warnings.warn(
            DatasetWarning(
                f"{name}: x values lie in [{samples.min():g}, {samples.max():g}], outside [0, 1]; the "
                "model presets and the reference results assume inputs scaled to [0, 1] "
                "(8-bit pixels: divide by 255)"
            ),
            stacklevel=2,
        )
    labels = _array(y, "y", name)
    if labels.dtype.kind in "biu":
        return _classification(samples, labels, classes, name, split)
    if labels.dtype.kind == "f":
        if classes is not None:
            raise DatasetError(
                f"{name}: y holds {labels.dtype} values, read as regression targets, but classes= "
                "was given; class labels are integers (y.astype(numpy.int64))"
            )
        return Dataset(samples, _targets(labels, len(samples), name), (), name, split)
    raise DatasetError(
        f"{name}: y must hold integer class labels or floating regression targets, got dtype {labels.dtype}"
    )


def _array(value: Any, what: str, name: str) -> np.ndarray:
    """``value`` through ``numpy.asarray``, refused unless it holds real numbers."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"{name}: {what} cannot be read as an array ({exc})") from exc
    if array.dtype.kind not in _REAL_KINDS:
        raise DatasetError(
            f"{name}: {what} must hold real numbers (bool, integer or floating), got dtype {array.dtype}"
        )
    return array


def _samples(x: np.ndarray, name: str) -> np.ndarray:
    """x as a new float32 array N x D or N x C x H x W, finite."""
    if x.ndim == 1:
        raise DatasetError(
            f"{name}: x is 1-D (shape {x.shape}); samples go along the first axis, so N samples of "
            "one feature are x.reshape(-1, 1)"
        )
    if x.ndim not in (2, 3, 4):
        raise DatasetError(f"{name}: x must be N x D, N x H x W or N x C x H x W, got shape {x.shape}")
    if 0 in x.shape:
        raise DatasetError(f"{name}: x of shape {x.shape} is empty; every axis needs a length >= 1")
    with np.errstate(over="ignore"):
        samples = np.array(x, dtype=np.float32)
    _check_finite(samples, x, "x", name)
    return samples[:, np.newaxis] if samples.ndim == 3 else samples


def _classification(samples: np.ndarray, labels: np.ndarray, classes: Any, name: str, split: str) -> Dataset:
    """A classification Dataset: labels checked against the class names, stored as int64."""
    n = len(samples)
    if labels.ndim != 1:
        hint = " (labels.ravel() turns an N x 1 column into one)" if labels.shape == (n, 1) else ""
        raise DatasetError(f"{name}: class labels must be a vector of N labels, got {labels.shape}{hint}")
    if len(labels) != n:
        raise DatasetError(f"{name}: {n} samples but {len(labels)} labels")
    labels = labels.astype(np.int64) if labels.dtype.kind == "b" else labels
    if labels.min() < 0:
        _out_of_range(labels, labels < 0, None, name)
    names = _class_names(classes, int(labels.max()), n, name)
    beyond = labels >= len(names)
    if beyond.any():
        _out_of_range(labels, beyond, len(names), name)
    return Dataset(samples, labels.astype(np.int64), names, name, split)


def _class_names(classes: Any, largest: int, n: int, name: str) -> tuple[str, ...]:
    """The class names: given, numbered up to a given count, or numbered up to the largest label."""
    if classes is None:
        count = largest + 1
        if count > n:
            raise DatasetError(
                f"{name}: the labels go up to {largest}, more classes than the {n} samples; pass "
                "classes= (the count or the names) when a split lacks the last classes"
            )
        return tuple(str(k) for k in range(count))
    if isinstance(classes, int | np.integer) and not isinstance(classes, bool):
        if classes < 1:
            raise DatasetError(f"{name}: classes must be a positive count or the class names, got {classes}")
        return tuple(str(k) for k in range(int(classes)))
    if isinstance(classes, str) or not isinstance(classes, Sequence) or not classes:
        raise DatasetError(
            f"{name}: classes must be a positive count or a non-empty sequence of names, got {classes!r}"
        )
    if not all(isinstance(c, str) for c in classes):
        raise DatasetError(f"{name}: class names must be strings, got {list(classes)!r}")
    return tuple(classes)


def _out_of_range(labels: np.ndarray, bad: np.ndarray, count: int | None, name: str) -> None:
    """Raise DatasetError naming the first label flagged in ``bad``."""
    index = int(np.flatnonzero(bad)[0])
    valid = f"out of range 0..{count - 1} ({count} classes)" if count else "negative; labels count from 0"
    raise DatasetError(f"{name}: label {labels[index]} at index {index} is {valid}")


def _targets(y: np.ndarray, n: int, name: str) -> np.ndarray:
    """Regression targets as a new finite float32 array of shape (N,) or (N, K)."""
    if y.ndim not in (1, 2) or len(y) != n or 0 in y.shape:
        raise DatasetError(f"{name}: regression targets must be shaped N or N x K (N = {n}), got {y.shape}")
    with np.errstate(over="ignore"):
        targets = np.array(y, dtype=np.float32)
    _check_finite(targets, y, "y", name)
    return targets


def _check_finite(converted: np.ndarray, original: np.ndarray, what: str, name: str) -> None:
    """Raise DatasetError naming the first value that is not finite in float32."""
    bad = ~np.isfinite(converted)
    if bad.any():
        index = tuple(int(i) for i in np.unravel_index(int(np.flatnonzero(bad)[0]), bad.shape))
        raise DatasetError(
            f"{name}: {int(bad.sum())} of the {bad.size} values of {what} are NaN, infinite or beyond "
            f"the float32 range (|v| > 3.4e38); the first is {original[index].item()!r} at index {index}"
        )
