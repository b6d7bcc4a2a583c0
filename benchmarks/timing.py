"""Timing helpers shared by the benchmark scripts: best-of-repeats wall time per call."""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable

import numpy

from minidnn.backend import retain_freed_host_memory


def best_time(fn: Callable[[], object], number: int = 20, repeat: int = 7, warmup: int = 3) -> float:
    """The best, over ``repeat`` rounds, of the mean time of ``number`` calls (seconds per call)."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def machine() -> str:
    """One line describing where a figure was measured."""
    return (
        f"python {platform.python_version()}, numpy {numpy.__version__}, {platform.machine()}, "
        f"{os.cpu_count()} cores, {platform.processor() or platform.system()}"
    )


def torch_or_none(threads: int = 2):
    """PyTorch when importable (never a dependency of the project), set to ``threads`` threads."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


def configure_allocator(argv: list[str] | None = None) -> str:
    """Keeps freed host memory for reuse (``minidnn.backend.retain_freed_host_memory``) unless the
    command line says ``--default-allocator``; returns a line saying which allocator the run used.
    The setting is process-wide, so PyTorch, timed in the same process, runs under it too.
    """
    argv = sys.argv[1:] if argv is None else argv
    if "--default-allocator" in argv:
        return "allocator: glibc defaults (--default-allocator)"
    if retain_freed_host_memory():
        return "allocator: freed host memory retained (minidnn.backend.retain_freed_host_memory)"
    return "allocator: defaults (not glibc)"
