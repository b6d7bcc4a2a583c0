"""The in-memory data set: images as float32 NCHW in [0, 1] and integer labels 0..C-1."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from minidnn.datasets.errors import DatasetError


@dataclass(frozen=True, eq=False)
class Dataset:
    """A labelled image data set held in memory.

    Attributes:
        x: float32 images, shape (N, C, H, W) (batch first, channels first), values in [0, 1].
        y: int64 labels, shape (N,), each in 0..len(classes)-1.
        classes: the class names; label ``k`` means ``classes[k]``.
        name: the data set's name, e.g. ``"mnist"``.
        split: ``"train"`` or ``"test"`` (any string for user-built data sets).

    The shapes, dtypes and label range are checked on construction and a fault raises
    :class:`DatasetError`. The pixel range is not re-scanned (the readers produce it by
    construction).
    """

    x: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]
    name: str
    split: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", tuple(self.classes))
        _check_images(self.x, self.name)
        _check_labels(self.y, len(self.x), len(self.classes), self.name)

    def __len__(self) -> int:
        return len(self.y)

    @property
    def num_classes(self) -> int:
        """The number of classes C."""
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """The shape (C, H, W) of one image."""
        return self.x.shape[1:]

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, split={self.split!r}, n={len(self)}, "
            f"image_shape={self.image_shape}, classes={self.num_classes})"
        )


def _check_images(x: object, name: str) -> None:
    """Raise DatasetError unless ``x`` is a float32 array of rank 4."""
    if not isinstance(x, np.ndarray) or x.dtype != np.float32 or x.ndim != 4:
        kind = f"{x.dtype} array of shape {x.shape}" if isinstance(x, np.ndarray) else type(x)
        raise DatasetError(f"{name}: x must be a float32 array shaped N x C x H x W, got {kind}")


def _check_labels(y: object, n: int, num_classes: int, name: str) -> None:
    """Raise DatasetError unless ``y`` is an int64 vector of length n with labels in range."""
    if not isinstance(y, np.ndarray) or y.dtype != np.int64 or y.ndim != 1:
        kind = f"{y.dtype} array of shape {y.shape}" if isinstance(y, np.ndarray) else type(y)
        raise DatasetError(f"{name}: y must be an int64 vector, got {kind}")
    if len(y) != n:
        raise DatasetError(f"{name}: {n} images but {len(y)} labels")
    if num_classes == 0:
        raise DatasetError(f"{name}: the list of class names is empty")
    if n and (y.min() < 0 or y.max() >= num_classes):
        bad = y[(y < 0) | (y >= num_classes)][0]
        raise DatasetError(
            f"{name}: label {bad} is out of range 0..{num_classes - 1} ({num_classes} classes)"
        )


def scale_pixels(pixels: np.ndarray, max_value: int, out: np.ndarray | None = None) -> np.ndarray:
    """Map unsigned integer pixels 0..max_value to float32 in [0, 1], with no float64 step.

    Each pixel is cast to float32 (exact for these small integers) and divided by
    ``float32(max_value)``, a correctly rounded float32 division, so ``max_value`` maps to exactly
    1.0. The caller has checked that no pixel exceeds ``max_value``. ``out``, when given, is a
    float32 array of the same shape that receives the result.
    """
    return np.divide(pixels, np.float32(max_value), out=out, dtype=np.float32)
