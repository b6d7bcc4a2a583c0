"""What the evaluations of a NeuralNetModel run under: the network's workspace and the model's threads.

The workspace (:mod:`minidnn.workspace`) makes the large temporaries of the forward, backward and
tangent passes of f, its gradient and its Hessian-vector products come from buffers kept between
calls: after the first call for a batch size, a call maps no new memory. Evaluations over a whole
split (``evaluate``, ``accuracy``) run once in a while on larger chunks and keep nothing.

The thread count (``NeuralNetModel(..., threads=n)``) holds every BLAS and OpenMP library to n
threads during each of these calls and restores the previous counts after it
(:mod:`minidnn.thread_limits`).

A model that splits its batch (``NeuralNetModel(..., batch_split=...)``) evaluates the parts of a
chunk at once through :class:`PartThreads`: part 0 on the calling thread, in the network's workspace,
part k >= 1 on a pool thread in a workspace of its own, each in the caller's grad mode, with every
BLAS held to one thread meanwhile (NumPy releases the interpreter lock inside BLAS calls and large
elementwise loops, so the parts' numerical work overlaps).
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Sequence
from concurrent import futures
from typing import Any, TypeVar

from minidnn.mode import is_grad_enabled, set_grad_enabled
from minidnn.thread_limits import threads
from minidnn.workspace import Workspace

Result = TypeVar("Result")


def in_evaluation_settings(method: Callable[..., Any]) -> Callable[..., Any]:
    """The method, run inside ``model.network.workspace`` and ``threads(model.threads)``."""

    @functools.wraps(method)
    def run(model: Any, *args: Any, **kwargs: Any) -> Any:
        if model.threads is None:
            with model.network.workspace:
                return method(model, *args, **kwargs)
        with model.network.workspace, threads(model.threads):
            return method(model, *args, **kwargs)

    return run


def in_model_threads(method: Callable[..., Any]) -> Callable[..., Any]:
    """The method, run inside ``threads(model.threads)``."""

    @functools.wraps(method)
    def run(model: Any, *args: Any, **kwargs: Any) -> Any:
        with threads(model.threads):
            return method(model, *args, **kwargs)

    return run


class PartThreads:
    """Runs the parts of a chunk at once, one thread each (see the module docstring).

    The pool of threads is made at the first run that needs it and kept; it is shut down when this
    object, which lives and dies with its model, is garbage-collected. Part k >= 1 always runs in
    ``workspaces[k - 1]``, whatever pool thread takes it: a graph kept from one run (the
    Gauss-Newton linearisation) holds buffers of that part's workspace only.
    """

    def __init__(self, backend: Any):
        self.backend = backend
        self.workspaces: list[Workspace] = []
        self._pool: futures.ThreadPoolExecutor | None = None
        self._workers = 0
        self._shutdown: weakref.finalize | None = None

    def run(self, calls: Sequence[Callable[[], Result]]) -> list[Result]:
        """[call() for call in calls], the calls made at once, the BLAS held to one thread.

        Every call has ended when this returns or raises; an exception from a call is raised again
        as it was (the first in part order).
        """
        pool = self._pool_of(len(calls) - 1)
        mode = is_grad_enabled()
        with threads(1):
            pending = [
                pool.submit(_in_part, workspace, mode, call)
                for workspace, call in zip(self.workspaces, calls[1:])
            ]
            try:
                first = calls[0]()
            finally:
                futures.wait(pending)
        return [first, *(part.result() for part in pending)]

    def _pool_of(self, workers: int) -> futures.ThreadPoolExecutor:
        """The pool, with at least ``workers`` threads and as many workspaces."""
        while len(self.workspaces) < workers:
            self.workspaces.append(Workspace(self.backend))
        if self._pool is None or self._workers < workers:
            if self._shutdown is not None:
                self._shutdown()
            self._pool = futures.ThreadPoolExecutor(workers, thread_name_prefix="minidnn-part")
            self._workers = workers
            self._shutdown = weakref.finalize(self, self._pool.shutdown, wait=False)
        return self._pool


def _in_part(workspace: Workspace, grad_mode: bool, call: Callable[[], Result]) -> Result:
    """call() on a pool thread, in ``workspace`` and the caller's grad mode."""
    with workspace, set_grad_enabled(grad_mode):
        return call()
