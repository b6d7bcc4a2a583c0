"""What each downloadable data set is made of: files, pinned sizes and checksums, mirrors, classes.

Checksums. MNIST and Fashion-MNIST: the SHA-256 of the original gzip files, computed from copies
whose published MD5s (listed here too; torchvision checks the same values, and Zalando publishes
the Fashion-MNIST ones in its README) match byte for byte. CIFAR-10: the SHA-256 and size of
``cifar-10-binary.tar.gz`` as published in TensorFlow Datasets' URL checksum list
(``tensorflow_datasets/url_checksums/cifar10.txt``) and pinned alike by other loaders; the MD5
is the one on the dataset authors' page. Downloads are verified with SHA-256; the MD5s are kept
as a cross-reference.

Content checksums (MNIST and Fashion-MNIST): the SHA-256 of each gzip file's decompressed content,
computed here from the verified originals. They identify a decompressed or re-compressed copy
found on disk, and tell the files of one data set from another's (the sizes do not: MNIST and
Fashion-MNIST decompress to the same byte counts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class RemoteFile:
    """A file of a data set: its name on the mirror and on disk, its size and checksums.

    ``content_sha256`` is the SHA-256 of the decompressed content of a gzip file (``None`` for
    files that are not read decompressed, such as the CIFAR-10 tarball).
    """

    name: str
    size: int
    sha256: str
    md5: str
    content_sha256: str | None = None


@dataclass(frozen=True)
class IdxSpec:
    """An IDX data set: per split, an (images, labels) pair of gzip files."""

    name: str
    classes: tuple[str, ...]
    mirror: str
    splits: Mapping[str, tuple[RemoteFile, RemoteFile]]
    image_shape: tuple[int, int]


@dataclass(frozen=True)
class CifarSpec:
    """A data set shipped as one tarball holding the batch files of both splits."""

    name: str
    mirror: str
    archive: RemoteFile
    folder: str


MNIST = IdxSpec(
    name="mnist",
    classes=tuple(str(digit) for digit in range(10)),
    mirror="https://ossci-datasets.s3.amazonaws.com/mnist/",
    splits={
        "train": (
            RemoteFile(
                "train-images-idx3-ubyte.gz",
                9_912_422,
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            ),
            RemoteFile(
                "train-labels-idx1-ubyte.gz",
                28_881,
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                "d53e105ee54ea40749a09fcbcd1e9432",
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            ),
        ),
        "test": (
            RemoteFile(
                "t10k-images-idx3-ubyte.gz",
                1_648_877,
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                "9fb629c4189551a2d022fa330f9573f3",
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            ),
            RemoteFile(
                "t10k-labels-idx1-ubyte.gz",
                4_542,
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                "ec29112dd5afa0611ce80d1b7f02629c",
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            ),
        ),
    },
    image_shape=(28, 28),
)

FASHION_MNIST = IdxSpec(
    name="fashion-mnist",
    classes=(
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
    ),
    mirror="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    splits={
        "train": (
            RemoteFile(
                "train-images-idx3-ubyte.gz",
                26_421_880,
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            ),
            RemoteFile(
                "train-labels-idx1-ubyte.gz",
                29_515,
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                "25c81989df183df01b3e8a0aad5dffbe",
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            ),
        ),
        "test": (
            RemoteFile(
                "t10k-images-idx3-ubyte.gz",
                4_422_102,
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                "bef4ecab320f06d8554ea6380940ec79",
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            ),
            RemoteFile(
                "t10k-labels-idx1-ubyte.gz",
                5_148,
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                "bb300cfdad3c16e7a12a480ee83cd310",
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            ),
        ),
    },
    image_shape=(28, 28),
)

CIFAR10 = CifarSpec(
    name="cifar10",
    mirror="https://www.cs.toronto.edu/~kriz/",
    archive=RemoteFile(
        "cifar-10-binary.tar.gz",
        170_052_171,
        "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
        "c32a1d4ab5d03f1284b67883e8d87530",
    ),
    folder="cifar-10-batches-bin",
)

SPECS: dict[str, IdxSpec | CifarSpec] = {spec.name: spec for spec in (MNIST, FASHION_MNIST, CIFAR10)}
"""The downloadable data sets by name (the shipped ``digits`` needs no entry)."""

NAMES = ("digits", "mnist", "fashion-mnist", "cifar10")
"""Every name :func:`datasets.load` accepts."""

SPLITS = ("train", "test")
