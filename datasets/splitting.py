"""``train_test_split``: a data set cut in two by a fraction, seeded, stratified by class."""

from __future__ import annotations

import math
import operator

import numpy as np
from minidnn.datasets.dataset import Dataset
from minidnn.datasets.errors import DatasetError


def train_test_split(
    dataset: Dataset, test_fraction: float = 0.2, *, seed: int = 0, stratify: bool = True
) -> tuple[Dataset, Dataset]:
    """(train, test): the samples of ``dataset`` dealt into two new data sets, split "train" and "test".

    The test part takes ``round(test_fraction * n)`` samples (halves round up) drawn without
    replacement from ``numpy.random.default_rng(seed)``: the same seed gives the same split. With
    ``stratify`` (classification only), the rounding is done per class, so each class keeps its
    share in both parts. Both parts keep the original order of their samples, the class names and
    the name; their arrays are new (read-only) copies. A fraction that leaves either part empty
    raises DatasetError.
    """
    if not isinstance(dataset, Dataset):
        raise DatasetError(f"train_test_split: expected a Dataset, got {type(dataset).__name__}")
    number = isinstance(test_fraction, int | float | np.floating) and not isinstance(test_fraction, bool)
    if not number or not 0.0 < test_fraction < 1.0:
        raise DatasetError(f"train_test_split: test_fraction must lie in (0, 1), got {test_fraction!r}")
    try:
        seed = operator.index(seed)
    except TypeError:
        raise DatasetError(f"train_test_split: seed must be an integer, got {seed!r}") from None
    if isinstance(seed, bool) or seed < 0:
        raise DatasetError(f"train_test_split: seed must be a non-negative integer, got {seed!r}")
    order = np.random.default_rng(seed).permutation(len(dataset))
    if stratify and dataset.classes:
        test = _stratified(order, dataset.y[order], test_fraction)
    else:
        test = order[: _share(len(order), test_fraction)]
    in_test = np.zeros(len(dataset), dtype=bool)
    in_test[test] = True
    if in_test.all() or not in_test.any():
        raise DatasetError(
            f"train_test_split: test_fraction {test_fraction} of {len(dataset)} samples leaves the "
            f"{'train' if in_test.all() else 'test'} part empty"
        )
    return _part(dataset, ~in_test, "train"), _part(dataset, in_test, "test")


def _share(count: int, fraction: float) -> int:
    """round(fraction * count), halves rounding up."""
    return math.floor(fraction * count + 0.5)


def _stratified(order: np.ndarray, labels: np.ndarray, fraction: float) -> np.ndarray:
    """The test indices: for each class, its first round(fraction * n_class) samples in ``order``."""
    chosen = []
    for label in np.unique(labels):
        members = order[labels == label]
        chosen.append(members[: _share(len(members), fraction)])
    return np.concatenate(chosen)


def _part(dataset: Dataset, mask: np.ndarray, split: str) -> Dataset:
    return Dataset(dataset.x[mask], dataset.y[mask], dataset.classes, dataset.name, split)
