"""solvers: smooth optimization solvers on the NLPModel contract.

Stochastic family (one step per minibatch): ``sgd``, ``momentum``, ``nesterov``, ``adagrad``,
``rmsprop``, ``adam`` (Knet.jl's rules and defaults) and ``multibatch_lbfgs`` (L-BFGS with curvature
pairs from overlapping samples). Deterministic family (JSOSolvers.jl's methods and
constants): ``r2`` (quadratic regularisation), ``lbfgs`` (line search), ``trunk`` (trust region with
Steihaug-Toint CG on ``hprod``), ``lsr1`` (trunk on an L-SR1 model), ``hessian_free`` (Martens' Hessian-free
Newton-CG on sub-sampled Gauss-Newton or Hessian products). ``minimize(nlp, method,
**options)`` dispatches by name. Every solver returns an :class:`ExecutionStats`.

Each solver's own parameters are declared once, with default, valid values and source, in its
parameter record (``METHODS[name].parameters``, e.g. :class:`~minidnn.solvers.adam.AdamParameters`;
see :mod:`minidnn.solvers.parameters`). The options every solver takes are those of
:class:`Budget`: ``atol``, ``rtol``, ``max_eval``, ``max_iter``, ``max_time``, ``max_epochs``,
``callback``, ``verbose``, ``eval_every``, and ``resample`` for the deterministic family.

Reading order: a solver's module, then :mod:`.core` (Budget, the minibatch view, the Solver base),
:mod:`.driver` (the loop), :mod:`.stats` (the result), :mod:`.parameters` (the declarations).
"""

from minidnn.solvers.adagrad import adagrad
from minidnn.solvers.adam import adam
from minidnn.solvers.core import Budget, StateError
from minidnn.solvers.hessian_free import hessian_free
from minidnn.solvers.lbfgs import lbfgs
from minidnn.solvers.lsr1 import lsr1
from minidnn.solvers.minimize import DETERMINISTIC, METHODS, STOCHASTIC, minimize
from minidnn.solvers.momentum import momentum
from minidnn.solvers.multibatch_lbfgs import multibatch_lbfgs
from minidnn.solvers.nesterov import nesterov
from minidnn.solvers.r2 import r2
from minidnn.solvers.rmsprop import rmsprop
from minidnn.solvers.sgd import sgd
from minidnn.solvers.stats import STATUSES, ExecutionStats, History, reported_point
from minidnn.solvers.trunk import trunk

__all__ = [
    "Budget",
    "DETERMINISTIC",
    "METHODS",
    "STATUSES",
    "STOCHASTIC",
    "ExecutionStats",
    "History",
    "StateError",
    "minimize",
    "reported_point",
]
__all__ += [
    "sgd",
    "momentum",
    "nesterov",
    "adagrad",
    "rmsprop",
    "adam",
    "r2",
    "lbfgs",
    "trunk",
    "lsr1",
    "multibatch_lbfgs",
    "hessian_free",
]
