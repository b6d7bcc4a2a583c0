"""Classic unconstrained test problems with exact gradients and Hessian-vector products.

Every factory takes ``backend=`` ("numpy", "cupy", "array-api-strict") and ``dtype=`` ("float64", the
default, or "float32") and returns an NLPModel with the problem's standard starting point as
``meta.x0``, its known optimal value as ``f_star`` and a known minimizer as ``x_star`` (where known).

``CLASSIC`` maps a name to a factory callable as ``CLASSIC[name](backend=..., dtype=...)`` with the
problem's default size, so solver tests can loop over all of them. Logistic regression needs a data
set and is not in it.
"""

from __future__ import annotations

from collections.abc import Callable

from minidnn.nlpmodels.problems.base import ClassicProblem
from minidnn.nlpmodels.problems.least_squares import LeastSquaresProblem
from minidnn.nlpmodels.problems.logistic import LogisticRegression, logistic_regression
from minidnn.nlpmodels.problems.mgh import (
    Beale,
    BrownBadlyScaled,
    FreudensteinRoth,
    HelicalValley,
    Woods,
    beale,
    brown_badly_scaled,
    freudenstein_roth,
    helical_valley,
    woods,
)
from minidnn.nlpmodels.problems.powell import ExtendedPowell, extended_powell, powell_singular
from minidnn.nlpmodels.problems.quadratic import Quadratic, quadratic
from minidnn.nlpmodels.problems.rosenbrock import (
    ChainedRosenbrock,
    ExtendedRosenbrock,
    extended_rosenbrock,
    rosenbrock,
)

CLASSIC: dict[str, Callable[..., ClassicProblem]] = {
    "rosenbrock": rosenbrock,
    "extended_rosenbrock": extended_rosenbrock,
    "freudenstein_roth": freudenstein_roth,
    "brown_badly_scaled": brown_badly_scaled,
    "beale": beale,
    "helical_valley": helical_valley,
    "powell_singular": powell_singular,
    "woods": woods,
    "extended_powell": extended_powell,
    "quadratic": quadratic,
}

__all__ = [
    "CLASSIC",
    "Beale",
    "BrownBadlyScaled",
    "ChainedRosenbrock",
    "ClassicProblem",
    "ExtendedPowell",
    "ExtendedRosenbrock",
    "FreudensteinRoth",
    "HelicalValley",
    "LeastSquaresProblem",
    "LogisticRegression",
    "Quadratic",
    "Woods",
    "beale",
    "brown_badly_scaled",
    "extended_powell",
    "extended_rosenbrock",
    "freudenstein_roth",
    "helical_valley",
    "logistic_regression",
    "powell_singular",
    "quadratic",
    "rosenbrock",
    "woods",
]
