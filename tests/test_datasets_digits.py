"""The shipped UCI digits: offline, attributed, and split deterministically."""

from importlib import resources

import numpy as np
from minidnn.datasets import load
from minidnn.datasets.digits import TEST_EVERY, is_test_sample


def test_loads_offline_with_the_documented_sizes(monkeypatch, tmp_path):
    monkeypatch.setenv("MINIDNN_DATA", str(tmp_path / "absent"))
    monkeypatch.setenv("MINIDNN_MIRROR", "http://127.0.0.1:9/")
    train, test = load("digits", "train"), load("digits", "test", download=False)
    assert (len(train), len(test)) == (1442, 355)
    assert len(train) + len(test) == 1797
    assert train.x.shape == (1442, 1, 8, 8) and train.x.dtype == np.float32
    assert train.y.dtype == np.int64 and train.classes == tuple("0123456789")
    assert (train.name, train.split, test.split) == ("digits", "train", "test")
    assert not (tmp_path / "absent").exists()


def test_pixels_are_sixteenths_in_the_unit_interval():
    data = load("digits", "train")
    assert data.x.min() == 0.0 and data.x.max() == 1.0
    np.testing.assert_array_equal(data.x * 16, np.round(data.x * 16))


def test_class_histograms_of_the_split():
    train, test = load("digits", "train"), load("digits", "test")
    total = np.bincount(train.y, minlength=10) + np.bincount(test.y, minlength=10)
    np.testing.assert_array_equal(total, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    np.testing.assert_array_equal(np.bincount(test.y), total // TEST_EVERY)


def test_split_is_deterministic_and_disjoint():
    first, second = load("digits", "test"), load("digits", "test")
    np.testing.assert_array_equal(first.x, second.x)
    labels = np.array([0, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(np.flatnonzero(is_test_sample(labels)), [5, 9, 14])


def test_first_image_is_the_first_row_of_the_file():
    data = load("digits", "train")
    row = [0, 0, 5, 13, 9, 1, 0, 0]
    np.testing.assert_array_equal(data.x[0, 0, 0] * 16, row)
    assert data.y[0] == 0


def test_file_and_attribution_ship_in_the_package():
    folder = resources.files("minidnn.datasets").joinpath("data")
    assert folder.joinpath("digits.csv.gz").is_file()
    text = folder.joinpath("DIGITS_ATTRIBUTION.txt").read_text(encoding="utf-8")
    for fact in ("Alpaydin", "Kaynak", "CC BY 4.0", "10.24432/C50P49", "UCI"):
        assert fact in text
