"""The spectral density of the Hessian by stochastic Lanczos quadrature (SLQ).

The density phi(t) = (1/n) sum_i delta(t - lambda_i) is estimated as in Ghorbani, Krishnan & Xiao
2019 ("An investigation into neural net optimization via Hessian eigenvalue density") and Yao et al.
2020 (PyHessian), after Lin, Saad & Yang 2016 ("Approximating spectral densities of large matrices"):

- for each probe, a Rademacher vector v scaled to unit norm: E[v^T f(H) v] = (1/n) tr f(H);
- m Lanczos steps from v give T_m = S diag(theta) S^T; Gauss quadrature gives
  v^T f(H) v ~ sum_k tau_k f(theta_k) with weights tau_k = S[0, k]^2 (summing to 1), exact for
  polynomials f of degree < 2m (Golub & Meurant, Matrices, Moments and Quadrature, 2010);
- the nodes are broadened by a Gaussian of variance sigma^2 and the probes averaged:
  phi(t) ~ (1/probes) sum_probes sum_k tau_k N(t; theta_k, sigma^2).

Each Gaussian integrates to 1, so phi does: the grid reaches 6 sigma beyond the extreme nodes (all
but 1e-9 of each Gaussian's mass), each value is phi's mean over its grid cell, so that
sum(density) * spacing = 1 at any resolution (point values would miss peaks narrower than the
spacing), and nothing is renormalised.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy
from minidnn.nlpmodels.curvature.hessian import HessianAt, count, positive
from minidnn.nlpmodels.curvature.lanczos import Lanczos
from scipy import special

STEPS = 100  # PyHessian's hessian.density(iter=100)
PROBES = 1  # PyHessian's hessian.density(n_v=1)
GRID = 10_000  # PyHessian's density_generate(num_bins=10000)
VARIANCE = 1e-5  # PyHessian's density_generate(sigma_squared=1e-5), times max(1, spectral range)
REACH = 6.0  # the grid extends 6 sigma beyond the extreme nodes: all but 1e-9 of each Gaussian


class SpectralDensity(NamedTuple):
    """phi on ``grid`` (float64 NumPy arrays), with the quadrature behind it: per probe, the nodes
    theta_k (ascending) and weights tau_k, fewer than ``steps`` when the Krylov space became
    invariant earlier (the quadrature is then exact)."""

    grid: numpy.ndarray
    density: numpy.ndarray
    nodes: tuple[numpy.ndarray, ...]
    weights: tuple[numpy.ndarray, ...]
    sigma: float


def density(
    nlp: Any,
    x: Any,
    *,
    steps: int = STEPS,
    probes: int = PROBES,
    sigma: float | None = None,
    grid_size: int = GRID,
    seed: int = 0,
) -> SpectralDensity:
    """The spectral density of the Hessian of ``nlp`` at ``x`` (see the module docstring).

    ``steps`` Lanczos steps per probe (at most n); ``sigma`` the Gaussian's standard deviation,
    default sqrt(1e-5 max(1, range of the nodes)) as PyHessian; ``grid_size`` points of the grid.
    """
    hessian = HessianAt(nlp, x, "density")
    steps = min(count("density", "steps", steps), hessian.n)
    probes = count("density", "probes", probes)
    grid_size = count("density", "grid_size", grid_size, minimum=2)
    if sigma is not None:
        sigma = positive("density", "sigma", sigma)
    rng = hessian.rng(seed)
    nodes, weights = [], []
    for _ in range(probes):
        lanczos = Lanczos(hessian, hessian.rademacher(rng), steps, rng)
        theta, s = lanczos.run(steps, restart=False).ritz()
        nodes.append(theta)
        weights.append(s[0] ** 2)
    low, high = min(float(t[0]) for t in nodes), max(float(t[-1]) for t in nodes)
    width = math.sqrt(VARIANCE * max(1.0, high - low)) if sigma is None else sigma
    grid = numpy.linspace(low - REACH * width, high + REACH * width, grid_size)
    return SpectralDensity(grid, _broadened(grid, nodes, weights, width), tuple(nodes), tuple(weights), width)


def _broadened(
    grid: numpy.ndarray, nodes: list[numpy.ndarray], weights: list[numpy.ndarray], sigma: float
) -> numpy.ndarray:
    """(1/probes) sum over probes and nodes of tau_k N(t; theta_k, sigma^2), averaged over each cell.

    The value at grid point t_i is the mean over [t_i - h/2, t_i + h/2] (h the spacing), from the
    normal CDF at the cell edges, so the masses are exact at any resolution.
    """
    h = grid[1] - grid[0]
    edges = numpy.concatenate([grid - h / 2, grid[-1:] + h / 2])[:, None]
    total = numpy.zeros_like(grid)
    for theta, tau in zip(nodes, weights):
        cdf = 0.5 * (1.0 + special.erf((edges - theta[None, :]) / (sigma * math.sqrt(2.0))))
        total += numpy.diff(cdf, axis=0) @ tau
    return total / (h * len(nodes))
