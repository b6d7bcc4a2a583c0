"""Data parallelism over MPI: which samples a rank evaluates, and the sum of the ranks' shares.

SPMD: every rank builds the same model and runs the same solver. The objective is a weighted sum over
samples, f(x) = sum_{i in B} w_i loss_i(x) with w_i = 1/|B|, so it splits over the ranks 0..P-1:

    f(x) = sum_r f_r(x),    f_r(x) = (|B_r| / |B|) * mean_{i in B_r} loss_i(x),

and so do the gradient and the Hessian-vector product. Each rank evaluates its share f_r, grad f_r,
H_r v, and one reduction of one flat buffer per call gives every rank the sum.

Sharding (:meth:`Ranks.share`): every rank draws the same global batch (same seed, same permutation:
the batches one process would draw) and takes a contiguous part of it, the parts' sizes differing by
at most one, lower ranks first. In full-batch mode the part is a contiguous range of the training set;
evaluation splits the test (or training) split the same way. A part may be empty (a last, partial
batch smaller than the number of ranks): that rank adds zeros.

The reduction (:meth:`Ranks.sum`), deterministic by construction. MPI's ``Allreduce`` with ``SUM``
may add the ranks' buffers in any order (the predefined operations are taken as associative and
commutative; MPI-4.1 section 6.9.1 only recommends reproducible results) and need not give every
rank the same bits. Here the buffer of m values is cut into P segments;
``Alltoall`` hands segment j of every rank to rank j, which adds the P pieces in rank order 0..P-1;
``Allgather`` then copies each summed segment to every rank. Every value is therefore the same
left-to-right sum (((b_0 + b_1) + b_2) + ...) on every rank, in every run, whatever MPI's
algorithms. The cost is that of a bandwidth-optimal all-reduce: each rank sends and receives
2 (P - 1)/P m values (reduce-scatter then all-gather, the pattern of Thakur, Rabenseifner and Gropp,
"Optimization of collective communication operations in MPICH", IJHPCA 19(1), 2005), in two
collectives whose latency grows like P (pairwise exchange) rather than log P, and (P - 1) m/P
additions per rank. The buffer is padded with at most P - 1 zeros.

Agreement (:meth:`Ranks.any`): a decision taken from something that differs between ranks (each
rank's own clock for a time budget, a signal that reached one rank) is turned into one decision for
all by a logical OR across the ranks, so that they stop at the same iteration.

Failure: a rank that raises would leave the others waiting in a collective forever. Building a
:class:`Ranks` therefore installs a ``sys.excepthook`` (once per process) that prints the traceback
with the rank and calls ``MPI.COMM_WORLD.Abort(1)`` (through :func:`abort_job`): MPI then ends every
process of the job and ``mpiexec`` exits non-zero. ``python -m mpi4py script.py`` gives the same
guarantee for code that runs before a model exists. An exception caught by the program is not seen
by the hook.

Only NumPy arrays travel (the buffers are host memory); other backends are refused.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
import sys
import termios
import time
import traceback
from typing import Any

import numpy
from minidnn.datasets import Dataset

ROOT = 0
REPORT_WAIT_S = 5.0
"""The longest :func:`abort_job` waits for the launcher to read a report before it aborts anyway."""
INSTALL_HINT = "pip install 'minidnn[mpi]' (mpi4py and MPICH)"


def mpi_module(owner: str) -> Any:
    """``mpi4py.MPI``, imported on demand; an ImportError naming the extra when it is missing."""
    try:
        from mpi4py import MPI
    except ImportError as err:
        raise ImportError(f"{owner}: comm needs mpi4py: {INSTALL_HINT} ({err})") from None
    return MPI


class Ranks:
    """One communicator's ranks: the shares of a sample count, the fixed-order sum, a broadcast."""

    def __init__(self, comm: Any, owner: str):
        mpi = mpi_module(owner)
        if not isinstance(comm, mpi.Intracomm):
            raise TypeError(
                f"{owner}: comm must be an mpi4py intracommunicator such as MPI.COMM_WORLD, "
                f"got {type(comm).__name__}"
            )
        if comm == mpi.COMM_NULL or mpi.Is_finalized():
            raise ValueError(f"{owner}: comm is not usable (MPI.COMM_NULL, or MPI already finalized)")
        self.comm = comm
        self.owner = owner
        self.mpi = mpi
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        abort_on_uncaught_exception(mpi.COMM_WORLD, self.rank, self.size)

    def share(self, count: int) -> tuple[int, int]:
        """[start, stop) of this rank's part of ``count`` items: contiguous, sizes differing by <= 1."""
        base, extra = divmod(count, self.size)
        start = self.rank * base + min(self.rank, extra)
        return start, start + base + (self.rank < extra)

    def noise_step(self, step: int) -> int:
        """A dropout step of this rank: distinct across ranks, ``step`` itself on one rank."""
        return step * self.size + self.rank

    def require_samples(self, count: int, what: str) -> None:
        """A ValueError unless every rank gets at least one of ``count`` samples."""
        if count < self.size:
            raise ValueError(
                f"{self.owner}: {self.size} ranks but {what} is {count}: every rank needs at least one "
                f"sample; use at most {count} ranks or more samples"
            )

    def sum(self, local: numpy.ndarray) -> numpy.ndarray:
        """sum_r local_r over the ranks, added in rank order, the same bits on every rank."""
        if self.size == 1:
            return local
        segment = -(-local.size // self.size)
        pieces = numpy.zeros((self.size, segment), local.dtype)
        pieces.reshape(-1)[: local.size] = local
        received = numpy.empty_like(pieces)
        self.comm.Alltoall(pieces, received)
        mine = received[0].copy()
        for r in range(1, self.size):
            mine += received[r]
        self.comm.Allgather(mine, pieces)
        return pieces.reshape(-1)[: local.size]

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is True on at least one: a logical OR, one ``Allreduce``
        of one integer with ``MAX`` (exact in any order, so MPI's own reduction serves here)."""
        if self.size == 1:
            return bool(flag)
        verdict = numpy.zeros(1, numpy.int32)
        self.comm.Allreduce(numpy.array([int(bool(flag))], numpy.int32), verdict, op=self.mpi.MAX)
        return bool(verdict[0])

    def broadcast(self, vector: numpy.ndarray) -> numpy.ndarray:
        """Rank 0's ``vector`` on every rank (a new array; shapes and dtypes must agree)."""
        out = numpy.array(vector, copy=True)
        self.comm.Bcast(out, root=ROOT)
        return out

    def require_same(self, settings: dict[str, Any]) -> None:
        """A ValueError on every rank, naming the first rank and the settings that differ from rank 0's."""
        everyone = self.comm.allgather(settings)
        reference = everyone[ROOT]
        for rank, theirs in enumerate(everyone):
            differing = [key for key in reference if theirs.get(key) != reference[key]]
            if differing:
                details = "; ".join(
                    f"{key}: {theirs.get(key)!r} on rank {rank}, {reference[key]!r} on rank {ROOT}"
                    for key in differing
                )
                raise ValueError(
                    f"{self.owner}: rank {rank} was started with other settings than rank {ROOT} "
                    f"({details}); every rank must build the same model"
                )


def fingerprint(data: Dataset | None) -> str | None:
    """A SHA-256 of a data set's arrays (shapes, dtypes, values): equal data, equal fingerprint.

    About 0.5 s for MNIST's training set (188 MB of float32) on this machine, once per model.
    """
    if data is None:
        return None
    digest = hashlib.sha256()
    for array in (data.x, data.y):
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(memoryview(numpy.ascontiguousarray(array)).cast("B"))
    return digest.hexdigest()


def abort_on_uncaught_exception(world: Any, rank: int, size: int) -> None:
    """Makes an uncaught exception on this rank end every rank (see the module docstring)."""
    if getattr(sys.excepthook, "aborts_mpi_job", False):
        return

    def hook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        report = "".join(traceback.format_exception(kind, value, tb))
        sys.stdout.flush()
        abort_job(
            world, f"rank {rank} of {size}: uncaught exception, aborting every rank of the job\n{report}", 1
        )

    hook.aborts_mpi_job = True  # type: ignore[attr-defined]
    sys.excepthook = hook


def abort_job(world: Any, report: str, code: int) -> None:
    """Writes ``report`` to standard error in one write, waits until the launcher has read it, and
    ends every rank of the job with exit code ``code`` (``world.Abort``).

    MPICH's Hydra reads a rank's standard error from a pipe on its own schedule; an Abort while the
    report still sat in the pipe ended the job without it (seen under load). Hydra forwards what it
    read before it handles the Abort, so waiting for the pipe to empty is enough.
    """
    stream = sys.__stderr__
    stream.write(report)
    stream.flush()
    wait_until_read(stream.fileno(), REPORT_WAIT_S)
    world.Abort(code)


def wait_until_read(fd: int, limit_s: float) -> None:
    """Returns when the pipe ``fd`` writes to holds no unread bytes (``FIONREAD``), or after
    ``limit_s`` seconds; at once when ``fd`` is not a pipe (a terminal, a file)."""
    if not stat.S_ISFIFO(os.fstat(fd).st_mode):
        return
    unread = bytearray(4)
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        fcntl.ioctl(fd, termios.FIONREAD, unread)
        if int.from_bytes(unread, sys.byteorder) == 0:
            return
        time.sleep(0.01)
