"""The in-memory data set: float32 samples and their labels (classification) or targets (regression)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from minidnn.datasets.errors import DatasetError


@dataclass(frozen=True, eq=False)
class Dataset:
    """A data set held in memory, immutable once built.

    Attributes:
        x: float32 samples, batch first: images N x C x H x W (channels first) or feature
            vectors N x D. The readers give pixels in [0, 1].
        y: for classification, int64 labels of shape (N,), each in 0..len(classes)-1; for
            regression (``classes == ()``), float32 targets of shape (N,) or (N, K), finite.
        classes: the class names, label ``k`` meaning ``classes[k]``; empty for regression.
        name: the data set's name, e.g. ``"mnist"``.
        split: ``"train"`` or ``"test"`` (any string for user-built data sets).

    Construction checks dtypes, shapes (N >= 1, no empty axis), the label range and finite targets,
    and raises :class:`DatasetError` on a fault. It then makes ``x`` and ``y`` read-only: the data
    set takes ownership of the arrays it is given (:func:`datasets.from_arrays` hands it copies), so
    what a model computes from it cannot change behind its back (writing raises NumPy's "assignment
    destination is read-only"). The pixel range and finiteness of ``x`` are not re-scanned here: the
    readers produce them by construction and ``from_arrays`` checks them.
    """

    x: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]
    name: str
    split: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", tuple(self.classes))
        _check_samples(self.x, self.name)
        if self.classes:
            _check_labels(self.y, len(self.x), len(self.classes), self.name)
        else:
            _check_targets(self.y, len(self.x), self.name)
        self.x.flags.writeable = False
        self.y.flags.writeable = False

    def __len__(self) -> int:
        return len(self.y)

    @property
    def task(self) -> str:
        """``"classification"`` (integer labels and class names) or ``"regression"`` (float targets)."""
        return "classification" if self.classes else "regression"

    @property
    def num_classes(self) -> int:
        """The number of classes C (0 for regression)."""
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """The shape of one sample: (C, H, W) for images, (D,) for feature vectors."""
        return tuple(self.x.shape[1:])

    def __repr__(self) -> str:
        kind = f"classes={self.num_classes}" if self.classes else f"targets={self.y.shape[1:] or 'scalar'}"
        return (
            f"Dataset(name={self.name!r}, split={self.split!r}, n={len(self)}, "
            f"image_shape={self.image_shape}, {kind})"
        )


def _check_samples(x: object, name: str) -> None:
    """Raise DatasetError unless ``x`` is a float32 array N x C x H x W or N x D with no empty axis."""
    if not isinstance(x, np.ndarray) or x.dtype != np.float32 or x.ndim not in (2, 4):
        kind = f"{x.dtype} array of shape {x.shape}" if isinstance(x, np.ndarray) else type(x)
        raise DatasetError(f"{name}: x must be a float32 array shaped N x C x H x W or N x D, got {kind}")
    if 0 in x.shape:
        raise DatasetError(f"{name}: x of shape {x.shape} is empty; every axis needs a length >= 1")


def _check_labels(y: object, n: int, num_classes: int, name: str) -> None:
    """Raise DatasetError unless ``y`` is an int64 vector of length n with labels in range."""
    if not isinstance(y, np.ndarray) or y.dtype != np.int64 or y.ndim != 1:
        kind = f"{y.dtype} array of shape {y.shape}" if isinstance(y, np.ndarray) else type(y)
        raise DatasetError(f"{name}: y must be an int64 vector of class labels, got {kind}")
    if len(y) != n:
        raise DatasetError(f"{name}: {n} samples but {len(y)} labels")
    if y.min() < 0 or y.max() >= num_classes:
        bad = y[(y < 0) | (y >= num_classes)][0]
        raise DatasetError(
            f"{name}: label {bad} is out of range 0..{num_classes - 1} ({num_classes} classes)"
        )


def _check_targets(y: object, n: int, name: str) -> None:
    """Raise DatasetError unless ``y`` holds n finite float32 regression targets (N or N x K)."""
    if isinstance(y, np.ndarray) and y.dtype.kind in "iu":
        raise DatasetError(
            f"{name}: the list of class names is empty but y holds {y.dtype} class labels "
            "(regression targets are float32)"
        )
    if not isinstance(y, np.ndarray) or y.dtype != np.float32 or y.ndim not in (1, 2):
        kind = f"{y.dtype} array of shape {y.shape}" if isinstance(y, np.ndarray) else type(y)
        raise DatasetError(
            f"{name}: with no class names, y must hold float32 regression targets shaped N or N x K, "
            f"got {kind}"
        )
    if len(y) != n or 0 in y.shape:
        raise DatasetError(f"{name}: {n} samples but targets of shape {y.shape}")
    if not np.isfinite(y).all():
        raise DatasetError(f"{name}: the regression targets contain NaN or Inf")


def scale_pixels(pixels: np.ndarray, max_value: int, out: np.ndarray | None = None) -> np.ndarray:
    """Map unsigned integer pixels 0..max_value to float32 in [0, 1], with no float64 step.

    Each pixel is cast to float32 (exact for these small integers) and divided by
    ``float32(max_value)``, a correctly rounded float32 division, so ``max_value`` maps to exactly
    1.0. The caller has checked that no pixel exceeds ``max_value``. ``out``, when given, is a
    float32 array of the same shape that receives the result.
    """
    return np.divide(pixels, np.float32(max_value), out=out, dtype=np.float32)
