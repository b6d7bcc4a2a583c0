"""What every solver has: the common options it runs under (:class:`Budget`), the model's minibatches
as it sees them (:class:`Batches`), and the base class :class:`Solver` with its state and evaluations.

A solver object holds the current iterate ``x``, ``f`` = f(x), ``g`` = ∇f(x) and ``grad_norm``, and
``batch_version``, the version of the data they were computed on. The driver
(:mod:`minidnn.solvers.driver`) calls ``start()`` once, then ``iterate()`` until a stopping rule
fires; before each iteration it calls ``refresh()`` when the model moved to another minibatch, so
that a ratio test, a line search or a quasi-Newton pair never mixes values from two batches.
During an iteration after which the driver moves to the next minibatch, ``batches.moving`` is True:
a solver may then leave f and ∇f at its new iterate unevaluated (``batch_version = None``), and the
driver calls ``refresh()`` right after the move, on the new batch, so no gradient is computed on a
batch that is about to be left.

``iterate()`` replaces ``x`` only once f and ∇f at the new point are known to be finite (f alone
when it leaves ∇f to the new batch): after a :class:`NonFinite` error, ``x`` is the last finite
iterate.

State: ``state()`` returns what a method carries from one iteration to the next besides x, f and ∇f
(which ``start()`` recomputes at x): the attributes named by ``state_arrays`` (vectors on the model's
device, or ``None`` for an unused one) and ``state_scalars`` (Python numbers), plus whatever a
method adds (quasi-Newton pairs, a trust radius). ``restore(state)``, called after ``start()``,
takes such a dict back, from a solver of the same method, parameters and model size; every entry is
checked (present, same shape and dtype, finite) before anything changes. The driver's ``state``
option uses the pair to continue a run exactly where it stopped.

Vectors stay on the model's device; solvers branch on a few scalars per iteration (norms, slopes,
curvatures), and :func:`dot` and :func:`norm` are the only values that leave it (one transfer each).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal

from minidnn.nlpmodels.minibatch import draws_minibatches, measures_accuracy
from minidnn.nlpmodels.quasi_newton_operator import state_array as operator_state_array
from minidnn.solvers.adaptive_sampling import FixedSize
from minidnn.solvers.parameters import (
    POSITIVE,
    AnyOf,
    Derived,
    Dictionary,
    Function,
    Integer,
    Number,
    OneOf,
    declared,
    machine_eps,
    optional,
    parameter,
)

from minidnn.backend import Backend

Family = Literal["stochastic", "deterministic"]

_ROOT_EPS = Derived("sqrt(eps) of the model's dtype", lambda meta: math.sqrt(machine_eps(meta.dtype)))
_TOLERANCE = Number(0.0)


@declared
class Budget:
    """The options every solver takes: tolerances, budgets, callback, log and schedules.

    Stopping rules (JSOSolvers.jl; the order of SolverCore.jl's ``get_status``): first-order when
    ‖∇f(x_k)‖ ≤ atol + rtol ‖∇f(x_0)‖, then the budgets of objective evaluations, seconds,
    iterations and epochs. ``None`` means no limit. ``resample`` belongs to the deterministic family
    (stochastic solvers take one step per minibatch by definition); see :mod:`minidnn.solvers.driver`
    for ``resample`` and ``eval_every``.

    The gradient test is off when atol = rtol = 0 (0 means off, as for the budgets of the command
    line). A stochastic solver on a minibatch model has it off unless atol or rtol is given: a small
    gradient on one minibatch (a last batch of two samples is fitted exactly within a few epochs)
    says nothing about the training loss, and the budget ends the run.
    """

    atol: float | None = parameter(
        _ROOT_EPS,
        "absolute gradient tolerance (atol = rtol = 0: no gradient test; a stochastic solver on "
        "minibatches tests only when atol or rtol is given)",
        _TOLERANCE,
        source="JSOSolvers.jl",
    )
    rtol: float | None = parameter(
        _ROOT_EPS,
        "gradient tolerance relative to ‖∇f(x0)‖ (see atol for when the test is off)",
        _TOLERANCE,
        source="JSOSolvers.jl",
    )
    max_eval: int = parameter(-1, "objective evaluations (-1: no limit)", AnyOf((OneOf((-1,)), Integer(1))))
    max_iter: int | None = parameter(None, "iterations", optional(Integer(1)))
    max_time: float | None = parameter(
        30.0, "seconds, accuracy evaluations excluded", optional(POSITIVE), source="JSOSolvers.jl"
    )
    max_epochs: int | None = parameter(None, "epochs of a minibatch model", optional(Integer(1)))
    callback: Any = parameter(
        None,
        "callback(nlp, solver, stats) after each iteration; stats.status = 'user' stops",
        optional(Function()),
    )
    verbose: int = parameter(
        0, "print a row of the iteration table every k iterations (0: silent)", Integer(0)
    )
    eval_every: Any = parameter(
        "epoch", "when to measure test accuracy", AnyOf((OneOf(("epoch", None)), Integer(1)))
    )
    resample: Any = parameter(
        None, "when to move to the next minibatch", AnyOf((OneOf((None, "iteration", "epoch")), Integer(1)))
    )
    state: Mapping[str, Any] | None = parameter(
        None,
        "the ExecutionStats.state of an earlier run to continue exactly (x0: its solution)",
        optional(Dictionary()),
    )
    average: float | None = parameter(
        None,
        "decay β of an exponential average of the iterates (stats.average), which the test accuracy "
        "is measured at (None: no average)",
        optional(Number(0.0, 1.0, high_open=True)),
        source="Polyak and Juditsky 1992, with exponential weights (minidnn.solvers.iterate_average)",
    )

    def tolerance(self, grad_norm0: float) -> float:
        """atol + rtol ‖∇f(x_0)‖."""
        return self.atol + self.rtol * grad_norm0

    def gradient_test(self, explicit: bool, *, stochastic: bool) -> bool:
        """Whether the first-order test runs: not with atol = rtol = 0, and for a ``stochastic``
        solver on minibatches only when atol or rtol was given (``explicit``)."""
        if self.atol == 0 and self.rtol == 0:
            return False
        return explicit or not stochastic

    def status(
        self,
        *,
        grad_norm: float,
        tol: float | None,
        iters: int,
        evals: int,
        elapsed: float,
        epochs: int | None,
        agree: Callable[[bool], bool] = bool,
    ) -> str | None:
        """The status that ends the run now, or ``None`` to go on (``tol`` None: no gradient test).

        ``agree`` turns this process's verdict on the time budget into one shared by every process
        that runs the solver together (a distributed model's ``agree_to_stop``): each process reads
        its own clock, while the other rules read values that are the same on every process.
        """
        if tol is not None and grad_norm <= tol:
            return "first_order"
        if self.max_eval >= 0 and evals >= self.max_eval:
            return "max_eval"
        if self.max_time is not None and agree(elapsed > self.max_time):
            return "max_time"
        if self.max_iter is not None and iters >= self.max_iter:
            return "max_iter"
        if self.max_epochs is not None and epochs is not None and epochs >= self.max_epochs:
            return "max_epochs"
        return None


class Batches:
    """Batch version, epochs, resampling and accuracy of one model, minibatched
    (:class:`~minidnn.nlpmodels.MinibatchModel`) or not; ``test_split`` False when the model has
    no test data to measure accuracy on (:func:`has_test_split`); ``policy`` the batch-size policy
    (:mod:`minidnn.solvers.adaptive_sampling`; default: the model's size, fixed)."""

    def __init__(self, nlp: Any, test_split: bool = True, policy: Any = None):
        self.model = nlp
        self.minibatched = draws_minibatches(nlp)
        self.has_accuracy = measures_accuracy(nlp) and test_split
        self.policy = policy if policy is not None else FixedSize(nlp)
        self.moving = False
        """True during an iteration after which the driver moves to the next minibatch."""

    @property
    def version(self) -> int:
        """The version of the data that defines f now (0 for a fixed problem)."""
        return int(self.model.batch_version)

    @property
    def epoch(self) -> int | None:
        """The model's epoch index, ``None`` without minibatches."""
        return int(self.model.epoch) if self.minibatched else None

    @property
    def batches_per_epoch(self) -> int | None:
        return int(self.model.batches_per_epoch) if self.minibatched else None

    def advance(self) -> bool:
        """Moves to the next minibatch; True when that started a new epoch (False without batches)."""
        return bool(self.model.next_minibatch()) if self.minibatched else False

    def accuracy(self, x: Any) -> float:
        """Test accuracy of the whole test split at ``x``."""
        return float(self.model.accuracy(x, split="test"))

    def state(self) -> dict[str, Any] | None:
        """The model's position in its batches (``batch_state()``), ``None`` for a model without it."""
        saver = getattr(self.model, "batch_state", None)
        return saver() if self.minibatched and saver is not None else None

    def restore(self, state: Mapping[str, Any] | None) -> None:
        """Puts the model back at a position from :meth:`state` (nothing to do for ``None``)."""
        if state is None:
            return
        if not self.minibatched or not hasattr(self.model, "restore_batch_state"):
            raise StateError("the state holds a batch position, and the model has no restore_batch_state")
        self.model.restore_batch_state(state)


class StateError(ValueError):
    """A run's state (the ``state`` option) that does not fit the method, its parameters or the model."""


def has_test_split(nlp: Any) -> bool:
    """False for a model built without test data (a ``NeuralNetModel`` whose ``test_data`` is None):
    the per-epoch test accuracy is then skipped, and ``eval_every=k`` is an error."""
    return getattr(nlp, "test_data", True) is not None


class NonFinite(ArithmeticError):
    """f or ∇f is not finite at a point the solver needs; ``status`` is the run's final status."""

    def __init__(self, message: str, status: str = "exception"):
        super().__init__(message)
        self.status = status


Column = tuple[str, int, str]
"""A column of the iteration table: (title, width, format spec for numbers)."""


class Solver:
    """State and evaluations shared by all solvers; a subclass declares its ``name``, its
    ``family``, its ``parameters`` record, and implements ``iterate``."""

    name: ClassVar[str] = "solver"
    family: ClassVar[Family] = "deterministic"
    parameters: ClassVar[type]
    step_label: ClassVar[str] = "step"
    extra_columns: ClassVar[tuple[Column, ...]] = ()
    state_arrays: ClassVar[tuple[str, ...]] = ()
    state_scalars: ClassVar[tuple[str, ...]] = ()

    def __init__(self, nlp: Any, x: Any, batches: Batches, budget: Budget, params: Any):
        self.nlp = nlp
        self.budget = budget
        self.params = params
        self.backend: Backend = nlp.meta.backend
        self.xp = self.backend.xp
        self.batches = batches
        self.x = x
        self.f = math.nan
        self.g: Any = None
        self.grad_norm = math.nan
        self.batch_version = batches.version
        self.step: float | None = None
        self.ratio: float | None = None
        self.extra: dict[str, Any] = {}
        self.solver_specific: dict[str, Any] = {}

    @classmethod
    def model(cls, nlp: Any, params: Any) -> Any:
        """The model the solver works on: ``nlp`` itself, unless the method wraps it."""
        return nlp

    # -- driver interface -----------------------------------------------------------------------
    def start(self) -> None:
        """Evaluates f and ∇f at the starting point."""
        self.refresh()

    def refresh(self) -> None:
        """Re-evaluates f(x) and ∇f(x) on the model's current data, after the batch policy has given
        the batch its size; the policy evaluates them (by groups of samples on a norm test)."""
        policy = self.batches.policy
        policy.resize()
        self.batch_version = self.batches.version
        f, g = policy.objgrad(self.x)
        self.f, self.g, self.grad_norm = f, g, self.checked_grad_norm(f, g)

    def iterate(self) -> str | None:
        """One iteration; returns a final status when the method itself must stop, else ``None``."""
        raise NotImplementedError

    # -- state (see the module docstring) ------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The method's state: the ``state_arrays`` and ``state_scalars`` attributes (the arrays are
        the solver's own, not copies)."""
        return {name: getattr(self, name) for name in self.state_arrays + self.state_scalars}

    def restore(self, state: Mapping[str, Any]) -> None:
        """Takes back a dict from :meth:`state`; a ValueError naming the entry that is missing or does
        not fit, before anything changes."""
        values = {name: self.checked_array(state, name, getattr(self, name)) for name in self.state_arrays}
        for name in self.state_scalars:
            values[name] = checked_scalar(self.name, state, name, getattr(self, name))
        for name, value in values.items():
            setattr(self, name, value)

    def checked_array(self, state: Mapping[str, Any], name: str, like: Any) -> Any:
        """``state[name]`` as a copy on the model's device, of ``like``'s shape and dtype, finite
        (``None`` where ``like`` is ``None``)."""
        return state_array(self.backend, self.name, state, name, like)

    # -- helpers --------------------------------------------------------------------------------
    def evaluate(self, x: Any) -> tuple[float, Any, float]:
        """(f(x), ∇f(x), ‖∇f(x)‖) from one ``objgrad``; :class:`NonFinite` unless all are finite."""
        self.batch_version = self.batches.version
        f, g = self.nlp.objgrad(x)
        return f, g, self.checked_grad_norm(f, g)

    def checked_grad_norm(self, f: float, g: Any) -> float:
        """‖g‖, after checking that f and ‖g‖ are finite."""
        if f == -math.inf:
            raise NonFinite("the objective is -inf: unbounded below", status="unbounded")
        if not math.isfinite(f):
            raise NonFinite(f"the objective is {f} at a new iterate")
        grad_norm = self.norm(g)
        if not math.isfinite(grad_norm):
            raise NonFinite(f"the gradient norm is {grad_norm} at a new iterate")
        return grad_norm

    def dot(self, a: Any, b: Any) -> float:
        return dot(self.backend, a, b)

    def norm(self, a: Any) -> float:
        return norm(self.backend, a)

    def rounds_to_same(self, x: Any, point: Any) -> bool:
        """True when ``point`` (x plus a step) equals x in every component: the step is lost to rounding."""
        return self.backend.to_float(self.xp.all(point == x)) != 0.0

    def same_batch(self, version: int) -> bool:
        """True when the model's data is still that of ``version``."""
        return self.batches.version == version


def dot(be: Backend, a: Any, b: Any) -> float:
    """aᵀb as a Python float."""
    vecdot = getattr(be.xp, "vecdot", None)
    return be.to_float(vecdot(a, b) if vecdot is not None else be.xp.sum(a * b))


def norm(be: Backend, a: Any) -> float:
    """‖a‖₂ as a Python float."""
    linalg = getattr(be.xp, "linalg", None)
    vector_norm = getattr(linalg, "vector_norm", None)
    if vector_norm is not None:
        return be.to_float(vector_norm(a))
    return dot(be, a, a) ** 0.5


def state_array(be: Backend, owner: str, state: Mapping[str, Any], name: str, like: Any) -> Any:
    """``state[name]`` copied onto ``be``'s device with ``like``'s shape and dtype, all entries
    finite; ``None`` when ``like`` is ``None``. A StateError names ``owner`` and ``name`` otherwise."""
    if like is None:
        if state.get(name) is not None:
            raise StateError(f"{owner}: the state's {name!r} must be None for these parameters")
        if name not in state:
            raise StateError(f"{owner}: the state has no {name!r}")
        return None
    try:
        return operator_state_array(be, owner, state, name, like)
    except ValueError as err:
        raise StateError(str(err)) from None


def checked_scalar(owner: str, state: Mapping[str, Any], name: str, like: Any) -> Any:
    """``state[name]``: an int where ``like`` is an int (>= 0), else a finite float; a ValueError
    naming ``owner`` and ``name`` otherwise."""
    if name not in state:
        raise StateError(f"{owner}: the state has no {name!r}")
    value = state[name]
    if isinstance(like, int):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise StateError(f"{owner}: the state's {name!r} must be an integer >= 0, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise StateError(f"{owner}: the state's {name!r} must be a finite number, got {value!r}")
    return float(value)
