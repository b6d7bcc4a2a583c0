"""Downloads from a local HTTP server on 127.0.0.1: verified, atomic, and clean on failure.

No test here touches the internet: every URL points at a server started in a thread.
"""

import dataclasses
import hashlib
import http.server
import io
import tarfile
import threading
import time

import numpy as np
import pytest
from minidnn.datasets import DatasetError, load, registry, write_idx
from minidnn.datasets import download as download_module
from minidnn.datasets.download import download

GOOD = bytes(range(256)) * 40
GOOD_SHA = hashlib.sha256(GOOD).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.routes``: path -> (behaviour, body)."""

    def do_GET(self):  # noqa: N802 (the name http.server calls)
        behaviour, body = self.server.routes.get(self.path, ("missing", b""))
        self.server.requests.append(self.path)
        if behaviour == "missing":
            self.send_error(404, "Not Found")
            return
        if behaviour == "stall":
            time.sleep(1.0)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if behaviour == "trickle":
            try:
                for k in range(len(body)):
                    self.wfile.write(body[k : k + 1])
                    self.wfile.flush()
                    time.sleep(0.02)
            except OSError:  # the client gave up: what the test wants
                pass
            return
        if behaviour == "drop":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.routes = {}
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def routes(server):
    server.routes.clear()
    server.requests.clear()
    return server.routes


def files_in(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_good_file_is_verified_and_renamed_into_place(server, routes, tmp_path):
    routes["/good.bin"] = ("ok", GOOD)
    target = tmp_path / "sub" / "good.bin"
    assert download(f"{server.url}/good.bin", target, GOOD_SHA, len(GOOD)) == target
    assert target.read_bytes() == GOOD
    assert files_in(tmp_path) == ["good.bin"]


@pytest.mark.parametrize(
    "behaviour, body, fault",
    [
        ("ok", GOOD[:-100], "received 10140 bytes, expected 10240"),
        ("ok", GOOD[:-1] + bytes([GOOD[-1] ^ 1]), "SHA-256 mismatch"),
        ("drop", GOOD, "IncompleteRead|ended after"),
        ("missing", b"", "404"),
        ("ok", GOOD + b"more", "received more than the expected 10240 bytes"),
    ],
    ids=["truncated", "checksum-mismatch", "dropped-connection", "not-found", "too-long"],
)
def test_failed_download_leaves_nothing_and_explains(server, routes, tmp_path, behaviour, body, fault):
    routes["/file.bin"] = (behaviour, body)
    url = f"{server.url}/file.bin"
    target = tmp_path / "file.bin"
    with pytest.raises(DatasetError, match=fault) as failure:
        download(url, target, GOOD_SHA, len(GOOD))
    message = str(failure.value)
    assert "file.bin" in message and url in message
    assert f"save it as {target}" in message and GOOD_SHA in message
    assert files_in(tmp_path) == []


def test_stalled_server_times_out(server, routes, tmp_path):
    routes["/slow.bin"] = ("stall", GOOD)
    with pytest.raises(DatasetError, match="timed out"):
        download(f"{server.url}/slow.bin", tmp_path / "slow.bin", GOOD_SHA, timeout=0.2)
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("limits", [{"deadline": 0.5}, {"default_rate": True}], ids=["given", "default"])
def test_a_trickling_server_meets_the_overall_deadline(server, routes, tmp_path, monkeypatch, limits):
    """One byte every 20 ms would take minutes; each read is quick, so only the deadline stops it."""
    routes["/trickle.bin"] = ("trickle", GOOD)
    if limits.pop("default_rate", False):
        monkeypatch.setattr(download_module, "MINIMUM_RATE", 20_000)  # 10240 bytes: a 0.5 s budget
    start = time.monotonic()
    with pytest.raises(DatasetError, match=r"deadline of [\d.]+ s passed after \d+ bytes"):
        download(f"{server.url}/trickle.bin", tmp_path / "t.bin", GOOD_SHA, len(GOOD), timeout=0.3, **limits)
    assert time.monotonic() - start < 5.0
    assert files_in(tmp_path) == []


def test_a_folder_at_the_target_path_is_named(tmp_path):
    target = tmp_path / "x.bin"
    (target / "inside").mkdir(parents=True)
    with pytest.raises(DatasetError, match=f"{target} is a folder; remove or rename it"):
        download("http://127.0.0.1:9/x.bin", target, GOOD_SHA)
    assert (target / "inside").is_dir()


@pytest.mark.parametrize("fault", ["offline", "not-found", "checksum"])
def test_a_failed_download_removes_the_folders_it_created(server, routes, tmp_path, fault):
    routes["/bad.bin"] = ("ok", GOOD[:-1] + b"x")
    url = {"offline": "http://127.0.0.1:9/x.bin", "not-found": f"{server.url}/absent.bin"}
    fresh = tmp_path / "fresh"
    with pytest.raises(DatasetError):
        download(url.get(fault, f"{server.url}/bad.bin"), fresh / "mnist" / "x.bin", GOOD_SHA, timeout=2)
    assert not fresh.exists()


def test_a_failed_download_leaves_existing_folders_as_they_were(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "notes.txt").write_text("mine")
    for folder in ("empty", "kept"):
        with pytest.raises(DatasetError):
            download("http://127.0.0.1:9/x.bin", tmp_path / folder / "sub" / "x.bin", GOOD_SHA, timeout=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "kept"]
    assert list((tmp_path / "empty").iterdir()) == []
    assert files_in(tmp_path / "kept") == ["notes.txt"]


def test_unreachable_server(tmp_path):
    with pytest.raises(DatasetError, match="Connection refused|URLError"):
        download("http://127.0.0.1:9/x.bin", tmp_path / "x.bin", GOOD_SHA, timeout=2)
    assert files_in(tmp_path) == []


def test_bad_url(tmp_path):
    with pytest.raises(DatasetError, match="unknown url type"):
        download("nonsense", tmp_path / "x.bin", GOOD_SHA)


def test_file_urls_work_as_mirrors(tmp_path):
    source = tmp_path / "mirror" / "good.bin"
    source.parent.mkdir()
    source.write_bytes(GOOD)
    target = tmp_path / "root" / "good.bin"
    download(source.as_uri(), target, GOOD_SHA, len(GOOD))
    assert target.read_bytes() == GOOD


def test_unwritable_folder(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    with pytest.raises(DatasetError, match="cannot store x.bin"):
        download("http://127.0.0.1:9/x.bin", blocker / "x.bin", GOOD_SHA)


# load() through the server, with the pinned checksums replaced by those of small files.


def idx_bytes(array, tmp_path, name):
    path = tmp_path / "build" / name
    path.parent.mkdir(exist_ok=True)
    write_idx(path, array)
    return path.read_bytes()


@pytest.fixture
def tiny_mnist(monkeypatch, tmp_path, routes):
    """A 5-image MNIST served at /mnist/, with the registry pinned to its checksums."""
    rng = np.random.default_rng(1)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": np.array([0, 1, 2, 3, 9], dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": np.array([5, 5], dtype=np.uint8),
    }
    bodies = {name: idx_bytes(array, tmp_path, name) for name, array in arrays.items()}
    splits = {
        split: tuple(
            dataclasses.replace(
                remote,
                size=len(bodies[remote.name]),
                sha256=hashlib.sha256(bodies[remote.name]).hexdigest(),
            )
            for remote in remotes
        )
        for split, remotes in registry.MNIST.splits.items()
    }
    spec = dataclasses.replace(registry.MNIST, splits=splits)
    monkeypatch.setitem(registry.SPECS, "mnist", spec)
    for name, body in bodies.items():
        routes[f"/mnist/{name}"] = ("ok", body)
    for variable in ("MINIDNN_MIRROR", "MINIDNN_MIRROR_MNIST", "MINIDNN_DATA"):
        monkeypatch.delenv(variable, raising=False)
    return arrays, bodies


def test_load_downloads_into_root_then_reads_offline(server, tiny_mnist, tmp_path):
    arrays, _ = tiny_mnist
    root = tmp_path / "root"
    data = load("mnist", "train", root=root, mirror=f"{server.url}/mnist/")
    np.testing.assert_array_equal(data.y, arrays["train-labels-idx1-ubyte.gz"])
    assert files_in(root) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    assert (root / "mnist" / "train-images-idx3-ubyte.gz").is_file()
    server.requests.clear()
    again = load("mnist", "train", root=root, download=False)
    np.testing.assert_array_equal(again.x, data.x)
    assert server.requests == []


def test_mirror_from_environment(server, tiny_mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDNN_MIRROR_MNIST", f"{server.url}/mnist")
    monkeypatch.setenv("MINIDNN_DATA", str(tmp_path / "env-root"))
    data = load("mnist", "test")
    assert len(data) == 2
    assert (tmp_path / "env-root" / "mnist" / "t10k-images-idx3-ubyte.gz").is_file()


def test_generic_mirror_has_one_folder_per_dataset(server, tiny_mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDNN_MIRROR", server.url)
    assert len(load("mnist", "test", root=tmp_path)) == 2
    assert "/mnist/t10k-labels-idx1-ubyte.gz" in server.requests


def test_load_with_a_wrong_file_on_the_mirror_leaves_nothing(server, tiny_mnist, tmp_path):
    _, bodies = tiny_mnist
    name = "train-labels-idx1-ubyte.gz"
    server.routes[f"/mnist/{name}"] = ("ok", bodies[name][:-3] + b"abc")
    root = tmp_path / "root"
    with pytest.raises(DatasetError, match="SHA-256 mismatch") as failure:
        load("mnist", root=root, mirror=f"{server.url}/mnist/")
    assert f"{server.url}/mnist/{name}" in str(failure.value)
    assert files_in(root) == ["train-images-idx3-ubyte.gz"]


@pytest.mark.parametrize("fault", ["offline", "checksum"])
def test_a_failed_load_on_a_fresh_root_leaves_no_folder(server, tiny_mnist, tmp_path, fault):
    _, bodies = tiny_mnist
    name = "train-images-idx3-ubyte.gz"
    server.routes[f"/mnist/{name}"] = ("ok", bodies[name][:-1] + b"x")
    mirror = "http://127.0.0.1:9/mnist/" if fault == "offline" else f"{server.url}/mnist/"
    root = tmp_path / "root"
    with pytest.raises(DatasetError):
        load("mnist", root=root, mirror=mirror)
    assert not root.exists()
    root.mkdir()
    with pytest.raises(DatasetError):
        load("mnist", root=root, mirror=mirror)
    assert root.is_dir() and not (root / "mnist").exists()


def test_a_shared_root_gets_each_data_set_its_own_files(server, tiny_mnist, tmp_path, monkeypatch):
    """MNIST's files directly in the root are passed over when Fashion-MNIST is asked for: it is fetched."""
    arrays, bodies = tiny_mnist
    root = tmp_path / "common-root"
    root.mkdir()
    for name, body in bodies.items():
        (root / name).write_bytes(body)
    fashion = {name: idx_bytes(array[::-1].copy(), tmp_path, "f-" + name) for name, array in arrays.items()}
    splits = {
        split: tuple(
            dataclasses.replace(
                r, size=len(fashion[r.name]), sha256=hashlib.sha256(fashion[r.name]).hexdigest()
            )
            for r in remotes
        )
        for split, remotes in registry.FASHION_MNIST.splits.items()
    }
    monkeypatch.setitem(
        registry.SPECS, "fashion-mnist", dataclasses.replace(registry.FASHION_MNIST, splits=splits)
    )
    for name, body in fashion.items():
        server.routes[f"/fashion/{name}"] = ("ok", body)
    data = load("fashion-mnist", "train", root=root, mirror=f"{server.url}/fashion/")
    np.testing.assert_array_equal(data.y, arrays["train-labels-idx1-ubyte.gz"][::-1])
    assert data.classes[0] == "T-shirt/top"
    assert (root / "fashion-mnist" / "train-labels-idx1-ubyte.gz").read_bytes() == fashion[
        "train-labels-idx1-ubyte.gz"
    ]


def test_download_false_names_the_file_the_url_and_the_place(tmp_path, monkeypatch):
    monkeypatch.delenv("MINIDNN_MIRROR", raising=False)
    monkeypatch.delenv("MINIDNN_MIRROR_MNIST", raising=False)
    with pytest.raises(DatasetError) as failure:
        load("mnist", "test", root=tmp_path, download=False)
    message = str(failure.value)
    assert "t10k-images-idx3-ubyte.gz" in message and "download=False" in message
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-images-idx3-ubyte.gz" in message
    assert str(tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz") in message
    assert files_in(tmp_path) == []


# CIFAR-10: the tarball is downloaded, verified, and only its batch files extracted.


def cifar_tarball(rng):
    buffer = io.BytesIO()
    labels = {}
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        names = [f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]
        for name in names:
            y = rng.integers(0, 10, 2, dtype=np.uint8)
            pixels = rng.integers(0, 256, (2, 3072), dtype=np.uint8)
            body = np.concatenate([y[:, None], pixels], axis=1).tobytes()
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
            labels[name] = y
        info = tarfile.TarInfo("cifar-10-batches-bin/readme.html")
        tar.addfile(info, io.BytesIO(b""))
    return buffer.getvalue(), labels


@pytest.fixture
def tiny_cifar(monkeypatch, routes):
    body, labels = cifar_tarball(np.random.default_rng(2))
    archive = dataclasses.replace(
        registry.CIFAR10.archive, size=len(body), sha256=hashlib.sha256(body).hexdigest()
    )
    monkeypatch.setitem(registry.SPECS, "cifar10", dataclasses.replace(registry.CIFAR10, archive=archive))
    routes["/kriz/cifar-10-binary.tar.gz"] = ("ok", body)
    return body, labels


def test_cifar_downloads_verifies_and_extracts(server, tiny_cifar, tmp_path):
    _, labels = tiny_cifar
    root = tmp_path / "root"
    train = load("cifar10", "train", root=root, mirror=f"{server.url}/kriz/")
    assert train.x.shape == (10, 3, 32, 32)
    expected = np.concatenate([labels[f"data_batch_{k}.bin"] for k in range(1, 6)])
    np.testing.assert_array_equal(train.y, expected)
    folder = root / "cifar10" / "cifar-10-batches-bin"
    assert sorted(p.name for p in folder.iterdir()) == sorted(labels)
    test = load("cifar10", "test", root=root, download=False)
    np.testing.assert_array_equal(test.y, labels["test_batch.bin"])


def test_cifar_tarball_placed_by_hand_is_verified(tiny_cifar, tmp_path):
    body, labels = tiny_cifar
    (tmp_path / "cifar-10-binary.tar.gz").write_bytes(body)
    test = load("cifar10", "test", root=tmp_path, download=False)
    np.testing.assert_array_equal(test.y, labels["test_batch.bin"])


def test_cifar_tarball_with_wrong_checksum_is_refused(tiny_cifar, tmp_path):
    body, _ = tiny_cifar
    placed = tmp_path / "cifar10" / "cifar-10-binary.tar.gz"
    placed.parent.mkdir()
    placed.write_bytes(body[:-1] + bytes([body[-1] ^ 1]))
    with pytest.raises(DatasetError, match="is not the published") as failure:
        load("cifar10", "test", root=tmp_path, download=False)
    assert str(placed) in str(failure.value)
    assert files_in(tmp_path) == ["cifar-10-binary.tar.gz"]


def test_cifar_missing_without_download(tmp_path):
    with pytest.raises(DatasetError, match="cifar-10-binary.tar.gz") as failure:
        load("cifar10", "test", root=tmp_path, download=False)
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz" in str(failure.value)
