"""Test configuration: the backends and dtypes every test runs on, hypothesis profiles, and where
the real data sets are.

Backends and dtypes are declared once, here: a test that takes the ``backend_name`` (or ``be``) and
``dtype`` fixtures runs once per entry of :data:`BACKENDS` and :data:`DTYPES`. CuPy carries the
``gpu`` mark and is skipped, with the reason, where no CUDA device is at hand.

Profiles: ``ci`` (the default: bounded examples, no deadline, so the suite stays under ten minutes
on two cores) and ``thorough`` (many more examples). Pick one with ``HYPOTHESIS_PROFILE``.
"""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from minidnn import backend

BACKENDS = ("numpy", "array-api-strict", pytest.param("cupy", marks=pytest.mark.gpu))
"""NumPy, the strict Array API stand-in for a device, and CuPy on a GPU."""
DTYPES = ("float64", "float32")


@pytest.fixture(scope="session", params=BACKENDS)
def backend_name(request) -> str:
    """Each backend of :data:`BACKENDS` by name; skips one that is not available here."""
    if not backend.available(request.param):
        pytest.skip(f"backend {request.param} unavailable: needs CuPy and a CUDA device")
    return request.param


@pytest.fixture(scope="session")
def be(backend_name: str) -> backend.Backend:
    """Each backend of :data:`BACKENDS`."""
    return backend.get(backend_name)


@pytest.fixture(scope="session", params=DTYPES)
def dtype(request) -> str:
    """Each dtype of :data:`DTYPES`."""
    return request.param


settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

DATA_VARIABLE = "MINIDNN_TEST_DATA"
DATA_FILES = {
    "mnist": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "SOURCE.md"),
    "fashion-mnist": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                      "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "SOURCE.md"),
    "uci-digits": ("digits.csv.gz",),
}  # fmt: skip


def real_data_folder(name: str) -> Path:
    """The folder ``$MINIDNN_TEST_DATA/name`` with every file the tests read; skips the test otherwise.

    The variable names a folder holding ``mnist/``, ``fashion-mnist/`` and ``uci-digits/`` with the
    original files (``.ci/run`` sets it when such a folder is at hand).
    """
    root = os.environ.get(DATA_VARIABLE)
    if not root:
        pytest.skip(f"real data: set {DATA_VARIABLE} to a folder holding {name}/ to run this test")
    folder = Path(root) / name
    missing = [f for f in DATA_FILES[name] if not (folder / f).is_file()]
    if missing:
        pytest.skip(f"real data: {DATA_VARIABLE}={root} lacks {', '.join(f'{name}/{f}' for f in missing)}")
    return folder


@pytest.fixture(scope="session")
def real_data():
    """``real_data("mnist")`` gives that data set's folder of original files, or skips the test."""
    return real_data_folder
