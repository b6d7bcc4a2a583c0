"""CIFAR-10 readers (binary and Python versions) and the safe extraction of the tarball."""

import io
import pickle
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from minidnn.datasets import DatasetError, read_cifar_binary, read_cifar_python
from minidnn.datasets.archive import extract_members
from minidnn.datasets.cifar import CLASSES, RECORD_SIZE


def records(labels, pixels):
    """The bytes of a binary batch: per record one label byte and 3,072 pixel bytes."""
    table = np.concatenate([labels[:, None], pixels.reshape(len(labels), -1)], axis=1)
    return table.astype(np.uint8).tobytes()


@st.composite
def batches(draw, max_files=3):
    files = []
    for _ in range(draw(st.integers(1, max_files))):
        n = draw(st.integers(1, 3))
        labels = draw(hnp.arrays(np.uint8, (n,), elements=st.integers(0, 9)))
        pixels = draw(hnp.arrays(np.uint8, (n, 3, 32, 32)))
        files.append((labels, pixels))
    return files


@given(files=batches())
def test_binary_batches_round_trip(files):
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for k, (labels, pixels) in enumerate(files):
            path = Path(folder) / f"data_batch_{k + 1}.bin"
            path.write_bytes(records(labels, pixels))
            paths.append(path)
        data = read_cifar_binary(paths, "train")
    all_pixels = np.concatenate([pixels for _, pixels in files])
    all_labels = np.concatenate([labels for labels, _ in files])
    assert data.x.dtype == np.float32 and data.x.shape == (len(all_labels), 3, 32, 32)
    np.testing.assert_array_equal(data.x, (all_pixels / 255).astype(np.float32))
    np.testing.assert_array_equal(data.y, all_labels)
    assert data.classes == CLASSES and data.classes[0] == "airplane"
    assert data.classes[9] == "truck" and (data.name, data.split) == ("cifar10", "train")


@given(files=batches(max_files=1), change=st.integers(1, RECORD_SIZE - 1), grow=st.booleans())
def test_wrong_record_size_fails(files, change, grow):
    labels, pixels = files[0]
    data = records(labels, pixels)
    data = data + bytes(change) if grow else data[:-change]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "test_batch.bin"
        path.write_bytes(data)
        with pytest.raises(DatasetError, match="wrong size") as failure:
            read_cifar_binary([path], "test")
    assert str(path) in str(failure.value)


@given(files=batches(max_files=1), bad=st.integers(10, 255), where=st.integers(0, 2))
def test_binary_label_out_of_range_fails(files, bad, where):
    labels, pixels = files[0]
    labels = labels.copy()
    labels[where % len(labels)] = bad
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "test_batch.bin"
        path.write_bytes(records(labels, pixels))
        with pytest.raises(DatasetError, match=f"label {bad} .* out of range 0..9"):
            read_cifar_binary([path], "test")


def test_empty_binary_file_fails(tmp_path):
    path = tmp_path / "test_batch.bin"
    path.write_bytes(b"")
    with pytest.raises(DatasetError, match="wrong size"):
        read_cifar_binary([path], "test")


def test_missing_binary_file_fails(tmp_path):
    with pytest.raises(DatasetError, match="cannot read"):
        read_cifar_binary([tmp_path / "absent.bin"], "test")


def python_batch(path, labels, pixels, protocol=2):
    batch = {
        b"batch_label": b"x",
        b"labels": [int(v) for v in labels],
        b"data": pixels.reshape(len(labels), -1),
        b"filenames": [b"a"] * len(labels),
    }
    path.write_bytes(pickle.dumps(batch, protocol=protocol))


@pytest.mark.parametrize("protocol", [2, 4])
def test_python_batches_round_trip(tmp_path, protocol):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
    labels = np.array([0, 9, 3, 3], dtype=np.uint8)
    path = tmp_path / "test_batch"
    python_batch(path, labels, pixels, protocol)
    data = read_cifar_python([path], "test")
    np.testing.assert_array_equal(data.x, (pixels / 255).astype(np.float32))
    np.testing.assert_array_equal(data.y, labels)


class Payload:
    """Stands for a malicious global: unpickling it must be refused."""

    def __reduce__(self):
        return (print, ("this must never run",))


def test_python_reader_refuses_foreign_globals(tmp_path):
    path = tmp_path / "test_batch"
    path.write_bytes(pickle.dumps({b"data": Payload(), b"labels": [0]}))
    with pytest.raises(DatasetError, match="refusing to load the global builtins.print"):
        read_cifar_python([path], "test")


@pytest.mark.parametrize(
    "content, fault",
    [
        (b"not a pickle", "not a CIFAR-10 Python batch"),
        (pickle.dumps([1, 2]), "not a CIFAR-10 Python batch"),
        (pickle.dumps({b"data": np.zeros((2, 5), np.uint8), b"labels": [0, 1]}), "'data'"),
        (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}), "2 images"),
        (pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [12]}), "label 12"),
        (pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": ["a"]}), "labels"),
    ],
)
def test_python_reader_faults(tmp_path, content, fault):
    path = tmp_path / "data_batch_1"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=fault):
        read_cifar_python([path], "train")


# Safe extraction of tarballs.

MEMBERS = ("cifar-10-batches-bin/data_batch_1.bin", "cifar-10-batches-bin/test_batch.bin")


def add_file(tar, name, content=b"payload"):
    info = tarfile.TarInfo(name)
    info.size = len(content)
    tar.addfile(info, io.BytesIO(content))


def add_special(tar, name, kind, linkname=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    tar.addfile(info)


def build(path, fill):
    with tarfile.open(path, "w:gz") as tar:
        fill(tar)
    return path


def targets(folder):
    return {name: folder / "out" / Path(name).name for name in MEMBERS}


def good_members(tar):
    add_special(tar, "cifar-10-batches-bin", tarfile.DIRTYPE)
    for name in MEMBERS:
        add_file(tar, name, name.encode())
    add_file(tar, "cifar-10-batches-bin/readme.html")


def test_extracts_only_the_expected_members(tmp_path):
    archive = build(tmp_path / "a.tar.gz", good_members)
    extract_members(archive, targets(tmp_path))
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["data_batch_1.bin", "test_batch.bin"]
    assert (out / "test_batch.bin").read_bytes() == MEMBERS[1].encode()


@pytest.mark.parametrize(
    "fill, fault",
    [
        (lambda tar: add_file(tar, "/tmp/minidnn-absolute-escape"), "absolute path"),
        (lambda tar: add_file(tar, "cifar-10-batches-bin/../../escape"), "'..'"),
        (lambda tar: add_file(tar, "../escape"), "'..'"),
        (lambda tar: add_special(tar, MEMBERS[0], tarfile.SYMTYPE, "/etc/passwd"), "link"),
        (lambda tar: add_special(tar, "innocent", tarfile.SYMTYPE, "../../x"), "link"),
        (lambda tar: add_special(tar, MEMBERS[0], tarfile.LNKTYPE, MEMBERS[1]), "link"),
        (lambda tar: add_special(tar, "fifo", tarfile.FIFOTYPE), "neither a regular file"),
        (lambda tar: add_special(tar, "dev", tarfile.CHRTYPE), "neither a regular file"),
        (lambda tar: add_special(tar, MEMBERS[0], tarfile.DIRTYPE), "not a regular file"),
        (lambda tar: add_file(tar, MEMBERS[0]), "repeats"),
    ],
)
def test_unsafe_archives_are_refused_and_leave_nothing(tmp_path, fill, fault):
    def malicious(tar):
        fill(tar)
        good_members(tar)

    archive = build(tmp_path / "a.tar.gz", malicious)
    with pytest.raises(DatasetError, match=fault) as failure:
        extract_members(archive, targets(tmp_path))
    assert str(archive) in str(failure.value)
    out = tmp_path / "out"
    assert not out.exists() or list(out.iterdir()) == []
    assert not (tmp_path.parent / "escape").exists()
    assert not Path("/tmp/minidnn-absolute-escape").exists()


def test_missing_member_is_an_error(tmp_path):
    archive = build(tmp_path / "a.tar.gz", lambda tar: add_file(tar, MEMBERS[0]))
    with pytest.raises(DatasetError, match="lacks the members .*test_batch.bin"):
        extract_members(archive, targets(tmp_path))
    assert list((tmp_path / "out").iterdir()) == []


def test_truncated_archive_is_an_error(tmp_path):
    archive = build(tmp_path / "a.tar.gz", good_members)
    archive.write_bytes(archive.read_bytes()[:-30])
    with pytest.raises(DatasetError, match="corrupt, truncated or unreadable") as failure:
        extract_members(archive, targets(tmp_path))
    assert str(archive) in str(failure.value)
    out = tmp_path / "out"
    assert not out.exists() or list(out.iterdir()) == []


def test_not_an_archive(tmp_path):
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(b"plain text, not a tarball")
    with pytest.raises(DatasetError, match=str(archive)):
        extract_members(archive, targets(tmp_path))
