"""Quasi-Newton models: any NLPModel whose Hessian is replaced by a limited-memory operator.

A quasi-Newton model wraps a model ``nlp`` and owns an operator (``operator``, a
:class:`~minidnn.nlpmodels.quasi_newton_operator.QuasiNewtonOperator` of nlp's size, dtype and backend):

- ``obj``, ``grad``, ``objgrad`` are the wrapped model's own methods: same checks, same counters
  (``self.counters is nlp.counters``) and the same ``meta`` object;
- ``hprod(x, v)`` is the operator times v (x is checked, then ignored); it counts one ``neval_hprod``
  on the shared counters, so a solver's report of Hessian products means "products with the model's
  Hessian", exact or quasi-Newton;
- ``update(s, y) -> bool`` offers the pair (s, y) = (x_{k+1} - x_k, grad_{k+1} - grad_k) to the
  operator, which applies its documented skip rule (False: skipped, nothing changed); a non-finite
  pair is skipped too (a trial point where f or its gradient overflowed);
- ``reset()`` forgets every pair; ``npairs``, ``mem`` and ``scaling`` are the operator's;
- ``learns_from`` says which steps a solver should offer to ``update``: ``"every_trial"`` (each trial
  step of a trust-region method, accepted or not: SR1, Nocedal & Wright 2006, Algorithm 6.2) or
  ``"accepted_steps"`` (only the steps taken: BFGS, whose pairs must keep s'y > 0). A model without
  this attribute has a Hessian that does not learn;
- the minibatch interface (``batch_version``, ``batch_size``, ``batches_per_epoch``, ``epoch``,
  ``next_minibatch``, ``reset_minibatch``, ``random_minibatch``, ``set_batch_size``, ``batch_state``,
  ``restore_batch_state``), ``accuracy``, ``has_accuracy``, ``agree_to_stop``,
  ``evaluate``, ``f_star`` and ``x_star`` are the wrapped model's, each listed explicitly and present
  only when the wrapped model has it, so solvers drive a wrapped neural-network model as they would
  the model itself.
"""

from __future__ import annotations

from typing import Any, ClassVar

from minidnn.nlpmodels.model import NLPModel
from minidnn.nlpmodels.quasi_newton_operator import QuasiNewtonOperator


def _forwarded(name: str) -> property:
    """The wrapped model's member ``name``, read when asked (an AttributeError when it has none)."""
    return property(lambda self: getattr(self.nlp, name), doc=f"The wrapped model's ``{name}``.")


class QuasiNewtonModel(NLPModel):
    """Base class of the quasi-Newton models (see the module docstring)."""

    operator_class: ClassVar[type[QuasiNewtonOperator]]
    learns_from: ClassVar[str]

    def __init__(self, nlp: NLPModel, mem: int = 5, scaling: bool = True):
        if not isinstance(nlp, NLPModel):
            raise TypeError(f"{type(self).__name__} wraps an NLPModel, got {type(nlp).__name__}")
        meta = nlp.meta
        self.operator = self.operator_class(meta.nvar, mem, scaling, dtype=meta.dtype, backend=meta.backend)
        self.nlp = nlp
        self.meta = meta
        self.counters = nlp.counters

    # -- pass-through to the wrapped model ------------------------------------------------------
    def obj(self, x: Any) -> float:
        """The wrapped model's f(x)."""
        return self.nlp.obj(x)

    def grad(self, x: Any, out: Any = None) -> Any:
        """The wrapped model's gradient."""
        return self.nlp.grad(x, out)

    def objgrad(self, x: Any, out: Any = None) -> tuple[float, Any]:
        """The wrapped model's (f(x), gradient)."""
        return self.nlp.objgrad(x, out)

    # the minibatch interface, evaluation helpers and known solution of the wrapped model
    batch_version = _forwarded("batch_version")
    batch_size = _forwarded("batch_size")
    batches_per_epoch = _forwarded("batches_per_epoch")
    epoch = _forwarded("epoch")
    next_minibatch = _forwarded("next_minibatch")
    reset_minibatch = _forwarded("reset_minibatch")
    random_minibatch = _forwarded("random_minibatch")
    set_batch_size = _forwarded("set_batch_size")
    batch_state = _forwarded("batch_state")
    restore_batch_state = _forwarded("restore_batch_state")
    accuracy = _forwarded("accuracy")
    has_accuracy = _forwarded("has_accuracy")
    agree_to_stop = _forwarded("agree_to_stop")
    evaluate = _forwarded("evaluate")
    f_star = _forwarded("f_star")
    x_star = _forwarded("x_star")

    # -- the operator ----------------------------------------------------------------------------
    @property
    def npairs(self) -> int:
        """The number of pairs stored (at most ``mem``)."""
        return self.operator.npairs

    @property
    def mem(self) -> int:
        return self.operator.mem

    @property
    def scaling(self) -> bool:
        return self.operator.scaling

    def update(self, s: Any, y: Any) -> bool:
        """Offers (s, y) to the operator; True when stored. s and y are copied; a skipped pair, or a
        call that raises, changes nothing."""
        self.check_vector("s", s)
        self.check_vector("y", y)
        return self.operator.push(s, y, skip_nonfinite=True)

    def reset(self) -> None:
        """Forgets every pair."""
        self.operator.reset()

    def _hprod(self, x: Any, v: Any) -> Any:
        return self.operator.matvec(v)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.nlp!r}, mem={self.mem}, npairs={self.npairs})"
