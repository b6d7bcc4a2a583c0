"""Probes the tests use to watch a computation: forward passes counted, minor page faults per call
after warm-up, and the curvature pairs an inverse L-BFGS memory is offered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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


def offered_pairs(monkeypatch: Any) -> list[tuple[Any, Any]]:
    """A list that receives a copy of every pair (s, y) pushed to an ``InverseLBFGSOperator``."""
    offered: list[tuple[Any, Any]] = []
    push = InverseLBFGSOperator.push

    def recording(self, s, y, **options):
        offered.append((s.copy(), y.copy()))
        return push(self, s, y, **options)

    monkeypatch.setattr(InverseLBFGSOperator, "push", recording)
    return offered
