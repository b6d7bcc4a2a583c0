"""Readers of CIFAR-10: the binary version (the default) and the Python version.

Binary version: ``data_batch_1.bin`` ... ``data_batch_5.bin`` (train) and ``test_batch.bin``
(test), each a sequence of 3,073-byte records: one label byte (0..9), then 3,072 pixel bytes,
channel-major (1,024 red, 1,024 green, 1,024 blue, each 32 rows of 32), so a record reshapes to
3 x 32 x 32 (CHW) with no transpose.

Python version: ``data_batch_1`` ... ``data_batch_5`` and ``test_batch``, pickled dictionaries
with ``data`` (uint8, N x 3,072, the same pixel layout) and ``labels``. A pickle can run code, so
these are read with an unpickler that resolves only the few NumPy names an array needs.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from minidnn.datasets.dataset import Dataset, scale_pixels
from minidnn.datasets.errors import DatasetError

CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
IMAGE_SHAPE = (3, 32, 32)
PIXELS = 3 * 32 * 32
RECORD_SIZE = 1 + PIXELS

BINARY_FILES = {
    "train": tuple(f"data_batch_{k}.bin" for k in range(1, 6)),
    "test": ("test_batch.bin",),
}
PYTHON_FILES = {
    "train": tuple(f"data_batch_{k}" for k in range(1, 6)),
    "test": ("test_batch",),
}


def read_cifar_binary(paths: Sequence[Path], split: str, name: str = "cifar10") -> Dataset:
    """A Dataset from CIFAR-10 binary batch files, in the order given.

    A file that is empty, not a whole number of records, unreadable or holding a label
    outside 0..9 raises DatasetError naming it.
    """
    parts = [_read_binary_batch(Path(path)) for path in paths]
    return _assemble(parts, split, name)


def read_cifar_python(paths: Sequence[Path], split: str, name: str = "cifar10") -> Dataset:
    """A Dataset from CIFAR-10 Python-version batch files, in the order given."""
    parts = [_read_python_batch(Path(path)) for path in paths]
    return _assemble(parts, split, name)


def _read_binary_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The (labels, pixels N x 3,072) of one binary batch file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    if not data or len(data) % RECORD_SIZE:
        raise DatasetError(
            f"{path}: wrong size: {len(data)} bytes is not a positive whole number of "
            f"{RECORD_SIZE}-byte records (1 label byte + {PIXELS} pixel bytes)"
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD_SIZE)
    labels, pixels = records[:, 0], records[:, 1:]
    _check_labels(labels, path)
    return labels, pixels


def _read_python_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The (labels, pixels N x 3,072) of one Python-version batch file."""
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    try:
        batch = _ArrayUnpickler(io.BytesIO(content), encoding="bytes").load()
    except Exception as exc:  # a damaged pickle can fail in many ways; all mean "corrupt file"
        raise DatasetError(f"{path}: not a CIFAR-10 Python batch ({exc!r})") from exc
    if not isinstance(batch, dict):
        raise DatasetError(f"{path}: not a CIFAR-10 Python batch (a {type(batch).__name__})")
    pixels = batch.get(b"data", batch.get("data"))
    if not _is_pixel_matrix(pixels):
        raise DatasetError(f"{path}: 'data' is not a non-empty uint8 array of N x {PIXELS}")
    labels = _labels_array(batch.get(b"labels", batch.get("labels")), len(pixels), path)
    _check_labels(labels, path)
    return labels, pixels


def _is_pixel_matrix(pixels: object) -> bool:
    """Whether ``pixels`` is a non-empty uint8 array of N x 3,072."""
    return (
        isinstance(pixels, np.ndarray)
        and pixels.dtype == np.uint8
        and pixels.ndim == 2
        and pixels.shape[1] == PIXELS
        and len(pixels) > 0
    )


def _labels_array(labels: object, n: int, path: Path) -> np.ndarray:
    """The labels of a Python batch as an int64 vector of length n."""
    try:
        array = np.asarray(labels)
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"{path}: 'labels' is not a list of integers") from exc
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise DatasetError(f"{path}: 'labels' is not a list of integers")
    if len(array) != n:
        raise DatasetError(f"{path}: {n} images but {len(array)} labels")
    return array.astype(np.int64)


def _check_labels(labels: np.ndarray, path: Path) -> None:
    """Raise DatasetError naming the first label of ``path`` outside 0..9."""
    bad = np.flatnonzero((labels < 0) | (labels >= len(CLASSES)))
    if len(bad):
        raise DatasetError(
            f"{path}: label {labels[bad[0]]} of record {bad[0]} is out of range 0..{len(CLASSES) - 1}"
        )


def _assemble(parts: list[tuple[np.ndarray, np.ndarray]], split: str, name: str) -> Dataset:
    """Concatenate batches into one Dataset, scaling pixels straight into the float32 result."""
    total = sum(len(labels) for labels, _ in parts)
    x = np.empty((total, *IMAGE_SHAPE), dtype=np.float32)
    y = np.empty(total, dtype=np.int64)
    start = 0
    for labels, pixels in parts:
        stop = start + len(labels)
        scale_pixels(pixels.reshape(-1, *IMAGE_SHAPE), 255, out=x[start:stop])
        y[start:stop] = labels
        start = stop
    return Dataset(x, y, CLASSES, name, split)


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild NumPy arrays and nothing else that needs a global name."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load the global {module}.{name}")
        return super().find_class(module, name)
