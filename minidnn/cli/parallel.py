"""The processes of one command: a single one, or the ranks of an MPI job (``mpiexec -n N minidnn
train ...``), and the few collective steps that keep the ranks in step.

Detection: an MPI launcher tells each process it starts how many there are, in its environment
(:data:`LAUNCHERS`: ``PMI_SIZE`` from MPICH's, Intel MPI's and MVAPICH's mpiexec and from Slurm's
PMI-2; ``OMPI_COMM_WORLD_SIZE`` from Open MPI's; ``MV2_COMM_WORLD_SIZE`` from MVAPICH's). When one
says more than 1, :func:`start` imports mpi4py and the command runs data-parallel on
``MPI.COMM_WORLD``; otherwise (no launcher, or ``mpiexec -n 1``) it is one process and mpi4py is
never imported. A launcher that says N > 1 with mpi4py missing, or an MPI that started this
process alone (mpi4py built against another MPI than the launcher's), is an error (exit 2).

Roles: every rank must run the same command line (checked first). Rank 0 is the root. It alone reads
the checkpoint to resume, claims the output folder, prints and writes files; what it decided reaches
the other ranks by broadcast (:meth:`Job.on_root`). Every rank loads the data itself
(:meth:`Job.on_every_rank`). An error of the user's kind (:class:`~minidnn.cli.errors.CommandError`:
a missing file, a bad option, an unwritable folder) in one of these steps is raised on every rank,
so that every rank leaves together with the same exit code and the root prints the message (naming
the rank it came from). Any other exception on any rank aborts the whole job (``MPI_Abort``, through
the hook of :mod:`minidnn.nlpmodels.distributed`): every rank ends at once, non-zero, with the
traceback prefixed by the rank, never a hang.

Interrupts: MPICH's mpiexec passes the first Ctrl-C to every rank as SIGINT (a second one makes it
kill the job); a scheduler's SIGTERM may reach all the ranks or one. A rank that stopped where the
signal found it would leave the others waiting in a reduction, so in a job a signal only records a
request (:class:`~minidnn.cli.interrupts.Requests`), and the ranks agree after each iteration whether
any rank has one (:meth:`Job.stop_agreed`: one all-reduce of one integer); then they all stop at the
same iteration, between two iterations, and the root saves a run that resumes exactly. A second
signal on a rank aborts the job at once.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from minidnn.cli import interrupts
from minidnn.cli.errors import INTERRUPTED, USAGE, CommandError

LAUNCHERS = (
    ("PMI_SIZE", "PMI_RANK"),
    ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"),
    ("MV2_COMM_WORLD_SIZE", "MV2_COMM_WORLD_RANK"),
)
"""The environment variables (size, rank) an MPI launcher sets, in the order they are read."""

INSTALL_HINT = "pip install 'minidnn[mpi]' (mpi4py and MPICH, whose mpiexec is then beside python)"

T = TypeVar("T")


def launched() -> tuple[int, int, str | None]:
    """(rank, size, the variable that said so) from a launcher's environment; (0, 1, None) without one."""
    for size_name, rank_name in LAUNCHERS:
        size = os.environ.get(size_name)
        if size is not None:
            try:
                return int(os.environ.get(rank_name, "0")), int(size), size_name
            except ValueError:
                raise CommandError(
                    f"the MPI launcher's {size_name}={size!r} or {rank_name} is not an integer"
                ) from None
    return 0, 1, None


class Job:
    """A command on one process: every step runs here, nothing is exchanged."""

    rank = 0
    size = 1
    comm: Any = None

    @property
    def root(self) -> bool:
        """True on the rank that prints and writes files (rank 0)."""
        return self.rank == 0

    def on_root(self, work: Callable[[], T]) -> T:
        """``work()`` run on the root, its result (or its CommandError) on every rank."""
        return work()

    def on_every_rank(self, work: Callable[[], T]) -> T:
        """``work()`` run on every rank; a CommandError on any rank is raised on all of them."""
        return work()

    def require_same_command(self, argv: list[str]) -> None:
        """A CommandError on every rank unless every rank runs the command line ``argv`` of rank 0."""

    def stop_agreed(self, nlp: Any) -> bool:
        """Whether a rank was asked to stop (always False here: a signal interrupts at once)."""
        return False

    @contextlib.contextmanager
    def signals(self) -> Iterator[None]:
        """SIGTERM read as Ctrl-C for the ``with`` block (:mod:`.interrupts`)."""
        with interrupts.terminate_as_interrupt():
            yield


class MpiJob(Job):
    """A command on the ``size`` ranks of ``MPI.COMM_WORLD`` (see the module docstring)."""

    def __init__(self, mpi: Any):
        from minidnn.nlpmodels import distributed

        self.mpi = mpi
        self.comm = mpi.COMM_WORLD
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.requests: interrupts.Requests | None = None
        distributed.abort_on_uncaught_exception(self.comm, self.rank, self.size)

    def on_root(self, work: Callable[[], T]) -> T:
        outcome: tuple[bool, Any, int] | None = None
        if self.root:
            try:
                outcome = (True, work(), 0)
            except CommandError as err:
                outcome = (False, str(err), err.code)
        done, value, code = self.comm.bcast(outcome, root=0)
        if not done:
            raise CommandError(value, code)
        return value

    def on_every_rank(self, work: Callable[[], T]) -> T:
        result, failure = None, None
        try:
            result = work()
        except CommandError as err:
            failure = (str(err), err.code)
        for rank, failed in enumerate(self.comm.allgather(failure)):
            if failed is not None:
                message, code = failed
                where = "" if rank == 0 else f"on rank {rank} of {self.size}: "
                raise CommandError(where + message, code)
        return result

    def require_same_command(self, argv: list[str]) -> None:
        reference = self.comm.bcast(argv, root=0)

        def compare() -> None:
            if argv != reference:
                raise CommandError(
                    f"started as `minidnn {shlex.join(argv)}`, rank 0 as `minidnn {shlex.join(reference)}`: "
                    "every rank must run the same command"
                )

        self.on_every_rank(compare)

    def stop_agreed(self, nlp: Any) -> bool:
        """Whether any rank has a stop request (a collective: every rank asks alike)."""
        return nlp.agree_to_stop(self.requests is not None and self.requests.made)

    @contextlib.contextmanager
    def signals(self) -> Iterator[None]:
        """SIGINT and SIGTERM recorded as stop requests for the ``with`` block; a second aborts."""
        with interrupts.deferred(self.abort_on_second_signal) as self.requests:
            yield

    def abort_on_second_signal(self) -> None:
        """Ends every rank of the job now (a second Ctrl-C or SIGTERM on this rank)."""
        from minidnn.nlpmodels import distributed

        distributed.abort_job(
            self.comm,
            f"rank {self.rank} of {self.size}: minidnn: interrupted again: aborting every rank of the job\n",
            INTERRUPTED,
        )


def start() -> Job:
    """The job this process belongs to (see the module docstring); a CommandError when the launcher
    says N > 1 ranks and mpi4py is missing or did not join them."""
    _, size, variable = launched()
    if size <= 1:
        return Job()
    try:
        from mpi4py import MPI
    except ImportError as err:
        raise CommandError(
            f"started as one of {size} MPI processes ({variable}={size}), and data parallelism needs "
            f"mpi4py: {INSTALL_HINT} ({err})",
            USAGE,
        ) from None
    joined = MPI.COMM_WORLD.Get_size()
    if joined != size:
        library = " ".join(MPI.Get_library_version().splitlines()[0].split())
        raise CommandError(
            f"started as one of {size} MPI processes ({variable}={size}), but MPI joined {joined}: "
            f"mpi4py is built against another MPI than this mpiexec; launch with the mpiexec of "
            f"mpi4py's MPI ({library})",
            USAGE,
        )
    return MpiJob(MPI)
