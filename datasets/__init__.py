"""datasets: data for minidnn, with no dependency on the rest of it.

``load(name, split="train", root=None, download=True)`` returns a :class:`Dataset` (``x`` float32
N x C x H x W in [0, 1], ``y`` int64 in 0..C-1, class names, name and split) for "digits" (the
8x8 UCI digits, shipped in the package, CC BY 4.0: see ``data/DIGITS_ATTRIBUTION.txt``),
"mnist", "fashion-mnist" and "cifar10" (read from a root folder, downloaded there when missing,
verified against pinned SHA-256 checksums). ``from_arrays(x, y)`` builds a Dataset from one's own
arrays (images or feature vectors; class labels or regression targets) and ``train_test_split``
cuts one in two. :class:`Minibatches` iterates over a Dataset with seeded per-epoch shuffles.
Data sets are immutable (read-only arrays). Every fault of the data raises :class:`DatasetError`.
"""

from minidnn.datasets.arrays import from_arrays
from minidnn.datasets.cifar import read_cifar_binary, read_cifar_python
from minidnn.datasets.dataset import Dataset
from minidnn.datasets.errors import DatasetError, DatasetWarning
from minidnn.datasets.idx import load_idx_dataset, read_idx, write_idx
from minidnn.datasets.loader import data_root, load, mirror_url
from minidnn.datasets.minibatches import Minibatches
from minidnn.datasets.registry import NAMES
from minidnn.datasets.splitting import train_test_split

__all__ = [
    "NAMES",
    "Dataset",
    "DatasetError",
    "DatasetWarning",
    "Minibatches",
    "data_root",
    "from_arrays",
    "load",
    "load_idx_dataset",
    "mirror_url",
    "read_cifar_binary",
    "read_cifar_python",
    "read_idx",
    "train_test_split",
    "write_idx",
]
