"""``load(name, split)``: find a data set's files under a root folder, download what is missing.

Root folder: the ``root`` argument, else ``$MINIDNN_DATA``, else the per-user cache folder
(``$XDG_CACHE_HOME/minidnn``, or ``~/.cache/minidnn``). A data set's files live in
``root/<name>/`` (e.g. ``root/mnist/train-images-idx3-ubyte.gz``); files directly in ``root``
are accepted too, so ``root`` may be the data set's own folder. IDX files may be gzip or already
decompressed (the same name without ``.gz``).

Mirrors: the ``mirror`` argument (a folder URL holding the data set's files), else
``$MINIDNN_MIRROR_<NAME>`` (``MNIST``, ``FASHION_MNIST``, ``CIFAR10``; same meaning), else
``$MINIDNN_MIRROR`` (a URL with one sub-folder per data set, ``<url>/<name>/<file>``), else the
data set's public mirror. Every download is checked against the size and SHA-256 pinned in
:mod:`datasets.registry` before it is renamed into place.

Identity. An MNIST or Fashion-MNIST file found on disk must hold the published content: the
pinned gzip itself, or a decompressed or re-compressed copy of it (see :mod:`datasets.identity`;
one SHA-256 per file and process). A file in the data set's own folder with other content raises
DatasetError naming it and what it holds; a file directly in ``root`` that is another data set's
(MNIST's files where Fashion-MNIST's are looked for) is passed over, so a shared root never lends
one data set's files to another. Files are then checked for structure (headers, sizes, label
ranges). A CIFAR-10 tarball is verified against its SHA-256 before extraction, wherever it came
from; extracted CIFAR-10 batch files are checked for structure only.
"""

from __future__ import annotations

import os
from pathlib import Path

from minidnn.datasets import cifar
from minidnn.datasets.archive import extract_members
from minidnn.datasets.dataset import Dataset
from minidnn.datasets.digits import load_digits
from minidnn.datasets.download import download as fetch
from minidnn.datasets.download import sha256_of
from minidnn.datasets.errors import DatasetError
from minidnn.datasets.identity import content_identity, describe
from minidnn.datasets.idx import load_idx_dataset
from minidnn.datasets.registry import NAMES, SPECS, SPLITS, CifarSpec, IdxSpec, RemoteFile


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The root folder: ``root``, else ``$MINIDNN_DATA``, else the per-user cache folder."""
    if root is not None:
        return Path(root).expanduser()
    if os.environ.get("MINIDNN_DATA"):
        return Path(os.environ["MINIDNN_DATA"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(cache) if os.path.isabs(cache) else Path.home() / ".cache"
    return base / "minidnn"


def mirror_url(name: str, mirror: str | None = None) -> str:
    """The folder URL the files of data set ``name`` are downloaded from (ending in ``/``)."""
    variable = "MINIDNN_MIRROR_" + name.upper().replace("-", "_")
    if mirror:
        url = mirror
    elif os.environ.get(variable):
        url = os.environ[variable]
    elif os.environ.get("MINIDNN_MIRROR"):
        url = os.environ["MINIDNN_MIRROR"].rstrip("/") + f"/{name}"
    else:
        url = _spec(name).mirror
    return url.rstrip("/") + "/"


def load(
    name: str,
    split: str = "train",
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
    *,
    mirror: str | None = None,
) -> Dataset:
    """Load data set ``name`` ("digits", "mnist", "fashion-mnist", "cifar10"), split "train" or
    "test", as a :class:`Dataset` (x float32 N x C x H x W in [0, 1], y int64 in 0..C-1).

    "digits" ships inside the package: ``root``, ``download`` and ``mirror`` do not apply. For the
    others, files are looked up under ``root`` (see :func:`data_root`) and, when missing and
    ``download`` is true, fetched from the mirror (see :func:`mirror_url`) and verified. A
    missing, corrupt or mismatched file raises :class:`DatasetError` naming it.
    """
    name = _canonical_name(name)
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    if name == "digits":
        return load_digits(split)
    spec = _spec(name)
    where = data_root(root)
    if isinstance(spec, IdxSpec):
        return _load_idx(spec, split, where, download, mirror)
    return _load_cifar(spec, split, where, download, mirror)


def _canonical_name(name: str) -> str:
    """``name`` in lowercase with ``_`` read as ``-``; DatasetError listing the valid names."""
    canonical = str(name).lower().replace("_", "-")
    if canonical not in NAMES:
        raise DatasetError(f"unknown data set {name!r}; valid names: {', '.join(NAMES)}")
    return canonical


def _spec(name: str) -> IdxSpec | CifarSpec:
    """The registry entry of a downloadable data set."""
    if name not in SPECS:
        raise DatasetError(f"no files to fetch for {name!r}; downloadable: {', '.join(SPECS)}")
    return SPECS[name]


def _load_idx(spec: IdxSpec, split: str, root: Path, download: bool, mirror: str | None) -> Dataset:
    """MNIST-like data: find or fetch the two IDX files of ``split`` and read them."""
    images, labels = (_locate(spec.name, remote, root, download, mirror) for remote in spec.splits[split])
    dataset = load_idx_dataset(images, labels, spec.classes, spec.name, split)
    if dataset.image_shape[1:] != spec.image_shape:
        rows, cols = dataset.image_shape[1:]
        raise DatasetError(
            f"{images}: images of {rows} x {cols} pixels; {spec.name} images are "
            f"{spec.image_shape[0]} x {spec.image_shape[1]}"
        )
    return dataset


def _locate(name: str, remote: RemoteFile, root: Path, download: bool, mirror: str | None) -> Path:
    """The path of ``remote`` under ``root`` (gzip or decompressed, identity checked), else fetched."""
    plain = remote.name.removesuffix(".gz")
    passed_over = []
    for folder in (root / name, root):
        for candidate in (folder / remote.name, folder / plain):
            if not candidate.is_file():
                continue
            identity = content_identity(candidate)
            if identity == remote.content_sha256:
                return candidate
            holds = describe(identity)
            if folder == root / name or holds is None:
                raise DatasetError(_not_the_file(candidate, name, remote, holds))
            passed_over.append(f"{candidate} holds {holds}")
    target = root / name / remote.name
    url = mirror_url(name, mirror) + remote.name
    if not download:
        alternative = f"the decompressed {plain} is accepted too"
        raise DatasetError(_missing(target, url, remote, alternative, passed_over))
    return fetch(url, target, remote.sha256, remote.size)


def _not_the_file(path: Path, name: str, remote: RemoteFile, holds: str | None) -> str:
    """The message for a file that has the name but not the content of ``name``'s ``remote``."""
    what = f"it holds {holds}" if holds else "its content matches no published file (damaged or modified?)"
    return (
        f"{path} is not {name}'s {remote.name}: {what}. Keep each data set's files in a folder of "
        f"its own (<root>/{name}/) and replace this one with the original ({remote.size} bytes, "
        f"SHA-256 {remote.sha256}); for data of your own in this format, read it with "
        "datasets.load_idx_dataset(images, labels, classes, name, split)."
    )


def _load_cifar(spec: CifarSpec, split: str, root: Path, download: bool, mirror: str | None) -> Dataset:
    """CIFAR-10: read the binary batches (or the Python ones); else extract the tarball."""
    binary = cifar.BINARY_FILES[split]
    extracted = root / spec.name / spec.folder
    for folder in (extracted, root / spec.name, root / spec.folder, root):
        if all((folder / file).is_file() for file in binary):
            return cifar.read_cifar_binary([folder / file for file in binary], split, spec.name)
    python = cifar.PYTHON_FILES[split]
    for folder in (root / spec.name / "cifar-10-batches-py", root / "cifar-10-batches-py"):
        if all((folder / file).is_file() for file in python):
            return cifar.read_cifar_python([folder / file for file in python], split, spec.name)
    tarball = _cifar_tarball(spec, root, download, mirror)
    members = {
        f"{spec.folder}/{file}": extracted / file for files in cifar.BINARY_FILES.values() for file in files
    }
    extract_members(tarball, members)
    return cifar.read_cifar_binary([extracted / file for file in binary], split, spec.name)


def _cifar_tarball(spec: CifarSpec, root: Path, download: bool, mirror: str | None) -> Path:
    """A verified CIFAR-10 tarball: one placed under ``root`` by hand, else a fresh download."""
    remote = spec.archive
    target = root / spec.name / remote.name
    for candidate in (target, root / remote.name):
        if candidate.is_file():
            found = sha256_of(candidate)
            if found != remote.sha256:
                raise DatasetError(
                    f"{candidate}: SHA-256 {found} is not the published {remote.sha256}; "
                    "the file is damaged or not the CIFAR-10 binary version"
                )
            return candidate
    url = mirror_url(spec.name, mirror) + remote.name
    if not download:
        alternative = f"or place its extracted batch files in {root / spec.name / spec.folder}"
        raise DatasetError(_missing(target, url, remote, alternative))
    return fetch(url, target, remote.sha256, remote.size)


def _missing(
    target: Path, url: str, remote: RemoteFile, alternative: str, passed_over: list[str] | None = None
) -> str:
    """The message for a file that is absent while downloads are off."""
    note = f" (passed over: {'; '.join(passed_over)})" if passed_over else ""
    return (
        f"{remote.name} is in neither {target.parent} nor {target.parent.parent}{note}, and "
        f"download=False. Place it by hand: fetch {url} (or the same file from any mirror; "
        f"{remote.size} bytes, SHA-256 {remote.sha256}) and save it as {target} "
        f"({alternative}); or call load with download=True."
    )
