"""The 8x8 UCI handwritten digits, shipped inside the package: the offline default data set.

The file ``data/digits.csv.gz`` holds 1,797 rows of 64 pixel counts (0..16, an 8x8 image in row
order) and a label (0..9). Its origin and license (CC BY 4.0, E. Alpaydin and C. Kaynak, UCI
Machine Learning Repository, https://doi.org/10.24432/C50P49) are in
``data/DIGITS_ATTRIBUTION.txt``.

Images are 1 x 8 x 8, pixels divided by 16. The train/test split is stratified, deterministic and
free of any random generator: within each class, in file order, every fifth sample (the 5th,
10th, 15th, ...) is a test sample. That gives 1,442 train and 355 test samples, in file order.
"""

from __future__ import annotations

import gzip
import io
import zlib
from importlib import resources

import numpy as np
from minidnn.datasets.dataset import Dataset, scale_pixels
from minidnn.datasets.errors import DatasetError

CLASSES = tuple(str(digit) for digit in range(10))
FILE = "digits.csv.gz"
TEST_EVERY = 5
"""Within each class, every TEST_EVERY-th sample in file order is a test sample."""

_ROWS, _COLUMNS, _MAX_PIXEL = 1797, 65, 16


def load_digits(split: str) -> Dataset:
    """The shipped digits, ``split`` "train" (1,442 samples) or "test" (355 samples)."""
    table = _read_table()
    pixels, labels = table[:, :-1], table[:, -1]
    mask = is_test_sample(labels)
    keep = mask if split == "test" else ~mask
    x = scale_pixels(pixels[keep].reshape(-1, 1, 8, 8), _MAX_PIXEL)
    return Dataset(x, labels[keep].astype(np.int64), CLASSES, "digits", split)


def is_test_sample(labels: np.ndarray) -> np.ndarray:
    """True for the test samples: every TEST_EVERY-th occurrence of each label, in order."""
    mask = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        where = np.flatnonzero(labels == label)
        mask[where[TEST_EVERY - 1 :: TEST_EVERY]] = True
    return mask


def _read_table() -> np.ndarray:
    """The shipped table as uint8, checked: 1,797 rows, pixels 0..16, labels 0..9."""
    source = resources.files("minidnn.datasets").joinpath("data", FILE)
    try:
        text = gzip.decompress(source.read_bytes())
        table = np.loadtxt(io.BytesIO(text), delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        raise DatasetError(f"{source}: the shipped digits file is unreadable ({exc})") from exc
    if not _is_expected_table(table):
        raise DatasetError(f"{source}: the shipped digits file does not hold the expected table")
    return table.astype(np.uint8)


def _is_expected_table(table: np.ndarray) -> bool:
    """Whether ``table`` has 1,797 rows of 64 pixels in 0..16 and a label in 0..9."""
    return (
        table.shape == (_ROWS, _COLUMNS)
        and table.min() >= 0
        and table[:, :-1].max() <= _MAX_PIXEL
        and table[:, -1].max() < len(CLASSES)
    )
