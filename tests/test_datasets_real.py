"""The real MNIST and Fashion-MNIST files under ``$MINIDNN_TEST_DATA`` (skipped when absent)."""

import gzip
import hashlib
import re
import shutil
from importlib import resources

import numpy as np
import pytest
from minidnn.datasets import DatasetError, load, registry
from minidnn.datasets.download import sha256_of

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
SPECS = [registry.MNIST, registry.FASHION_MNIST]


def remotes(spec):
    return [remote for pair in spec.splits.values() for remote in pair]


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_files_match_the_pinned_and_published_checksums(real_data, spec):
    for remote in remotes(spec):
        path = real_data(spec.name) / remote.name
        assert path.stat().st_size == remote.size, path
        assert sha256_of(path) == remote.sha256, path
        assert hashlib.md5(path.read_bytes()).hexdigest() == remote.md5, path


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_pinned_values_agree_with_the_source_notes(real_data, spec):
    notes = (real_data(spec.name) / "SOURCE.md").read_text(encoding="utf-8")
    for remote in remotes(spec):
        row = re.search(
            rf"^\| {re.escape(remote.name)} \| ([\d,]+) \| (\w+) \| (\w+) \|", notes, re.MULTILINE
        )
        assert row is not None, remote.name
        assert (int(row[1].replace(",", "")), row[2], row[3]) == (remote.size, remote.md5, remote.sha256)


@pytest.fixture(scope="module")
def mnist(real_data):
    root = real_data("mnist").parent
    return {split: load("mnist", split, root=root, download=False) for split in ("train", "test")}


@pytest.fixture(scope="module")
def fashion(real_data):
    return {
        split: load("fashion-mnist", split, root=real_data("fashion-mnist"), download=False)
        for split in ("train", "test")
    }


def check_common(data, n):
    assert data.x.shape == (n, 1, 28, 28) and data.x.dtype == np.float32
    assert data.y.shape == (n,) and data.y.dtype == np.int64
    assert data.x.min() == 0.0 and data.x.max() == 1.0


def test_mnist(mnist):
    check_common(mnist["train"], 60_000)
    check_common(mnist["test"], 10_000)
    np.testing.assert_array_equal(np.bincount(mnist["train"].y), MNIST_TRAIN_COUNTS)
    np.testing.assert_array_equal(np.bincount(mnist["test"].y), MNIST_TEST_COUNTS)
    np.testing.assert_array_equal(mnist["train"].y[:10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
    assert mnist["train"].classes == tuple("0123456789")


def test_fashion_mnist(fashion):
    check_common(fashion["train"], 60_000)
    check_common(fashion["test"], 10_000)
    np.testing.assert_array_equal(np.bincount(fashion["train"].y), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(fashion["test"].y), [1000] * 10)
    assert fashion["train"].classes[0] == "T-shirt/top"
    assert fashion["train"].classes[9] == "Ankle boot"


def test_mnist_from_its_own_folder_is_the_same(real_data, mnist):
    data = load("mnist", "test", root=real_data("mnist"), download=False)
    np.testing.assert_array_equal(data.x, mnist["test"].x)
    np.testing.assert_array_equal(data.y, mnist["test"].y)


def test_shipped_digits_file_is_the_documented_copy(real_data):
    shipped = resources.files("minidnn.datasets").joinpath("data", "digits.csv.gz").read_bytes()
    original = (real_data("uci-digits") / "digits.csv.gz").read_bytes()
    assert shipped == original
    assert hashlib.sha256(shipped).hexdigest() == (
        "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
    )


def test_mnist_files_are_never_read_as_fashion_mnist(real_data, tmp_path):
    """A root that holds MNIST's files directly lends them to no other data set, wherever they sit."""
    root = real_data("mnist")
    with pytest.raises(DatasetError, match="passed over: .*holds mnist's t10k-images-idx3-ubyte.gz"):
        load("fashion-mnist", "test", root=root, download=False)
    misplaced = tmp_path / "fashion-mnist" / "t10k-images-idx3-ubyte.gz"
    misplaced.parent.mkdir()
    shutil.copyfile(root / "t10k-images-idx3-ubyte.gz", misplaced)
    with pytest.raises(
        DatasetError, match="is not fashion-mnist's t10k-images-idx3-ubyte.gz: it holds mnist's"
    ):
        load("fashion-mnist", "test", root=tmp_path, download=False)


def test_a_decompressed_copy_of_the_real_files_is_the_same_data(real_data, tmp_path, mnist):
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        content = gzip.decompress((real_data("mnist") / name).read_bytes())
        (tmp_path / name.removesuffix(".gz")).write_bytes(content)
    data = load("mnist", "test", root=tmp_path, download=False)
    np.testing.assert_array_equal(data.x, mnist["test"].x)
    np.testing.assert_array_equal(data.y, mnist["test"].y)


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_pinned_content_checksums_are_those_of_the_real_files(real_data, spec):
    for remote in remotes(spec):
        content = gzip.decompress((real_data(spec.name) / remote.name).read_bytes())
        assert hashlib.sha256(content).hexdigest() == remote.content_sha256, remote.name
