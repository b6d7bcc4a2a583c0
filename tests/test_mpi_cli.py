"""The command line under ``mpiexec -n 2``: rank 0 alone prints and writes, every rank ends together
(an exception, an error on one rank, a signal, a time budget), and checkpoints resume with another
number of ranks.

Each test launches ``mpiexec -n 2 python -m minidnn ...``, or a few lines that change one rank (a
failure, a late start, a signal) and then call ``minidnn.cli.main``, in a subprocess with a timeout,
on the shipped digits with a small MLP and budgets of a few iterations. The single-process parts run
in this process. They skip where mpi4py or its mpiexec cannot be found (``pip install
'minidnn[mpi]'``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from test_mpi import finish, mpiexec

from minidnn.cli import checkpoint as checkpoints
from minidnn.cli import main

HERE = Path(__file__).resolve().parent
TIMEOUT = 120  # seconds for one launch on a loaded two-core machine
SMALL = ["--hidden", "16", "--progress", "0"]
LBFGS = ["train", "--solver", "lbfgs", "--dtype", "float64", "--batch-size", "256", "--epochs", "0", *SMALL]
"""Minibatch L-BFGS in float64: 6 batches per epoch, so 8 iterations cross an epoch."""


def _env(tmp_path: Path) -> dict[str, str]:
    """One BLAS thread per rank, unbuffered output, this folder importable, matplotlib hidden (faster)."""
    blocker = tmp_path / "hidden" / "matplotlib"
    blocker.mkdir(parents=True, exist_ok=True)
    (blocker / "__init__.py").write_text("raise ImportError('matplotlib is hidden for this test')\n")
    paths = [str(blocker.parent), str(HERE), os.environ.get("PYTHONPATH", "")]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in paths if p),
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }


def _command(args: list[str], ranks: int, change: str) -> list[str]:
    """``mpiexec -n ranks python -m minidnn args``, or ``change`` (Python run on every rank) first."""
    if not change:
        return [mpiexec(), "-n", str(ranks), sys.executable, "-m", "minidnn", *args]
    code = f"{textwrap.dedent(change)}\nfrom minidnn.cli import main\nraise SystemExit(main({args!r}))\n"
    return [mpiexec(), "-n", str(ranks), sys.executable, "-c", code]


def _start(tmp_path: Path, args: list[str], ranks: int = 2, change: str = "") -> subprocess.Popen:
    return subprocess.Popen(
        _command(args, ranks, change),
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def launch(tmp_path: Path, args: list[str], ranks: int = 2, change: str = "") -> subprocess.CompletedProcess:
    return finish(_start(tmp_path, args, ranks, change), TIMEOUT)


ON_RANK_1 = "from mpi4py import MPI\nif MPI.COMM_WORLD.Get_rank() == 1:\n"


def on_rank_1(code: str) -> str:
    """``code`` run on rank 1 only, before the command starts."""
    return ON_RANK_1 + textwrap.indent(textwrap.dedent(code), "    ")


def saved(folder: Path) -> checkpoints.Checkpoint:
    return checkpoints.load(folder / checkpoints.NAME)


# -- what is printed and written -------------------------------------------------------------------------
def test_rank_0_alone_prints_and_writes(tmp_path):
    job = launch(tmp_path, ["train", "--epochs", "1", *SMALL, "--out", "run"])
    assert job.returncode == 0, job.stderr[-4000:]
    assert job.stderr == ""
    assert job.stdout.count("minidnn train\n") == 1 and job.stdout.count("\ndone\n") == 1
    assert re.search(
        r"^  ranks +2 MPI processes, each evaluating its share of every batch$", job.stdout, re.M
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hidden", "run"]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["checkpoint.npz", "metrics.json"]
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert record["ranks"] == 2 and record["runs"][0]["ranks"] == 2 and record["status"] == "max_epochs"

    evaluated = launch(tmp_path, ["evaluate", "--checkpoint", "run/checkpoint.npz"])
    assert evaluated.returncode == 0, evaluated.stderr[-4000:]
    assert evaluated.stdout.count("minidnn evaluate\n") == 1
    accuracy = f"{record['final']['test_accuracy']:.4f}"
    assert re.search(rf"^  accuracy +{accuracy} ", evaluated.stdout, re.M), evaluated.stdout


def test_compare_is_refused_on_several_ranks(tmp_path):
    job = launch(tmp_path, ["compare", "--max-time", "1", "--dataset", "digits", "--model", "mlp"])
    assert job.returncode == 2
    assert job.stderr.count("minidnn: error: compare runs on one process, not on 2 MPI ranks") == 1
    assert job.stdout == ""


def test_ranks_started_with_other_arguments_are_refused(tmp_path):
    one = [sys.executable, "-m", "minidnn", "train", "--epochs", "1", "--out", "run"]
    command = [mpiexec(), "-n", "1", *one, "--seed", "0", ":", "-n", "1", *one, "--seed", "1"]
    started = subprocess.Popen(command, cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    job = finish(started, TIMEOUT)
    assert job.returncode == 2, job.stderr[-4000:]
    assert job.stderr.count("minidnn: error: on rank 1 of 2: started as `minidnn train") == 1
    assert "--seed 1`, rank 0 as `minidnn train --epochs 1 --out run --seed 0`" in job.stderr
    assert not (tmp_path / "run").exists()


# -- every rank ends together ---------------------------------------------------------------------------
def test_an_exception_on_one_rank_ends_every_rank(tmp_path):
    failing = on_rank_1(
        """
        from minidnn.nlpmodels import NeuralNetModel
        calls, original = [], NeuralNetModel.objgrad
        def failing(self, x, out=None):
            calls.append(x)
            if len(calls) == 5:
                raise RuntimeError("rank one fails on purpose")
            return original(self, x, out)
        NeuralNetModel.objgrad = failing
        """
    )
    started = time.perf_counter()
    job = launch(tmp_path, ["train", "--epochs", "1", *SMALL, "--out", "run"], change=failing)
    assert job.returncode != 0
    assert "rank 1 of 2: uncaught exception, aborting every rank of the job" in job.stderr
    assert "RuntimeError: rank one fails on purpose" in job.stderr
    assert not (tmp_path / "run" / checkpoints.NAME).exists()
    assert time.perf_counter() - started < TIMEOUT


def test_an_error_on_one_rank_is_reported_once_and_ends_every_rank_with_code_2(tmp_path):
    missing = on_rank_1(
        """
        from minidnn.cli import problem
        from minidnn.cli.errors import CommandError
        def load_splits(settings, splits=("train", "test")):
            raise CommandError("cannot load the digits train split: no such file on this node")
        problem.load_splits = load_splits
        """
    )
    job = launch(tmp_path, ["train", "--epochs", "1", *SMALL, "--out", "run"], change=missing)
    assert job.returncode == 2, job.stderr[-4000:]
    message = "minidnn: error: on rank 1 of 2: cannot load the digits train split: no such file on this node"
    assert job.stderr.count(message) == 1 and job.stderr.count("error") == 1
    assert not (tmp_path / "run").exists(), "the empty folder and its lock are removed"


def test_a_signal_on_one_rank_stops_every_rank_at_the_same_iteration(tmp_path):
    signalled = on_rank_1(
        """
        import os, signal
        from minidnn.nlpmodels import NeuralNetModel
        calls, original = [], NeuralNetModel.objgrad
        def signalling(self, x, out=None):
            calls.append(x)
            if len(calls) == 6:
                os.kill(os.getpid(), signal.SIGTERM)
            return original(self, x, out)
        NeuralNetModel.objgrad = signalling
        """
    )
    job = launch(tmp_path, [*LBFGS, "--forever", "--out", "run"], change=signalled)
    assert job.returncode == 130, job.stderr[-4000:]
    assert "interrupted (Ctrl-C or SIGTERM): the run so far is saved in run" in job.stdout
    state = saved(tmp_path / "run").state
    assert state["status"] == "user" and state["solver_state"] is not None
    assert state["iterations"] >= 1


def test_a_second_signal_on_a_rank_aborts_every_rank(tmp_path):
    twice = on_rank_1(
        """
        import os, signal
        from minidnn.nlpmodels import NeuralNetModel
        calls, original = [], NeuralNetModel.objgrad
        def signalling(self, x, out=None):
            calls.append(x)
            if len(calls) == 6:
                os.kill(os.getpid(), signal.SIGTERM)
                os.kill(os.getpid(), signal.SIGINT)
            return original(self, x, out)
        NeuralNetModel.objgrad = signalling
        """
    )
    job = launch(tmp_path, [*LBFGS, "--forever", "--out", "run"], change=twice)
    assert job.returncode == 130, job.stderr[-4000:]
    assert "rank 1 of 2: minidnn: interrupted again: aborting every rank of the job" in job.stderr
    assert not (tmp_path / "run" / checkpoints.NAME).exists()


def test_ctrl_c_on_mpiexec_stops_every_rank_and_saves(tmp_path):
    job = _start(tmp_path, ["train", "--epochs", "0", "--forever", "--hidden", "16", "--out", "run"])
    deadline = time.monotonic() + TIMEOUT
    while not job.stdout.readline().startswith("epoch"):  # the table has started: training runs
        assert time.monotonic() < deadline and job.poll() is None, "the run did not start"
    job.send_signal(signal.SIGINT)  # what Ctrl-C sends to mpiexec, which passes it to every rank
    done = finish(job, TIMEOUT)
    assert done.returncode == 130, done.stderr[-4000:]
    assert "interrupted (Ctrl-C or SIGTERM)" in done.stdout
    assert saved(tmp_path / "run").state["solver_state"] is not None


def test_a_time_budget_ends_every_rank_at_the_same_iteration(tmp_path):
    """Rank 1 starts its solver half a second late, so its clock reads half a second less than rank
    0's: the ranks must still agree on the iteration where the budget is spent."""
    late = on_rank_1(
        """
        import time
        from minidnn.cli import methods
        original = methods.solve
        def late(*args, **kwargs):
            time.sleep(0.5)
            return original(*args, **kwargs)
        methods.solve = late
        """
    )
    job = launch(tmp_path, ["train", "--max-time", "1", "--epochs", "0", *SMALL, "--out", "run"], change=late)
    assert job.returncode == 0, job.stderr[-4000:]
    assert re.search(r"^  status +max_time", job.stdout, re.M), job.stdout
    assert saved(tmp_path / "run").state["status"] == "max_time"


# -- resuming with another number of ranks ---------------------------------------------------------------
@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> checkpoints.Checkpoint:
    """8 iterations of the L-BFGS run on one process, without a stop."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    assert main([*LBFGS, "--max-iter", "8", "--out", str(folder / "run")]) == 0
    return saved(folder / "run")


@pytest.mark.parametrize("first, then", [(2, 1), (1, 2)])
def test_a_checkpoint_resumes_with_another_number_of_ranks(tmp_path, first, then, uninterrupted, capsys):
    def part(ranks: int, args: list[str]) -> None:
        if ranks == 1:
            assert main(args) == 0
            return
        mpiexec()
        job = launch(tmp_path, args, ranks)
        assert job.returncode == 0, job.stderr[-4000:]

    part(first, [*LBFGS, "--max-iter", "4", "--out", str(tmp_path / "a")])
    part(then, [*LBFGS, "--max-iter", "8", "--resume", str(tmp_path / "a" / checkpoints.NAME), "--out",
                str(tmp_path / "b")])  # fmt: skip
    resumed = saved(tmp_path / "b")
    np.testing.assert_allclose(resumed.vector, uninterrupted.vector, rtol=1e-10, atol=1e-12)
    for key in ("iterations", "epoch"):
        assert resumed.state[key] == uninterrupted.state[key], key
    assert (resumed.state["iterations"], resumed.state["epoch"]) == (8, 1)
    assert resumed.state["solver_state"]["batches"] == uninterrupted.state["solver_state"]["batches"]
    assert resumed.history["iter"] == uninterrupted.history["iter"]
    assert [run["ranks"] for run in resumed.state["runs"]] == [first, then]
    assert [run["iterations"] for run in resumed.state["runs"]] == [4, 4]


# -- the launcher's environment --------------------------------------------------------------------------
def _python(tmp_path: Path, code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=tmp_path,
        env={**_env(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


@pytest.mark.parametrize("env", [{}, {"PMI_SIZE": "1", "PMI_RANK": "0"}], ids=["alone", "mpiexec -n 1"])
def test_one_process_never_imports_mpi4py(tmp_path, env):
    code = """
        import sys
        from minidnn.cli import main
        code = main(["train", "--max-iter", "1", "--hidden", "16", "--out", "run"])
        print(code, sorted(name for name in sys.modules if name.startswith("mpi4py")))
        """
    job = _python(tmp_path, code, **env)
    assert job.returncode == 0, job.stderr
    assert job.stdout.splitlines()[-1] == "0 []"


def test_a_launcher_without_mpi4py_is_a_clear_error(tmp_path):
    blocker = tmp_path / "hidden" / "mpi4py"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('mpi4py is hidden for this test')\n")
    code = "from minidnn.cli import main; raise SystemExit(main(['train', '--epochs', '1']))"
    job = _python(tmp_path, code, OMPI_COMM_WORLD_SIZE="2", OMPI_COMM_WORLD_RANK="0")
    assert job.returncode == 2
    assert "started as one of 2 MPI processes (OMPI_COMM_WORLD_SIZE=2)" in job.stderr
    assert "needs mpi4py: pip install 'minidnn[mpi]'" in job.stderr
    other_rank = _python(tmp_path, code, OMPI_COMM_WORLD_SIZE="2", OMPI_COMM_WORLD_RANK="1")
    assert (other_rank.returncode, other_rank.stderr) == (2, ""), "one message for the whole launch"


def test_a_launcher_of_another_mpi_is_a_clear_error(tmp_path):
    """Open MPI's variables, seen by mpi4py built on MPICH: MPI starts this process alone."""
    mpiexec()
    vendor = _python(tmp_path, "from mpi4py import MPI; print(MPI.get_vendor()[0])").stdout.strip()
    if vendor != "MPICH":
        pytest.skip(f"mpi4py is built on {vendor or 'an MPI that did not start alone'}, not on MPICH")
    code = "from minidnn.cli import main; raise SystemExit(main(['train', '--epochs', '1']))"
    job = _python(tmp_path, code, OMPI_COMM_WORLD_SIZE="2", OMPI_COMM_WORLD_RANK="0")
    assert job.returncode == 2, job.stderr
    assert "started as one of 2 MPI processes (OMPI_COMM_WORLD_SIZE=2), but MPI joined 1" in job.stderr
