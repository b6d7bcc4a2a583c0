"""Hutchinson's estimator of the trace of the Hessian, with Rademacher probes.

For z with independent +-1 entries, E[z^T H z] = tr(H) (Hutchinson 1990, "A stochastic estimator of
the trace of the influence matrix for Laplacian smoothing splines"); among probes with independent
entries, Rademacher ones give the least variance, 2 (||H||_F^2 - sum_i H_ii^2) per probe. With m
probes the estimate is the mean of the m quadratic forms and its standard error their sample
standard deviation over sqrt(m). The forms stay on the device and cross to the host once, together.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy
from minidnn.nlpmodels.curvature.hessian import HessianAt, count

PROBES = 100  # PyHessian's hessian.trace(maxIter=100)


class TraceEstimate(NamedTuple):
    """tr(H) estimated from ``probes`` quadratic forms, with its standard error (nan for one probe)."""

    estimate: float
    stderr: float
    probes: int


def trace(nlp: Any, x: Any, *, probes: int = PROBES, seed: int = 0) -> TraceEstimate:
    """Hutchinson's estimate of the trace of the Hessian of ``nlp`` at ``x`` (see the module doc)."""
    hessian = HessianAt(nlp, x, "trace")
    probes = count("trace", "probes", probes)
    rng = hessian.rng(seed)
    forms = hessian.backend.zeros((probes,), dtype=hessian.dtype)
    for i in range(probes):
        z = hessian.rademacher(rng)
        forms[i] = hessian.xp.sum(z * hessian.product(z))
    values = numpy.asarray(hessian.backend.to_host(forms), dtype=numpy.float64)
    stderr = float(numpy.std(values, ddof=1)) / math.sqrt(probes) if probes > 1 else math.nan
    return TraceEstimate(float(numpy.mean(values)), stderr, probes)
