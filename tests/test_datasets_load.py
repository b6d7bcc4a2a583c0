"""load(): names, splits, root resolution, folder layouts and mirror resolution (no network)."""

import dataclasses
import gzip
import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest
from minidnn.datasets import NAMES, DatasetError, data_root, load, mirror_url, registry, write_idx


@pytest.fixture
def clean_env(monkeypatch):
    for variable in (
        "MINIDNN_DATA",
        "MINIDNN_MIRROR",
        "MINIDNN_MIRROR_MNIST",
        "MINIDNN_MIRROR_FASHION_MNIST",
        "MINIDNN_MIRROR_CIFAR10",
        "XDG_CACHE_HOME",
    ):
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


def test_names():
    assert NAMES == ("digits", "mnist", "fashion-mnist", "cifar10")


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(DatasetError, match="valid names: digits, mnist, fashion-mnist, cifar10"):
        load("imagenet")


def test_unknown_split():
    with pytest.raises(DatasetError, match="valid splits: train, test"):
        load("digits", split="validation")


def test_names_are_case_and_underscore_tolerant(tmp_path):
    assert load("DIGITS", "test").name == "digits"
    with pytest.raises(DatasetError, match="fashion-mnist"):
        load("Fashion_MNIST", root=tmp_path, download=False)


def test_root_argument_wins(clean_env, tmp_path):
    clean_env.setenv("MINIDNN_DATA", "/elsewhere")
    assert data_root(tmp_path) == tmp_path
    assert data_root("~/data") == Path.home() / "data"


def test_root_from_environment(clean_env, tmp_path):
    clean_env.setenv("MINIDNN_DATA", str(tmp_path))
    assert data_root() == tmp_path


def test_root_defaults_to_the_user_cache(clean_env, tmp_path):
    assert data_root() == Path.home() / ".cache" / "minidnn"
    clean_env.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert data_root() == tmp_path / "minidnn"
    clean_env.setenv("XDG_CACHE_HOME", "relative/path")
    assert data_root() == Path.home() / ".cache" / "minidnn"


def test_mirror_resolution_order(clean_env):
    assert mirror_url("mnist") == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert mirror_url("fashion-mnist") == ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/")
    assert mirror_url("cifar10") == "https://www.cs.toronto.edu/~kriz/"
    clean_env.setenv("MINIDNN_MIRROR", "https://example.org/data/")
    assert mirror_url("fashion-mnist") == "https://example.org/data/fashion-mnist/"
    clean_env.setenv("MINIDNN_MIRROR_FASHION_MNIST", "https://example.org/fm")
    assert mirror_url("fashion-mnist") == "https://example.org/fm/"
    assert mirror_url("mnist") == "https://example.org/data/mnist/"
    assert mirror_url("fashion-mnist", "file:///srv/fm") == "file:///srv/fm/"


def sha(body):
    return hashlib.sha256(body).hexdigest()


def pin(monkeypatch, name, folder):
    """Pins the registry's files of ``name`` to the IDX files in ``folder`` (gzip or not), as if published."""
    spec = registry.SPECS[name]

    def pinned(remote):
        for path in (folder / remote.name, folder / remote.name.removesuffix(".gz")):
            if path.is_file():
                body = path.read_bytes()
                content = gzip.decompress(body) if body.startswith(b"\x1f\x8b") else body
                return dataclasses.replace(
                    remote, size=len(body), sha256=sha(body), content_sha256=sha(content)
                )
        return remote

    splits = {split: tuple(map(pinned, pair)) for split, pair in spec.splits.items()}
    monkeypatch.setitem(registry.SPECS, name, dataclasses.replace(spec, splits=splits))


def write_mnist(folder, compress=True, n=3, size=28, value=255, pinned=None):
    """Test-split IDX files in ``folder``; ``pinned=(monkeypatch, name)`` makes them that data set's."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if compress else ""
    images = np.full((n, size, size), value, dtype=np.uint8)
    write_idx(folder / f"t10k-images-idx3-ubyte{suffix}", images)
    write_idx(folder / f"t10k-labels-idx1-ubyte{suffix}", np.arange(n, dtype=np.uint8))
    if pinned:
        pin(*pinned, folder)


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("inside", [True, False])
def test_files_in_root_or_in_its_dataset_folder(clean_env, tmp_path, compress, inside):
    write_mnist(tmp_path / "mnist" if inside else tmp_path, compress, pinned=(clean_env, "mnist"))
    data = load("mnist", "test", root=tmp_path, download=False)
    assert data.x.shape == (3, 1, 28, 28) and data.x.max() == 1.0
    assert data.classes == tuple("0123456789") and data.split == "test"


def test_wrong_image_size_for_the_dataset(clean_env, tmp_path):
    write_mnist(tmp_path, size=8, pinned=(clean_env, "mnist"))
    with pytest.raises(DatasetError, match="8 x 8 pixels; mnist images are 28 x 28"):
        load("mnist", "test", root=tmp_path, download=False)


def test_fashion_mnist_class_names(clean_env, tmp_path):
    write_mnist(tmp_path / "fashion-mnist", pinned=(clean_env, "fashion-mnist"))
    data = load("fashion-mnist", "test", root=tmp_path, download=False)
    assert data.classes == (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    )


def cifar_files(folder, names, python=False):
    folder.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(names):
        labels = np.array([k, 9], dtype=np.uint8)
        pixels = np.full((2, 3072), k, dtype=np.uint8)
        if python:
            batch = {b"data": pixels, b"labels": labels.tolist()}
            (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        else:
            (folder / name).write_bytes(np.concatenate([labels[:, None], pixels], 1).tobytes())


BINARY_TRAIN = [f"data_batch_{k}.bin" for k in range(1, 6)]


@pytest.mark.parametrize("where", ["cifar10/cifar-10-batches-bin", "cifar10", "cifar-10-batches-bin", "."])
def test_cifar_binary_layouts(clean_env, tmp_path, where):
    cifar_files(tmp_path / where, BINARY_TRAIN)
    data = load("cifar10", "train", root=tmp_path, download=False)
    assert data.x.shape == (10, 3, 32, 32)
    np.testing.assert_array_equal(data.y, [0, 9, 1, 9, 2, 9, 3, 9, 4, 9])
    np.testing.assert_array_equal(data.x[2:4].max(), np.float32(1 / 255))


def test_cifar_python_version(clean_env, tmp_path):
    cifar_files(tmp_path / "cifar-10-batches-py", ["test_batch"], python=True)
    data = load("cifar10", "test", root=tmp_path, download=False)
    np.testing.assert_array_equal(data.y, [0, 9])
    assert data.classes[0] == "airplane"


def test_corrupt_local_file_names_it(clean_env, tmp_path):
    write_mnist(tmp_path)
    images = tmp_path / "t10k-images-idx3-ubyte.gz"
    images.write_bytes(gzip.compress(b"\0\0\x08\x03" + bytes(12))[:-4])
    with pytest.raises(DatasetError, match="truncated gzip") as failure:
        load("mnist", "test", root=tmp_path, download=False)
    assert str(images) in str(failure.value)


def test_wrong_record_size_through_load(clean_env, tmp_path):
    folder = tmp_path / "cifar10"
    cifar_files(folder, ["test_batch.bin"])
    path = folder / "test_batch.bin"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(DatasetError, match="wrong size") as failure:
        load("cifar10", "test", root=tmp_path, download=False)
    assert str(path) in str(failure.value)


def test_loading_from_an_unwritable_place_needs_no_write(clean_env, tmp_path):
    write_mnist(tmp_path / "mnist", pinned=(clean_env, "mnist"))
    (tmp_path / "mnist").chmod(0o555)
    try:
        assert len(load("mnist", "test", root=tmp_path, download=False)) == 3
    finally:
        (tmp_path / "mnist").chmod(0o755)


# Identity: a file found on disk must hold the published content of the file it is named for.


@pytest.fixture
def two_datasets(clean_env, tmp_path):
    """Distinct stand-ins for MNIST and Fashion-MNIST, both pinned; MNIST's written in a shared root."""
    write_mnist(tmp_path / "published-fashion", value=7, pinned=(clean_env, "fashion-mnist"))
    write_mnist(tmp_path / "common-root", pinned=(clean_env, "mnist"))
    return tmp_path / "common-root"


def test_a_shared_root_never_lends_one_data_set_the_files_of_another(two_datasets):
    assert load("mnist", "test", root=two_datasets, download=False).classes == tuple("0123456789")
    with pytest.raises(
        DatasetError, match="passed over: .*holds mnist's t10k-images-idx3-ubyte.gz"
    ) as failure:
        load("fashion-mnist", "test", root=two_datasets, download=False)
    assert str(two_datasets / "fashion-mnist" / "t10k-images-idx3-ubyte.gz") in str(failure.value)


def test_another_data_sets_file_in_the_own_folder_is_refused_by_name(two_datasets):
    own = two_datasets / "fashion-mnist"
    own.mkdir()
    (own / "t10k-images-idx3-ubyte.gz").write_bytes((two_datasets / "t10k-images-idx3-ubyte.gz").read_bytes())
    with pytest.raises(
        DatasetError, match="is not fashion-mnist's t10k-images-idx3-ubyte.gz: it holds mnist's"
    ) as failure:
        load("fashion-mnist", "test", root=two_datasets, download=False)
    assert str(own / "t10k-images-idx3-ubyte.gz") in str(failure.value)


def test_a_file_of_unknown_content_is_refused_by_name(clean_env, tmp_path):
    write_mnist(tmp_path, pinned=(clean_env, "mnist"))
    stranger = tmp_path / "t10k-labels-idx1-ubyte.gz"
    write_idx(stranger, np.array([2, 1, 0], dtype=np.uint8))
    with pytest.raises(DatasetError, match="matches no published file") as failure:
        load("mnist", "test", root=tmp_path, download=False)
    assert str(stranger) in str(failure.value) and "load_idx_dataset" in str(failure.value)


@pytest.mark.parametrize("form", ["decompressed", "recompressed"])
def test_decompressed_and_recompressed_copies_are_the_same_data(clean_env, tmp_path, form):
    write_mnist(tmp_path / "published", pinned=(clean_env, "mnist"))
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        content = gzip.decompress((tmp_path / "published" / name).read_bytes())
        if form == "decompressed":
            (tmp_path / name.removesuffix(".gz")).write_bytes(content)
        else:
            (tmp_path / name).write_bytes(gzip.compress(content, compresslevel=1, mtime=1))
    data = load("mnist", "test", root=tmp_path, download=False)
    assert data.x.shape == (3, 1, 28, 28) and data.x.max() == 1.0
