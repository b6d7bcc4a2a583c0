"""Thread counts of the numerical libraries: every BLAS (NumPy's and SciPy's OpenBLAS) and OpenMP.

    set_threads(n)          from now on n threads for each (None: back to the counts found first)
    with threads(n): ...    n threads inside the block; the counts before it come back after
    thread_counts()         {library file: threads} for every library controlled
    limit_scipy_blas(n)     SciPy's own BLAS alone to n threads (where SciPy ships one)

NumPy wheels and SciPy wheels each bring their own OpenBLAS, each starting a thread per core: the
first call here imports SciPy's linear algebra so that its library is loaded and controlled too
(imported later, it would come with its own full pool). Libraries loaded after a call are covered
from the next ``set_threads``. NumPy's elementwise loops, the graph and the solvers run on the
calling thread, so n bounds what a step uses; OpenMP counts matter where a loaded library uses it.

On a machine shared with other jobs, 1 thread is usually fastest: OpenBLAS threads spin while they
wait for work, and a spinning thread that loses its core stalls the whole product. On a quiet
machine, one thread per physical core. Counts are set through threadpoolctl.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_state: dict[str, Any] = {"controller": None, "startup": None}


def _controller(refresh: bool = False) -> Any:
    """threadpoolctl's controller of the loaded libraries (SciPy's BLAS loaded first), cached.

    The first one records the counts found (what ``set_threads(None)`` restores).
    """
    if refresh or _state["controller"] is None:
        importlib.import_module("scipy.linalg")
        threadpoolctl = importlib.import_module("threadpoolctl")
        _state["controller"] = threadpoolctl.ThreadpoolController()
        if _state["startup"] is None:
            _state["startup"] = _state["controller"].limit(limits=None)
    return _state["controller"]


def check_threads(name: str, n: Any) -> int | None:
    """``n`` as a thread count (an int >= 1) or None; a ValueError naming ``name`` otherwise."""
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{name} must be a positive integer or None, got {n!r}")
    return n


def set_threads(n: int | None) -> None:
    """Every BLAS and OpenMP library uses ``n`` threads from now on; ``None`` restores the counts
    they had when this module first looked (before any change made here)."""
    n = check_threads("set_threads: n", n)
    controller = _controller(refresh=True)
    if n is None:
        _state["startup"].restore_original_limits()
    else:
        controller.limit(limits=n)


@contextmanager
def threads(n: int | None) -> Iterator[None]:
    """``with threads(n):`` runs the block with ``n`` threads per library (``None``: unchanged)."""
    n = check_threads("threads: n", n)
    if n is None:
        yield
        return
    limiter = _controller().limit(limits=n)
    try:
        yield
    finally:
        limiter.restore_original_limits()


def thread_counts() -> dict[str, int]:
    """{library file: thread count} for every BLAS and OpenMP library controlled, read afresh."""
    return {info["filepath"]: info["num_threads"] for info in _controller(refresh=True).info()}


def limit_scipy_blas(n: int = 1) -> None:
    """SciPy's own BLAS library uses ``n`` threads from now on; NumPy's keeps its count.

    Only a BLAS that SciPy ships in its own folder (``scipy/`` or the wheel's ``scipy.libs/``)
    and NumPy does not use is changed; where both share one library (a conda install) nothing is.
    ``set_threads`` sets it again with the others.
    """
    n = check_threads("limit_scipy_blas: n", n)
    controller = _controller()
    scipy_dirs, numpy_dirs = _package_dirs("scipy"), _package_dirs("numpy")
    for lib in controller.lib_controllers:
        path = lib.filepath
        if lib.user_api == "blas" and _inside(path, scipy_dirs) and not _inside(path, numpy_dirs):
            controller.select(filepath=path).limit(limits=n)


def _package_dirs(name: str) -> tuple[str, str]:
    """The folder of an installed package and the folder its wheel's bundled libraries go to."""
    folder = os.path.dirname(importlib.import_module(name).__file__)
    return folder, folder + ".libs"


def _inside(path: str, folders: tuple[str, ...]) -> bool:
    return any(path.startswith(folder + os.sep) for folder in folders)
