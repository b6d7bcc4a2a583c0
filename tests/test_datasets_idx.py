"""IDX reader and writer: round trips and clean failures on corrupt files (property-tested)."""

import gzip
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from minidnn.datasets import DatasetError, load_idx_dataset, read_idx, write_idx
from minidnn.datasets.idx import read_idx_images, read_idx_labels

CLASSES = tuple("0123456789")


@st.composite
def idx_pairs(draw):
    """Images (N x H x W uint8, N >= 1) and labels (N, in 0..9) for a small IDX pair."""
    n = draw(st.integers(1, 12))
    rows, cols = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    images = draw(hnp.arrays(np.uint8, (n, rows, cols)))
    labels = draw(hnp.arrays(np.uint8, (n,), elements=st.integers(0, 9)))
    return images, labels


def write_pair(folder, images, labels, compress):
    suffix = ".gz" if compress else ""
    images_path = Path(folder) / f"images-idx3-ubyte{suffix}"
    labels_path = Path(folder) / f"labels-idx1-ubyte{suffix}"
    write_idx(images_path, images)
    write_idx(labels_path, labels)
    return images_path, labels_path


@given(pair=idx_pairs(), compress=st.booleans())
def test_valid_pairs_round_trip(pair, compress):
    images, labels = pair
    with tempfile.TemporaryDirectory() as folder:
        paths = write_pair(folder, images, labels, compress)
        data = load_idx_dataset(*paths, CLASSES, "toy", "test")
    assert data.x.dtype == np.float32 and data.y.dtype == np.int64
    assert data.x.shape == (len(images), 1, *images.shape[1:])
    np.testing.assert_array_equal(data.x[:, 0], (images / 255).astype(np.float32))
    np.testing.assert_array_equal(data.y, labels)
    assert data.x.min(initial=0.0) >= 0.0 and data.x.max(initial=1.0) <= 1.0


@given(
    array=hnp.arrays(
        st.sampled_from(["u1", "i1", "i2", "i4", "f4", "f8"]),
        hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
    ),
    compress=st.booleans(),
)
def test_every_idx_type_round_trips(array, compress):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("a.idx.gz" if compress else "a.idx")
        write_idx(path, array)
        back = read_idx(path)
    assert back.dtype == array.dtype.newbyteorder("=") and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_write_idx_refuses_unsupported_dtypes(tmp_path):
    with pytest.raises(DatasetError, match="int64"):
        write_idx(tmp_path / "a.idx", np.zeros(3, dtype=np.int64))


mutations = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 10_000)),
    st.tuples(st.just("flip"), st.integers(0, 10_000), st.integers(1, 255)),
    st.tuples(st.just("append"), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("insert"), st.integers(0, 10_000), st.binary(min_size=1, max_size=4)),
)


def mutate(data: bytes, mutation) -> bytes:
    kind, *args = mutation
    if kind == "truncate":
        return data[: args[0] % len(data)]
    if kind == "flip":
        position = args[0] % len(data)
        return data[:position] + bytes([data[position] ^ args[1]]) + data[position + 1 :]
    if kind == "append":
        return data + args[0]
    position = args[0] % (len(data) + 1)
    return data[:position] + args[1] + data[position:]


@given(
    pair=idx_pairs(),
    compress=st.booleans(),
    which=st.sampled_from(["images", "labels"]),
    mutation=mutations,
)
def test_mutated_files_load_or_fail_cleanly(pair, compress, which, mutation):
    """Any mutation gives a valid dataset or a DatasetError naming the file, nothing else."""
    images, labels = pair
    with tempfile.TemporaryDirectory() as folder:
        paths = write_pair(folder, images, labels, compress)
        target = paths[0] if which == "images" else paths[1]
        target.write_bytes(mutate(target.read_bytes(), mutation))
        try:
            data = load_idx_dataset(*paths, CLASSES, "toy", "train")
        except DatasetError as error:
            assert str(target) in str(error) or str(paths[0]) in str(error)
            return
    assert data.x.dtype == np.float32 and len(data.x) == len(data.y)
    assert data.y.max(initial=0) <= 9


@given(pair=idx_pairs(), compress=st.booleans(), which=st.sampled_from([0, 1]), cut=st.integers(1, 10_000))
def test_truncated_files_always_fail(pair, compress, which, cut):
    images, labels = pair
    with tempfile.TemporaryDirectory() as folder:
        paths = write_pair(folder, images, labels, compress)
        data = paths[which].read_bytes()
        paths[which].write_bytes(data[: len(data) - 1 - cut % len(data)])
        with pytest.raises(DatasetError) as failure:
            load_idx_dataset(*paths, CLASSES, "toy", "train")
    assert str(paths[which]) in str(failure.value)


@pytest.fixture
def pair(tmp_path):
    images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    labels = np.array([0, 9, 4], dtype=np.uint8)
    return write_pair(tmp_path, images, labels, compress=False)


def test_wrong_magic_number(pair):
    images, labels = pair
    data = bytearray(images.read_bytes())
    data[2] = 0x07
    images.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="wrong magic number") as failure:
        load_idx_dataset(images, labels, CLASSES, "toy", "train")
    assert str(images) in str(failure.value)


def test_labels_file_given_as_images_is_refused(pair):
    images, labels = pair
    with pytest.raises(DatasetError, match="magic 2051"):
        read_idx_images(labels)
    with pytest.raises(DatasetError, match="magic 2049"):
        read_idx_labels(images)


def test_counts_that_disagree(pair, tmp_path):
    images, _ = pair
    labels = tmp_path / "four-labels"
    write_idx(labels, np.zeros(4, dtype=np.uint8))
    with pytest.raises(DatasetError, match="3 images but .* 4 labels") as failure:
        load_idx_dataset(images, labels, CLASSES, "toy", "train")
    assert str(images) in str(failure.value) and str(labels) in str(failure.value)


def test_header_count_larger_than_data(pair):
    images, labels = pair
    data = bytearray(images.read_bytes())
    data[4:8] = struct.pack(">I", 4)
    images.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="truncated: header says 4 x 4 x 5"):
        load_idx_dataset(images, labels, CLASSES, "toy", "train")


def test_trailing_bytes_are_refused(pair):
    images, labels = pair
    images.write_bytes(images.read_bytes() + b"\0")
    with pytest.raises(DatasetError, match="too long"):
        load_idx_dataset(images, labels, CLASSES, "toy", "train")


def test_truncated_gzip(pair, tmp_path):
    images, labels = pair
    packed = tmp_path / "images.gz"
    packed.write_bytes(gzip.compress(images.read_bytes())[:-5])
    with pytest.raises(DatasetError, match="corrupt or truncated gzip") as failure:
        load_idx_dataset(packed, labels, CLASSES, "toy", "train")
    assert str(packed) in str(failure.value)
    assert failure.value.__cause__ is not None


def test_corrupt_gzip_body(pair, tmp_path):
    images, labels = pair
    data = bytearray(gzip.compress(images.read_bytes()))
    data[12] ^= 0xFF
    packed = tmp_path / "images.gz"
    packed.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=str(packed)):
        load_idx_dataset(packed, labels, CLASSES, "toy", "train")


def test_labels_out_of_range(tmp_path):
    images = np.zeros((2, 3, 3), dtype=np.uint8)
    paths = write_pair(tmp_path, images, np.array([3, 10], dtype=np.uint8), compress=True)
    with pytest.raises(DatasetError, match="label 10 at index 1 is out of range 0..9") as failure:
        load_idx_dataset(*paths, CLASSES, "toy", "train")
    assert str(paths[1]) in str(failure.value)


def test_missing_file_is_a_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="cannot read"):
        read_idx(tmp_path / "absent")


def test_empty_and_tiny_files(tmp_path):
    path = tmp_path / "tiny"
    for content in (b"", b"\0\0", b"\0\0\x08\x02\0\0"):
        path.write_bytes(content)
        with pytest.raises(DatasetError, match=str(path)):
            read_idx(path)


@pytest.mark.parametrize(
    "shape, fault", [((0, 28, 28), "holds 0 images"), ((2, 0, 3), "images of 0 x 3 pixels")]
)
def test_a_file_of_no_images_is_refused_by_name(tmp_path, shape, fault):
    images = np.zeros(shape, dtype=np.uint8)
    paths = write_pair(tmp_path, images, np.zeros(shape[0], dtype=np.uint8), compress=True)
    with pytest.raises(DatasetError, match=fault) as failure:
        load_idx_dataset(*paths, CLASSES, "toy", "test")
    assert str(paths[0]) in str(failure.value)
