"""Test doubles: small models with known answers for the solver tests (tested in
``test_solvers_doubles.py``).

``MinibatchLogistic`` implements the minibatch interface of ``nlpmodels.NeuralNetModel`` on a small
synthetic binary classification problem (regularised logistic regression, so f is smooth and
strongly convex on every batch): ``batch_version``, ``next_minibatch() -> bool``, ``epoch``,
``batches_per_epoch``, ``random_minibatch()``, ``reset_minibatch()``, ``accuracy(x=None, split)``.
Every evaluation is logged as (kind, x, batch_version), so tests can see on which batch a solver
evaluated what.

``Quadratic`` is f(x) = ½ xᵀAx - bᵀx with a diagonal A, with exact hprod; ``NoHessian`` has no hprod;
``Poisoned`` returns NaN past a given number of evaluations; ``Interrupting`` raises
KeyboardInterrupt past a given number of evaluations; ``NanAfterLongSteps`` is NaN far from 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy
from minidnn.nlpmodels import NLPModel
from minidnn.nlpmodels.problems import rosenbrock


@dataclass
class Evaluation:
    kind: str
    x: numpy.ndarray
    version: int
    value: Any = None


class MinibatchLogistic(NLPModel):
    """f_B(x) = mean_{i in B} log(1 + exp(-y_i a_iᵀx)) + (lam/2)‖x‖² on the current minibatch B."""

    def __init__(
        self,
        n: int = 5,
        samples: int = 120,
        batch_size: int = 30,
        *,
        seed: int = 0,
        lam: float = 1e-2,
        backend: str = "numpy",
        dtype: str = "float64",
    ):
        rng = numpy.random.default_rng(seed)
        w_true = rng.standard_normal(n)
        a = rng.standard_normal((2 * samples, n))
        y = numpy.sign(a @ w_true + 0.3 * rng.standard_normal(2 * samples))
        super().__init__(numpy.zeros(n, dtype=dtype), name="minibatch_logistic", backend=backend, dtype=dtype)
        be = self.meta.backend
        self.train_a, self.train_y = a[:samples], y[:samples]
        self.test_a = be.to_device(a[samples:], dtype=dtype)
        self.test_y = be.to_device(y[samples:], dtype=dtype)
        self.batch_size = batch_size
        self.batches_per_epoch = samples // batch_size
        self.lam = lam
        self._shuffle_rng = numpy.random.default_rng(seed + 1)
        self.epoch = 0
        self.batch_version = 0
        self.log: list[Evaluation] = []
        self._order = numpy.arange(samples)
        self._position = 0
        self._load()

    # -- the minibatch interface -----------------------------------------------------------------
    def next_minibatch(self) -> bool:
        self._position += 1
        new_epoch = self._position == self.batches_per_epoch
        if new_epoch:
            self._position = 0
            self.epoch += 1
            self._order = self._shuffle_rng.permutation(len(self.train_y))
        self._load()
        return new_epoch

    def random_minibatch(self) -> None:
        self._position = int(self._shuffle_rng.integers(self.batches_per_epoch))
        self._load()

    def reset_minibatch(self) -> None:
        self._position = 0
        self.epoch = 0
        self._order = numpy.arange(len(self.train_y))
        self._load()

    def accuracy(self, x: Any = None, split: str = "test") -> float:
        assert split == "test"
        xp = self.meta.backend.xp
        x = self.meta.x0 if x is None else x
        correct = xp.sum(xp.astype((self.test_a @ x) * self.test_y > 0, self.test_a.dtype))
        return self.meta.backend.to_float(correct) / self.test_y.shape[0]

    def _load(self) -> None:
        be = self.meta.backend
        rows = self._order[self._position * self.batch_size : (self._position + 1) * self.batch_size]
        self.a = be.to_device(self.train_a[rows], dtype=self.meta.dtype)
        self.y = be.to_device(self.train_y[rows], dtype=self.meta.dtype)
        self.batch_version += 1

    # -- f, its gradient and Hessian on the current batch ---------------------------------------------
    def _record(self, kind: str, x: Any, value: Any = None) -> None:
        host = numpy.array(self.meta.backend.to_host(x), dtype=numpy.float64)
        self.log.append(Evaluation(kind, host, self.batch_version, value))

    def _margins(self, x: Any) -> Any:
        return self.y * (self.a @ x)

    def _value(self, x: Any) -> float:
        xp = self.meta.backend.xp
        loss = xp.mean(xp.logaddexp(xp.zeros_like(self.y), -self._margins(x)))
        return self.meta.backend.to_float(loss + 0.5 * self.lam * (x @ x))

    def _gradient(self, x: Any) -> Any:
        xp = self.meta.backend.xp
        weights = -self.y / (1.0 + xp.exp(self._margins(x)))
        return (weights @ self.a) / self.y.shape[0] + self.lam * x

    def _obj(self, x: Any) -> float:
        f = self._value(x)
        self._record("obj", x, f)
        return f

    def _grad(self, x: Any) -> Any:
        g = self._gradient(x)
        self._record("grad", x, numpy.array(self.meta.backend.to_host(g), dtype=numpy.float64))
        return g

    def _objgrad(self, x: Any) -> tuple[float, Any]:
        f, g = self._value(x), self._gradient(x)
        self._record("objgrad", x, (f, numpy.array(self.meta.backend.to_host(g), dtype=numpy.float64)))
        return f, g

    def _hprod(self, x: Any, v: Any) -> Any:
        xp = self.meta.backend.xp
        p = 1.0 / (1.0 + xp.exp(-self._margins(x)))
        curvature = p * (1.0 - p)
        self._record("hprod", x)
        return ((curvature * (self.a @ v)) @ self.a) / self.y.shape[0] + self.lam * v


class Quadratic(NLPModel):
    """f(x) = ½ Σ d_i x_i² - Σ x_i, minimiser x_i = 1/d_i; exact hprod."""

    def __init__(self, diagonal: Any = (1.0, 10.0, 100.0), *, backend: str = "numpy", dtype: str = "float64"):
        d = numpy.asarray(diagonal, dtype=numpy.float64)
        super().__init__(
            numpy.zeros(d.size, dtype=dtype), name="diag_quadratic", backend=backend, dtype=dtype
        )
        self.d = self.meta.backend.to_device(d, dtype=dtype)

    def _obj(self, x: Any) -> float:
        return self.meta.backend.to_float(0.5 * ((self.d * x) @ x) - self.meta.backend.xp.sum(x))

    def _grad(self, x: Any) -> Any:
        return self.d * x - 1.0

    def _hprod(self, x: Any, v: Any) -> Any:
        return self.d * v


class NoHessian(NLPModel):
    """f(x) = ½‖x - 1‖² without hprod."""

    def __init__(self, n: int = 3):
        super().__init__(numpy.zeros(n), name="no_hessian", dtype="float64")

    def _obj(self, x: Any) -> float:
        return float(0.5 * numpy.sum((x - 1.0) ** 2))

    def _grad(self, x: Any) -> Any:
        return x - 1.0


class Poisoned(type(rosenbrock())):
    """Rosenbrock, but f (or ∇f) is ``value`` from objective evaluation number ``after`` + 1 on."""

    def __init__(self, after: int, value: float = numpy.nan, target: str = "obj"):
        super().__init__()
        self.after, self.value, self.target, self.calls = after, value, target, 0

    def _obj(self, x: Any) -> float:
        self.calls += 1
        if self.target == "obj" and self.calls > self.after:
            return self.value
        return super()._obj(x)

    def _grad(self, x: Any) -> Any:
        g = super()._grad(x)
        if self.target == "grad" and self.calls > self.after:
            return g * self.value
        return g

    def _objgrad(self, x: Any) -> tuple[float, Any]:
        return self._obj(x), self._grad(x)


class Interrupting(type(rosenbrock())):
    """Rosenbrock, whose objective raises KeyboardInterrupt from evaluation number ``after`` + 1 on."""

    def __init__(self, after: int):
        super().__init__()
        self.after, self.calls = after, 0

    def _obj(self, x: Any) -> float:
        self.calls += 1
        if self.calls > self.after:
            raise KeyboardInterrupt
        return super()._obj(x)


class NanAfterLongSteps(Quadratic):
    """NaN wherever ‖x‖ > 3: trial points beyond that are rejected, never fatal."""

    def _obj(self, x: Any) -> float:
        return math.nan if numpy.linalg.norm(x) > 3.0 else super()._obj(x)
