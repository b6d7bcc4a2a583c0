"""Thread counts: set, scoped and restored, for NumPy's and SciPy's BLAS alike, as threadpoolctl sees
them; a model's evaluations under its own count; SciPy's own BLAS held to one thread by to_scipy."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import threadpoolctl
from minidnn.datasets import from_arrays
from minidnn.nlpmodels import NeuralNetModel, to_scipy

from minidnn import backend, losses, models, thread_limits


def blas_counts() -> dict[str, int]:
    """{library file: threads} of every BLAS, read by threadpoolctl itself."""
    return {
        info["filepath"]: info["num_threads"]
        for info in threadpoolctl.threadpool_info()
        if info["user_api"] == "blas"
    }


@pytest.fixture(autouse=True)
def restored():
    """Every test starts from, and leaves, the counts found at start (``to_scipy`` in an earlier test
    may have held SciPy's BLAS to one thread)."""
    backend.thread_counts()  # loads SciPy's BLAS and records the counts found
    backend.set_threads(None)
    before = blas_counts()
    yield
    backend.set_threads(None)
    assert blas_counts() == before


def test_set_threads_applies_to_every_blas_and_none_restores_them():
    assert len(blas_counts()) >= 1
    backend.set_threads(1)
    assert set(blas_counts().values()) == {1}
    assert set(backend.thread_counts().values()) == {1}
    backend.set_threads(None)
    backend.set_threads(None)  # idempotent


def test_the_context_manager_restores_the_counts_it_found():
    backend.set_threads(2)
    with backend.threads(1):
        assert set(blas_counts().values()) == {1}
        with backend.threads(None):
            assert set(blas_counts().values()) == {1}
    assert set(blas_counts().values()) == {2}
    with pytest.raises(RuntimeError), backend.threads(1):
        raise RuntimeError("the block fails")
    assert set(blas_counts().values()) == {2}


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_thread_counts_are_refused_naming_the_argument(bad):
    with pytest.raises(ValueError, match="set_threads: n must be a positive integer or None"):
        backend.set_threads(bad)
    with pytest.raises(ValueError, match="threads: n"):
        with backend.threads(bad):
            pass
    data = from_arrays(np.zeros((4, 3), np.float32), np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="NeuralNetModel: threads must be"):
        NeuralNetModel(models.mlp([3, 2]), data, batch_size=4, threads=bad)


def test_a_model_evaluates_under_its_thread_count_and_restores_the_counts_after():
    seen = []

    def recording_loss(outputs, labels):
        seen.append(set(blas_counts().values()))
        return losses.softmax_cross_entropy(outputs, labels)

    rng = np.random.default_rng(0)
    data = from_arrays(rng.random((8, 3), dtype=np.float32), rng.integers(0, 2, 8))
    backend.set_threads(2)
    nlp = NeuralNetModel(models.mlp([3, 4, 2]), data, batch_size=8, loss=recording_loss, threads=1)
    seen.clear()
    x = nlp.meta.x0
    nlp.obj(x)
    nlp.objgrad(x)
    nlp.hprod(x, x)
    nlp.evaluate(x, split="train")
    assert seen == [{1}] * 4
    assert set(blas_counts().values()) == {2}
    free = NeuralNetModel(models.mlp([3, 4, 2]), data, batch_size=8, loss=recording_loss)
    seen.clear()
    free.grad(free.meta.x0)
    assert seen == [{2}]


def test_to_scipy_holds_scipy_own_blas_to_one_thread_and_leaves_numpy_alone():
    backend.set_threads(2)
    numpy_blas = {path for path in blas_counts() if "numpy" in path}
    scipy_own = {path for path in blas_counts() if "scipy" in path} - numpy_blas
    if not scipy_own:
        pytest.skip("SciPy and NumPy share one BLAS library here: there is no second pool")
    data = from_arrays(np.zeros((4, 3), np.float32), np.array([0, 1, 0, 1]))
    to_scipy(NeuralNetModel(models.mlp([3, 2]), data, batch_size=4))
    counts = blas_counts()
    assert {counts[path] for path in scipy_own} == {1}
    assert {counts[path] for path in numpy_blas} == {2}
    thread_limits.set_threads(2)
    assert set(blas_counts().values()) == {2}


def test_to_scipy_takes_the_scipy_thread_count_or_leaves_it_with_none():
    backend.set_threads(2)
    data = from_arrays(np.zeros((4, 3), np.float32), np.array([0, 1, 0, 1]))
    nlp = NeuralNetModel(models.mlp([3, 2]), data, batch_size=4)
    before = blas_counts()
    to_scipy(nlp, scipy_blas_threads=None)
    assert blas_counts() == before
    to_scipy(nlp, scipy_blas_threads=2)
    assert blas_counts() == before
    for bad in (0, 1.5, True, "1"):
        with pytest.raises(ValueError, match="scipy_blas_threads"):
            to_scipy(nlp, scipy_blas_threads=bad)
    assert blas_counts() == before


def test_the_command_line_runs_with_the_threads_it_is_given(tmp_path):
    code = (
        "import minidnn.backend as b\n"
        "from minidnn.cli import main\n"
        "from minidnn.nlpmodels import NeuralNetModel\n"
        "seen = []\n"
        "objgrad = NeuralNetModel.objgrad\n"
        "def watched(self, *args, **kwargs):\n"
        "    seen.append(self.threads)\n"
        "    return objgrad(self, *args, **kwargs)\n"
        "NeuralNetModel.objgrad = watched\n"
        "code = main(['train', '--max-iter', '3', '--threads', '1', '--out', 'run'])\n"
        "print(code, sorted(set(seen)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip().splitlines()[-1] == "0 [1]", done.stderr
