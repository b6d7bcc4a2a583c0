"""solvers: smooth optimization solvers on the NLPModel contract.

Stochastic family (one step per minibatch, Knet.jl's rules and defaults): ``sgd``, ``momentum``,
``nesterov``, ``adagrad``, ``rmsprop``, ``adam``. Deterministic family (JSOSolvers.jl's methods and
constants): ``r2`` (quadratic regularisation), ``lbfgs`` (line search), ``trunk`` (trust region with
Steihaug-Toint CG on ``hprod``), ``lsr1`` (trunk on an L-SR1 model). ``minimize(nlp, method,
**options)`` dispatches by name. Every solver returns an :class:`ExecutionStats`.

Common options (see :mod:`solvers.options`): ``atol``, ``rtol``, ``max_eval``, ``max_iter``,
``max_time``, ``max_epochs``, ``callback``, ``verbose``, ``eval_every``, and ``resample`` for the
deterministic family.
"""

from solvers.adagrad import adagrad
from solvers.adam import adam
from solvers.history import History
from solvers.lbfgs import lbfgs
from solvers.lsr1 import lsr1
from solvers.minimize import METHODS, minimize
from solvers.momentum import momentum
from solvers.nesterov import nesterov
from solvers.r2 import r2
from solvers.rmsprop import rmsprop
from solvers.sgd import sgd
from solvers.stats import STATUSES, ExecutionStats
from solvers.trunk import trunk

__all__ = ["METHODS", "STATUSES", "ExecutionStats", "History", "minimize"]
__all__ += ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "r2", "lbfgs", "trunk", "lsr1"]
