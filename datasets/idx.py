"""Reader and writer of IDX files, the format of MNIST and Fashion-MNIST (raw or gzip).

An IDX file is a header and a dense array. The header is two zero bytes, a type code
(0x08 unsigned byte, 0x09 signed byte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64), the
rank r, then r big-endian uint32 dimensions; the data follow in C order, big-endian. MNIST image
files have magic 2051 (0x00000803: unsigned bytes, rank 3: N x rows x cols) and label files magic
2049 (0x00000801: unsigned bytes, rank 1). A gzip file is recognised by its content, not its name.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from minidnn.datasets.dataset import Dataset, scale_pixels
from minidnn.datasets.errors import DatasetError

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049

_GZIP_MAGIC = b"\x1f\x8b"
_TYPE_CODES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_file_bytes(path: Path) -> bytes:
    """The content of ``path``, decompressed when it is gzip; faults raise DatasetError."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    if not data.startswith(_GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error, struct.error) as exc:
        raise DatasetError(f"{path}: corrupt or truncated gzip data ({exc})") from exc


def parse_idx(data: bytes, path: Path) -> np.ndarray:
    """The array held by the IDX bytes ``data`` (read from ``path``, named in errors).

    The result is a read-only view of ``data`` for single-byte types, a native-endian copy
    otherwise. Any disagreement between header and length raises DatasetError.
    """
    if len(data) < 4:
        raise DatasetError(f"{path}: {len(data)} bytes, too short for an IDX header")
    zero, code, rank = struct.unpack(">HBB", data[:4])
    if zero != 0 or code not in _TYPE_CODES:
        magic = int.from_bytes(data[:4], "big")
        raise DatasetError(
            f"{path}: wrong magic number 0x{magic:08x}; an IDX file starts with two zero bytes "
            "and a type code (0x08, 0x09, 0x0B, 0x0C, 0x0D or 0x0E)"
        )
    header_size = 4 + 4 * rank
    if len(data) < header_size:
        raise DatasetError(f"{path}: truncated header ({len(data)} bytes, rank {rank} needs {header_size})")
    shape = struct.unpack(f">{rank}I", data[4:header_size])
    dtype = _TYPE_CODES[code]
    expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
    found = len(data) - header_size
    if found != expected:
        fault = "truncated" if found < expected else "too long"
        raise DatasetError(
            f"{path}: {fault}: header says {' x '.join(map(str, shape)) or 'a scalar'} of "
            f"{dtype.itemsize}-byte items ({expected} bytes of data), found {found} bytes"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array if dtype.itemsize == 1 else array.astype(dtype.newbyteorder("="))


def read_idx(path: Path) -> np.ndarray:
    """The array stored in the IDX file ``path`` (raw or gzip). Faults raise DatasetError."""
    return parse_idx(read_file_bytes(path), path)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file, gzip-compressed when ``path`` ends in ``.gz``."""
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in _TYPE_CODES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise DatasetError(f"{path}: IDX cannot store dtype {array.dtype}")
    code = codes[native]
    header = struct.pack(f">HBB{array.ndim}I", 0, code, array.ndim, *array.shape)
    payload = header + np.ascontiguousarray(array, dtype=_TYPE_CODES[code]).tobytes()
    if str(path).endswith(".gz"):
        payload = gzip.compress(payload, compresslevel=6, mtime=0)
    Path(path).write_bytes(payload)


def read_idx_images(path: Path) -> np.ndarray:
    """The uint8 images (N x rows x cols) of an IDX image file (magic 2051)."""
    return _read_typed(path, IMAGES_MAGIC, "image", "N x rows x cols")


def read_idx_labels(path: Path) -> np.ndarray:
    """The uint8 labels (N,) of an IDX label file (magic 2049)."""
    return _read_typed(path, LABELS_MAGIC, "label", "N")


def _read_typed(path: Path, magic: int, kind: str, layout: str) -> np.ndarray:
    """Read ``path`` and check that it holds unsigned bytes of the rank ``magic`` names."""
    data = read_file_bytes(path)
    if data[:4] != magic.to_bytes(4, "big"):
        found = int.from_bytes(data[:4], "big")
        raise DatasetError(
            f"{path}: wrong magic number {found} (0x{found:08x}); an IDX {kind} file has "
            f"magic {magic} (unsigned bytes, {layout})"
        )
    return parse_idx(data, path)


def load_idx_dataset(
    images_path: Path,
    labels_path: Path,
    classes: Sequence[str],
    name: str,
    split: str,
) -> Dataset:
    """A Dataset from an IDX image file and an IDX label file (each raw or gzip).

    Pixels 0..255 become float32 in [0, 1] and the images gain a channel axis (N x 1 x H x W).
    A file of no images (or of images with no pixels), counts that disagree and labels outside
    0..len(classes)-1 raise DatasetError naming the file.
    """
    images = read_idx_images(images_path)
    labels = read_idx_labels(labels_path)
    if len(images) == 0:
        raise DatasetError(f"{images_path}: the file holds 0 images; a data set needs at least one")
    if 0 in images.shape[1:]:
        rows, cols = images.shape[1:]
        raise DatasetError(f"{images_path}: images of {rows} x {cols} pixels; an image needs at least one")
    if len(images) != len(labels):
        raise DatasetError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels"
        )
    _check_label_range(labels, len(classes), labels_path)
    x = scale_pixels(images, 255)[:, np.newaxis]
    return Dataset(x, labels.astype(np.int64), tuple(classes), name, split)


def _check_label_range(labels: np.ndarray, num_classes: int, path: Path) -> None:
    """Raise DatasetError naming the first label of ``path`` not in 0..num_classes-1."""
    bad = np.flatnonzero(labels >= num_classes)
    if len(bad):
        raise DatasetError(
            f"{path}: label {labels[bad[0]]} at index {bad[0]} is out of range 0..{num_classes - 1}"
        )
