"""The Dataset container, pixel scaling, and the package's independence from the rest."""

import subprocess
import sys

import numpy as np
import pytest
from minidnn.datasets import Dataset, DatasetError
from minidnn.datasets.dataset import scale_pixels


def make(n=4, classes=("a", "b", "c"), shape=(1, 2, 2)):
    x = np.zeros((n, *shape), dtype=np.float32)
    y = np.arange(n, dtype=np.int64) % len(classes)
    return x, y, classes


def test_valid_dataset_has_length_classes_and_shape():
    x, y, classes = make()
    data = Dataset(x, y, list(classes), "toy", "train")
    assert len(data) == 4
    assert data.classes == ("a", "b", "c")
    assert data.num_classes == 3
    assert data.image_shape == (1, 2, 2)
    assert "toy" in repr(data) and "n=4" in repr(data)


def test_dataset_is_frozen():
    data = Dataset(*make(), "toy", "train")
    with pytest.raises(AttributeError):
        data.name = "other"


@pytest.mark.parametrize(
    "x, fault",
    [
        (np.zeros((4, 1, 2, 2), dtype=np.float64), "float32"),
        (np.zeros((4, 2, 2), dtype=np.float32), "N x C x H x W or N x D"),
        ([[0.0]], "float32"),
        (np.zeros((0, 1, 2, 2), dtype=np.float32), "is empty"),
        (np.zeros((4, 1, 0, 2), dtype=np.float32), "is empty"),
    ],
)
def test_samples_must_be_float32_nchw_or_flat(x, fault):
    _, y, classes = make()
    with pytest.raises(DatasetError, match=fault):
        Dataset(x, y, classes, "toy", "train")


@pytest.mark.parametrize(
    "y, fault",
    [
        (np.zeros(4, dtype=np.int32), "int64"),
        (np.zeros((4, 1), dtype=np.int64), "int64"),
        (np.zeros(3, dtype=np.int64), "4 samples but 3 labels"),
        (np.array([0, 1, 3, 0], dtype=np.int64), "label 3 is out of range 0..2"),
        (np.array([0, -1, 0, 0], dtype=np.int64), "label -1 is out of range"),
    ],
)
def test_labels_must_be_int64_in_range(y, fault):
    x, _, classes = make()
    with pytest.raises(DatasetError, match=fault):
        Dataset(x, y, classes, "toy", "train")


def test_empty_class_list_is_refused_for_labels():
    x, y, _ = make()
    with pytest.raises(DatasetError, match="list of class names is empty but y holds int64 class labels"):
        Dataset(x, y, (), "toy", "train")


def test_feature_vectors_are_samples_too():
    data = Dataset(np.zeros((4, 3), dtype=np.float32), make()[1], ("a", "b", "c"), "flat", "train")
    assert data.image_shape == (3,) and data.task == "classification"


@pytest.mark.parametrize("shape", [(4,), (4, 2)])
def test_regression_targets_have_no_classes(shape):
    x, _, _ = make()
    y = np.linspace(-1, 1, np.prod(shape), dtype=np.float32).reshape(shape)
    data = Dataset(x, y, (), "fit", "train")
    assert data.task == "regression" and data.num_classes == 0
    assert "targets=" in repr(data)


@pytest.mark.parametrize(
    "y, fault",
    [
        (np.zeros(4, dtype=np.float64), "float32 regression targets"),
        (np.zeros((4, 1, 1), dtype=np.float32), "float32 regression targets"),
        (np.zeros(3, dtype=np.float32), "4 samples but targets of shape"),
        (np.array([0, np.nan, 0, 0], dtype=np.float32), "NaN or Inf"),
    ],
)
def test_regression_targets_are_checked(y, fault):
    x, _, _ = make()
    with pytest.raises(DatasetError, match=fault):
        Dataset(x, y, (), "fit", "train")


def test_a_dataset_is_read_only_after_construction():
    """Writing into a data set's arrays raises, so a model's objective cannot change behind its back."""
    data = Dataset(*make(), "toy", "train")
    with pytest.raises(ValueError, match="read-only"):
        data.x[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="read-only"):
        data.y[0] = 99
    assert not data.x.flags.writeable and not data.y.flags.writeable


def test_dataset_error_is_a_value_error():
    assert issubclass(DatasetError, ValueError)


def test_scale_pixels_is_exact_float32():
    pixels = np.arange(256, dtype=np.uint8)
    scaled = scale_pixels(pixels, 255)
    assert scaled.dtype == np.float32
    assert scaled[0] == 0.0 and scaled[255] == 1.0
    np.testing.assert_array_equal(scaled, (np.arange(256) / 255).astype(np.float32))
    sixteenths = scale_pixels(np.arange(17, dtype=np.uint8), 16)
    np.testing.assert_array_equal(sixteenths, np.arange(17, dtype=np.float32) / 16)


def test_package_imports_nothing_from_the_rest_of_the_project():
    """Beyond the core that ``import minidnn`` loads first, ``minidnn.datasets`` loads no other part."""
    code = (
        "import sys\n"
        "import minidnn\n"
        "core = set(sys.modules)\n"
        "from minidnn import datasets\n"
        "bad = sorted(m for m in set(sys.modules) - core "
        "if m.startswith(('minidnn.', 'cupy')) and not m.startswith('minidnn.datasets'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
