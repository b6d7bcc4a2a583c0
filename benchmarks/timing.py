"""Helpers shared by the benchmark scripts: interleaved timing, the machine, the command line, JSON.

Timing: the cases of a comparison run in turn, round after round (A B A B ...), each round timing a
few calls of every case; a case's figure is the median over the rounds of its seconds per call,
and the load average is recorded at every round, so a figure taken on a busy machine says so. On a
shared machine, figures are samples: compare sides measured in the same run, never across runs.

Counters that do not depend on the load come with the times where they apply: minor page faults
per call (``resource``, Linux and macOS) and, in ``memory.py``, peak resident memory.

Every script takes ``--json PATH`` (the result dict written as JSON), ``--tiny`` (the smallest
sizes and one round: a check that the script runs, not a measurement), ``--threads N`` (BLAS
threads, also PyTorch's; 2 by default), ``--retain-freed-memory`` (glibc keeps freed memory for
reuse, process-wide, for comparison with the default allocator) and ``--no-torch``.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy
import scipy

from minidnn import backend


def parser(doc: str) -> argparse.ArgumentParser:
    """The common options (see the module docstring) under the script's one-line description."""
    p = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    p.add_argument("--json", type=Path, help="write the result dict to this file")
    p.add_argument("--tiny", action="store_true", help="smallest sizes, one round: a smoke run")
    p.add_argument("--threads", type=int, default=2, help="BLAS threads (and PyTorch's)")
    p.add_argument("--retain-freed-memory", action="store_true", help="glibc keeps freed memory")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch side")
    return p


def batch_parser(doc: str) -> argparse.ArgumentParser:
    """The common options plus ``--batch`` and ``--rounds``, for scripts timed at one batch size."""
    p = parser(doc)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--rounds", type=int, default=7)
    return p


def batch_and_rounds(args: argparse.Namespace) -> tuple[int, int]:
    """(batch, rounds): those given, or (2, 1) for a ``--tiny`` smoke run."""
    return (2, 1) if args.tiny else (args.batch, args.rounds)


def setup(args: argparse.Namespace) -> dict[str, Any]:
    """Applies the thread count and the allocator option; the settings record of the run."""
    backend.set_threads(args.threads)
    retained = retain_freed_memory() if args.retain_freed_memory else False
    return {
        "threads": args.threads,
        "allocator": "glibc, freed memory retained" if retained else "default",
        "tiny": bool(args.tiny),
    }


def finish(name: str, settings: dict[str, Any], results: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The result dict of a script (written to ``--json`` when given)."""
    out = {"benchmark": name, "machine": machine(), "settings": settings, "results": results}
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return out


PAUSE_S = 0.2
"""Pause before each timed block: OpenBLAS threads spin about 0.1 s after their last work."""


def interleaved(
    cases: dict[str, Callable[[], object]], rounds: int = 7, target: float = 0.05, warmup: int = 2
) -> dict[str, dict[str, Any]]:
    """Seconds per call of every case, timed in turn round after round (A B A B ...).

    Each case is called ``warmup`` times, then its calls per round are set so that a round lasts about
    ``target`` seconds. Every timed block follows a pause of ``PAUSE_S`` and one untimed call, so
    that the other side's idle BLAS threads have stopped spinning and this side's have woken up.
    Per case: the median and the minimum over the rounds, every round's figure, the load average
    (1 minute) at each round, and minor page faults per call.
    """
    number = {}
    for name, fn in cases.items():
        for _ in range(warmup):
            fn()
        start = time.perf_counter()
        fn()
        number[name] = max(1, int(target / max(time.perf_counter() - start, 1e-7)))
    samples: dict[str, list[float]] = {name: [] for name in cases}
    faults: dict[str, list[float]] = {name: [] for name in cases}
    loads = []
    for _ in range(rounds):
        loads.append(os.getloadavg()[0])
        for name, fn in cases.items():
            time.sleep(PAUSE_S)
            fn()
            before = minor_faults()
            start = time.perf_counter()
            for _ in range(number[name]):
                fn()
            samples[name].append((time.perf_counter() - start) / number[name])
            faults[name].append((minor_faults() - before) / number[name])
    return {
        name: {
            "median_s": statistics.median(samples[name]),
            "min_s": min(samples[name]),
            "rounds_s": samples[name],
            "calls_per_round": number[name],
            "minor_faults_per_call": statistics.median(faults[name]),
            "load": loads,
        }
        for name in cases
    }


def side_by_side(
    ours: dict[str, Callable[[], object]], theirs: dict[str, Callable[[], object]], rounds: int
) -> dict[str, dict[str, Any]]:
    """Per quantity of ``ours``: minidnn's and PyTorch's (when in ``theirs``) median seconds per call,
    all timed in turn (``interleaved``; one round and no warm-up for ``rounds=1``), minor page faults
    per call, the ratio PyTorch time / minidnn time (above 1: minidnn faster) and the loads seen."""
    cases = {("minidnn", k): f for k, f in ours.items()} | {("torch", k): f for k, f in theirs.items()}
    timed = interleaved(
        {f"{side} {k}": f for (side, k), f in cases.items()}, rounds=rounds, warmup=0 if rounds == 1 else 2
    )
    rows = {}
    for quantity in ours:
        mine, other = timed[f"minidnn {quantity}"], timed.get(f"torch {quantity}")
        rows[quantity] = {
            "minidnn_s": mine["median_s"],
            "minidnn_minor_faults_per_call": mine["minor_faults_per_call"],
            "torch_s": other["median_s"] if other else None,
            "torch_minor_faults_per_call": other["minor_faults_per_call"] if other else None,
            "ratio": other["median_s"] / mine["median_s"] if other else None,
            "load": mine["load"],
            "rounds": rounds,
        }
    return rows


def describe(label: str, row: dict[str, Any]) -> str:
    """One printed line for a ``side_by_side`` row."""
    text = f"{label:44s} minidnn {row['minidnn_s'] * 1e3:9.3f} ms"
    if row.get("minidnn_minor_faults_per_call") is not None:
        text += f" ({row['minidnn_minor_faults_per_call']:6.1f} faults/call)"
    if row.get("torch_s") is not None:
        text += f"   torch {row['torch_s'] * 1e3:9.3f} ms   ratio {row['ratio']:5.2f}x"
    return text + f"   load {min(row['load']):.1f}-{max(row['load']):.1f}"


def minor_faults() -> int:
    """Minor page faults of this process so far (0 where ``resource`` is missing)."""
    try:
        import resource
    except ImportError:
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _short(library: str) -> str:
    """A library file named by its folder and file name (``numpy.libs/libscipy_openblas64_...so``)."""
    path = Path(library)
    return f"{path.parent.name}/{path.name}"


def machine() -> dict[str, Any]:
    """Where a figure was measured: versions, cores, BLAS thread counts, the load average now."""
    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "machine": platform.machine(),
        "processor": platform.processor() or platform.system(),
        "cores": os.cpu_count(),
        "blas_threads": {_short(library): n for library, n in backend.thread_counts().items()},
        "load": list(os.getloadavg()),
    }


def torch_or_none(args: argparse.Namespace) -> Any:
    """PyTorch when importable and not refused (never a dependency of the project), set to the run's
    thread count."""
    if args.no_torch:
        return None
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(args.threads)
    return torch


# glibc's malloc.h: mallopt parameters, and the largest mmap threshold on 64-bit (HEAP_MAX_SIZE / 2).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_MAX = 32 * 2**20


def retain_freed_memory(trim_threshold: int = 2**30) -> bool:
    """Lets glibc keep freed memory for reuse (``mallopt``: mmap threshold at its maximum, trim
    threshold at ``trim_threshold``), process-wide, for comparison with the default allocator.

    False, changing nothing, where the C library is not glibc.
    """
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return False
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return False
    mallopt = libc.mallopt
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    value = min(int(trim_threshold), 2**31 - 1)
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)) and bool(mallopt(_M_TRIM_THRESHOLD, value))
