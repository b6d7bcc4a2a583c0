"""Data parallelism over MPI: 2 ranks give the single-process values, bit for bit the same on each rank.

The distributed runs are ``mpiexec -n 2`` subprocesses with a timeout. Each rank imports this module
and runs the same functions as the single-process reference computed here (``comm=None``), then saves
its results; the tests compare rank with rank (exactly) and ranks with one process (float64, to
rounding). They skip only where mpi4py or its ``mpiexec`` cannot be found (``pip install
'minidnn[mpi]'``).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from minidnn.datasets import from_arrays
from minidnn.nlpmodels import LSR1Model, NeuralNetModel, distributed

from minidnn import datasets, models, solvers

HERE = Path(__file__).resolve().parent
RANKS = 2
TIMEOUT = 240  # seconds for one mpiexec launch on a loaded two-core machine
SOLVER_RUNS = {"lbfgs": 5, "trunk": 3, "hessian_free": 2}  # iterations per run


# -- launching ----------------------------------------------------------------------------------------
def mpiexec() -> str:
    """The mpiexec beside this interpreter (the MPICH wheel puts it there), else on PATH; else a skip."""
    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip("mpi4py is not installed: pip install 'minidnn[mpi]'")
    beside = Path(sys.executable).parent / "mpiexec"
    found = str(beside) if beside.is_file() else shutil.which("mpiexec")
    if found is None:
        pytest.skip("no mpiexec beside the interpreter nor on PATH: pip install 'minidnn[mpi]'")
    return found


def launch(code: str, ranks: int = RANKS, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    """Runs ``code`` on ``ranks`` ranks (one BLAS thread each); the whole job is killed on timeout."""
    command = [mpiexec(), "-n", str(ranks), sys.executable, "-c", textwrap.dedent(code)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(HERE)}
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as job:
        return finish(job, timeout)


def finish(job: subprocess.Popen, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    """Waits for an MPI job started in its own session; kills the whole job and fails the test when
    it does not end within ``timeout``."""
    try:
        out, err = job.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(job.pid, signal.SIGKILL)
        job.communicate()
        pytest.fail(f"the MPI job did not end within {timeout} s")
    return subprocess.CompletedProcess(job.args, job.returncode, out, err)


# -- what every rank computes (and one process, for reference) ----------------------------------------
def synthetic(n: int, seed: int = 0, split: str = "train"):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 1, 4, 4), dtype=np.float32)
    return from_arrays(x, rng.integers(0, 3, n), classes=("a", "b", "c"), name="synthetic", split=split)


def small_model(comm, n: int = 23, **options) -> NeuralNetModel:
    options.setdefault("batch_size", 7)
    net = models.mlp([16, 5, 3], activation="tanh", seed=0)
    test = synthetic(9, seed=1, split="test")
    return NeuralNetModel(net, synthetic(n), test, dtype="float64", comm=comm, **options)


def derivative_values(comm) -> dict[str, np.ndarray]:
    """f, gradient, Hv, Gauss-Newton products, sub-sampled Hv and the values on part of the batch
    along a walk through the batches, and evaluate, for several set-ups.

    23 samples in batches of 7 end an epoch with 2 samples (one per rank); 22 end it with 1 (rank 1
    has none); the walk then enters epoch 1, draws a random batch and sets a new batch size. Full
    batch (in chunks of 5) takes the same steps.
    """
    values: dict[str, np.ndarray] = {}
    setups = {"walk23": {}, "walk22": {"n": 22}, "full": {"full_batch": True, "eval_batch_size": 5}}
    for name, options in setups.items():
        nlp = small_model(comm, l2=0.01, **options)
        x = nlp.meta.x0 + 0.1
        v = np.cos(np.arange(nlp.meta.nvar, dtype=np.float64))
        rows, controls = [], []
        for step in range(7):
            if step == 5:
                nlp.random_minibatch()
            elif step == 6:
                nlp.set_batch_size(9)
            elif step:
                controls.append([nlp.next_minibatch(), nlp.epoch, nlp.batch_version])
            f, g = nlp.objgrad(x)
            rows.append(np.concatenate([[f, nlp.obj(x)], g, nlp.grad(x), nlp.hprod(x, v)]))
            f_part, g_part = nlp.objgrad_samples(x, 0, max(1, nlp.batch_samples // 2))
            products = [nlp.ghprod(x, v), nlp.sample_hprod(x, v, 0.5)]
            rows.append(np.concatenate([[f_part, f_part], g_part, *products]))
        values[f"{name} derivatives"] = np.array(rows)
        values[f"{name} controls"] = np.array(controls, dtype=np.int64)
        values[f"{name} evaluate"] = np.array([nlp.evaluate(x, split) for split in ("train", "test")])
        values[f"{name} x0"] = nlp.meta.x0
    return values


def start_point(comm) -> dict[str, np.ndarray]:
    """``meta.x0`` when every rank but rank 0 holds other network values: rank 0's on every rank."""
    net = models.mlp([16, 5, 3], activation="tanh", seed=0)
    if comm is not None and comm.Get_rank() > 0:
        net.load(net.vector() + 1.0)
    nlp = NeuralNetModel(net, synthetic(23), batch_size=7, dtype="float64", comm=comm)
    return {"start point": nlp.meta.x0}


def solver_iterates(comm) -> dict[str, np.ndarray]:
    """The iterates of lbfgs and trunk on the shipped digits, full batch and minibatch (float64)."""
    iterates = {}
    for method, iterations in SOLVER_RUNS.items():
        for full_batch in (True, False):
            nlp = NeuralNetModel(
                models.mlp([64, 16, 10], seed=0),
                datasets.load("digits"),
                datasets.load("digits", split="test"),
                batch_size=256,
                full_batch=full_batch,
                dtype="float64",
                comm=comm,
            )
            path = [nlp.meta.x0.copy()]
            options = {} if full_batch else {"resample": "iteration"}
            stats = getattr(solvers, method)(
                nlp,
                max_iter=iterations,
                max_time=None,
                eval_every=None,
                callback=lambda nlp, solver, stats, path=path: path.append(solver.x.copy()),
                **options,
            )
            assert stats.iter == iterations, stats.message
            iterates[f"{method} {'full' if full_batch else 'minibatch'}"] = np.array(path)
    return iterates


def bad_input_messages(comm) -> dict[str, str]:
    """The error each bad set-up raises (on every rank alike, so each is caught here)."""
    attempts = {
        "settings": lambda: small_model(comm, batch_size=7 - comm.Get_rank()),
        "samples": lambda: small_model(comm, n=1, batch_size=1),
        "batch": lambda: small_model(comm, batch_size=1),
        "set_batch_size": lambda: small_model(comm).set_batch_size(1),
        "comm": lambda: small_model("COMM_WORLD"),
    }
    messages = {}
    for name, attempt in attempts.items():
        try:
            attempt()
        except (TypeError, ValueError) as err:
            messages[name] = f"{type(err).__name__}: {err}"
    return messages


def worker(folder: str) -> None:
    """One rank's part of the distributed run: everything above, saved to ``folder/rank<r>.npz``."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    if comm.Get_size() != RANKS:
        raise RuntimeError(f"mpiexec started {comm.Get_size()} ranks of size 1: not the MPI of mpi4py")
    results = {**derivative_values(comm), **start_point(comm), **solver_iterates(comm)}
    messages = {f"message {k}": np.array(v) for k, v in bad_input_messages(comm).items()}
    np.savez(Path(folder) / f"rank{comm.Get_rank()}.npz", **results, **messages)


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list[dict[str, np.ndarray]]:
    """The results of each of the 2 ranks."""
    folder = tmp_path_factory.mktemp("mpi")
    job = launch(f"import test_mpi; test_mpi.worker({str(folder)!r})")
    assert job.returncode == 0, job.stderr[-4000:]
    return [dict(np.load(folder / f"rank{r}.npz")) for r in range(RANKS)]


# -- the tests ------------------------------------------------------------------------------------------
def test_ranks_agree_bit_for_bit(ranks):
    first, second = ranks
    assert first.keys() == second.keys()
    for key in first:
        assert np.array_equal(first[key], second[key]), key


def test_every_rank_starts_from_rank_0s_point(ranks):
    assert np.array_equal(ranks[1]["start point"], start_point(None)["start point"])


def test_values_equal_single_process_values(ranks):
    serial = derivative_values(None)
    for key, expected in serial.items():
        np.testing.assert_allclose(ranks[0][key], expected, rtol=1e-12, atol=1e-15, err_msg=key)
    for name in ("walk23", "walk22"):
        assert np.array_equal(ranks[0][f"{name} controls"], serial[f"{name} controls"])
        assert ranks[0][f"{name} controls"][:, 0].any(), "the walk crosses an epoch"


def test_solvers_take_the_single_process_iterates(ranks):
    for key, expected in solver_iterates(None).items():
        np.testing.assert_allclose(ranks[0][key], expected, rtol=1e-10, atol=1e-13, err_msg=key)


def test_bad_input_gets_clear_errors(ranks):
    message = {
        key.removeprefix("message "): str(v) for key, v in ranks[0].items() if key.startswith("message")
    }
    assert "rank 1" in message["settings"] and "batch_size" in message["settings"]
    assert "2 ranks" in message["samples"] and "training samples is 1" in message["samples"]
    assert "2 ranks" in message["batch"] and "batch size is 1" in message["batch"]
    assert "batch size is 1" in message["set_batch_size"]
    assert message["comm"].startswith("TypeError") and "intracommunicator" in message["comm"]


def test_a_rank_that_raises_ends_the_job():
    job = launch(
        """
        from mpi4py import MPI
        import test_mpi
        nlp = test_mpi.small_model(MPI.COMM_WORLD)
        if MPI.COMM_WORLD.Get_rank() == 1:
            raise RuntimeError("rank one fails on purpose")
        nlp.objgrad(nlp.meta.x0)
        """,
        timeout=120,
    )
    assert job.returncode != 0
    assert "rank 1 of 2: uncaught exception, aborting every rank" in job.stderr
    assert "RuntimeError: rank one fails on purpose" in job.stderr


def test_an_abort_waits_until_the_launcher_has_read_the_report_from_the_pipe():
    """The launcher reads a rank's standard error from a pipe; Abort before it has read the report
    once lost it. The wait ends once the reader has taken every byte, and not before."""
    read_end, write_end = os.pipe()
    os.write(write_end, b"rank 1 of 2: aborting\n")
    reading = threading.Event()

    def launcher() -> None:
        time.sleep(0.2)
        reading.set()
        os.read(read_end, 100)

    thread = threading.Thread(target=launcher)
    thread.start()
    distributed.wait_until_read(write_end, 60.0)
    assert reading.is_set()
    thread.join()
    os.write(write_end, b"unread")
    start = time.monotonic()
    distributed.wait_until_read(write_end, 0.05)  # nobody reads: the limit ends the wait
    assert time.monotonic() - start < 30
    os.close(read_end)
    os.close(write_end)


def test_an_abort_does_not_wait_on_a_file_or_terminal(tmp_path):
    with open(tmp_path / "stderr.txt", "w") as stream:
        stream.write("rank 1 of 2: aborting\n")
        stream.flush()
        start = time.monotonic()
        distributed.wait_until_read(stream.fileno(), 60.0)
        assert time.monotonic() - start < 30


def test_a_time_budget_ends_every_rank_at_the_same_iteration():
    """Rank 1 starts its solver half a second after rank 0, so its clock reads half a second less:
    the time budget still ends both ranks at the same iteration (``agree_to_stop``), and none waits."""
    job = launch(
        """
        import time
        from mpi4py import MPI
        from minidnn import datasets, models, solvers
        from minidnn.nlpmodels import NeuralNetModel
        comm = MPI.COMM_WORLD
        nlp = NeuralNetModel(models.mlp([64, 16, 10]), datasets.load("digits"), batch_size=64, comm=comm)
        if comm.Get_rank() == 1:
            time.sleep(0.5)
        stats = solvers.adam(nlp, max_time=1.0, eval_every=None)
        ends = comm.gather((stats.status, stats.iter))
        if comm.Get_rank() == 0:
            print(ends)
        """,
        timeout=120,
    )
    assert job.returncode == 0, job.stderr[-4000:]
    first, second = ast.literal_eval(job.stdout)
    assert first == second and first[0] == "max_time", job.stdout


def test_the_solvers_stop_on_time_when_any_rank_says_so():
    """One process: the verdict is its own; a model whose ranks say stop ends the run on time, through
    a quasi-Newton wrapper too; without a time budget nothing is asked."""
    nlp = small_model(None)
    assert (nlp.agree_to_stop(True), nlp.agree_to_stop(False)) == (True, False)
    asked = []

    def another_rank_is_out_of_time(flag: bool) -> bool:
        asked.append(flag)
        return True

    nlp.agree_to_stop = another_rank_is_out_of_time
    assert LSR1Model(nlp).agree_to_stop(False) is True
    stats = solvers.lbfgs(nlp, max_time=1e6, max_iter=3, eval_every=None)
    assert (stats.status, stats.iter, asked[-1]) == ("max_time", 0, False)
    asked.clear()
    assert solvers.trunk(LSR1Model(nlp), max_time=None, max_iter=2, eval_every=None).status == "max_iter"
    assert asked == []


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


def test_import_does_not_load_mpi4py():
    job = run_python(
        """
        import sys
        import minidnn.nlpmodels, minidnn.solvers
        print(sorted(name for name in sys.modules if name.startswith("mpi4py")))
        """
    )
    assert job.returncode == 0, job.stderr
    assert job.stdout.strip() == "[]"


def test_comm_without_mpi4py_is_a_clear_error():
    job = run_python(
        """
        import sys
        sys.modules["mpi4py"] = None  # as if it were not installed
        from minidnn.datasets import load
        from minidnn.models import mlp
        from minidnn.nlpmodels import NeuralNetModel
        try:
            NeuralNetModel(mlp([64, 10]), load("digits"), comm=object())
        except ImportError as err:
            print(err)
        """
    )
    assert job.returncode == 0, job.stderr
    assert "comm needs mpi4py: pip install 'minidnn[mpi]'" in job.stdout


def test_one_rank_is_the_single_process_model():
    """comm on one process (mpi4py's own COMM_SELF in a subprocess) gives exactly comm=None's values."""
    mpiexec()
    job = launch(
        """
        import numpy as np
        from mpi4py import MPI
        import test_mpi
        a, b = test_mpi.derivative_values(MPI.COMM_SELF), test_mpi.derivative_values(None)
        print(all(np.array_equal(a[k], b[k]) for k in a))
        """,
        ranks=1,
    )
    assert job.returncode == 0, job.stderr[-4000:]
    assert job.stdout.strip() == "True"


def test_scaling_benchmark_runs_at_a_tiny_size(tmp_path, monkeypatch):
    mpiexec()
    monkeypatch.delenv("MINIDNN_DATA", raising=False)
    monkeypatch.syspath_prepend(str(HERE.parent / "benchmarks"))
    scaling = importlib.import_module("mpi_scaling")
    path = tmp_path / "scaling.json"
    result = scaling.main(["--samples", "100", "--calls", "1", "--json", str(path)])
    assert json.loads(path.read_text()) == result
    one, two = result["runs"]
    assert (one["ranks"], two["ranks"], two["samples"]) == (1, 2, 100)
    assert one["objgrad_efficiency"] == 1.0 and two["hprod_speedup"] > 0
    assert one["reduction_s"]["median"] < two["reduction_s"]["median"]
    assert "digits" in result["data"] and two["load_average_1min"]["before"] >= 0
