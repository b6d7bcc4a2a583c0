"""Probes the tests use to watch a computation: forward passes counted, Gauss-Newton products
checked against a twin's fresh ones, minor page faults per call after warm-up, traced memory growth
over repeated calls, and the curvature pairs an inverse L-BFGS memory is offered."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy
from minidnn.nlpmodels import InverseLBFGSOperator


def forward_passes(monkeypatch: Any, nlp: Any) -> list[int]:
    """A list that grows by one at each call of the model's network, on whatever thread."""
    calls: list[int] = []
    network_type = type(nlp.network)
    forward = network_type.__call__

    def counted(self, *args, **kwargs):
        calls.append(1)
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(network_type, "__call__", counted)
    return calls


def fresh_product_check(nlp: Any, twin: Any, x: Any, calls: list[int]) -> Callable[..., None]:
    """``same_as_fresh(w, **options)``: asserts that ``nlp.ghprod(x, w, **options)`` equals, bit for
    bit, the product of ``twin`` (an identical model) with no kept linearisation, and leaves in
    ``calls`` (from :func:`forward_passes`) only the forward passes of ``nlp``'s product."""

    def same_as_fresh(w: Any, **options: Any) -> None:
        expected = (twin.obj(x), twin.ghprod(x, w, **options))[1]  # obj drops the twin's linearisation
        calls.clear()
        numpy.testing.assert_array_equal(nlp.ghprod(x, w, **options), expected)

    return same_as_fresh


def minor_faults() -> int:
    """Minor page faults of this process so far (Linux)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def faults_per_call(call: Callable[[], Any], warmup: int = 2, repeat: int = 3) -> float:
    """Minor page faults per call of ``call`` over ``repeat`` calls, after ``warmup`` calls."""
    for _ in range(warmup):
        call()
    before = minor_faults()
    for _ in range(repeat):
        call()
    return (minor_faults() - before) / repeat


def steady_state_growth(calls: tuple[Callable[[], Any], ...], rounds: int = 2) -> int:
    """Bytes (tracemalloc) that ``rounds`` rounds of ``calls`` leave allocated, counted from a
    snapshot taken after one warm-up round and ``rounds`` rounds more."""
    for call in calls:
        call()
    tracemalloc.start()
    try:
        for call in calls * rounds:
            call()
        before = tracemalloc.take_snapshot()
        for call in calls * rounds:
            call()
        grown = tracemalloc.take_snapshot().compare_to(before, "filename")
    finally:
        tracemalloc.stop()
    return sum(stat.size_diff for stat in grown)


def offered_pairs(monkeypatch: Any) -> list[tuple[Any, Any]]:
    """A list that receives a copy of every pair (s, y) pushed to an ``InverseLBFGSOperator``."""
    offered: list[tuple[Any, Any]] = []
    push = InverseLBFGSOperator.push

    def recording(self, s, y, **options):
        offered.append((s.copy(), y.copy()))
        return push(self, s, y, **options)

    monkeypatch.setattr(InverseLBFGSOperator, "push", recording)
    return offered
