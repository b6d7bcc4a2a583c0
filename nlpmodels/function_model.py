"""FunctionModel: a problem given as plain functions, with the NLPModel contract.

    FunctionModel(fun, x0, grad=g)                      f and its gradient
    FunctionModel(fun, x0, objgrad=fg)                  (f, gradient) from one call
    FunctionModel(fun, x0, grad=g, hprod=hv)            plus H(x) v, for trunk and the curvature tools

``fun(x)`` returns f(x) as a number (a Python float, a NumPy scalar or a one-element array of the
backend); ``grad(x)`` the gradient, ``objgrad(x)`` the pair, ``hprod(x, v)`` the product of the
Hessian at x with v, each a vector of length n on the model's backend (a host array is moved over
once, and any dtype is converted to the model's). They receive the caller's vectors and must not
modify them. With ``objgrad`` only, ``grad`` is its second part; with both, ``objgrad`` serves the
solvers' combined calls and ``grad`` the others.

The model checks its arguments and counts evaluations as every NLPModel does; a value of the wrong
shape or kind is refused with an error naming the function that returned it. Without ``hprod``,
``has_hprod`` is False: solvers that need Hessian products refuse the model before evaluating
anything, and ``hprod`` itself says what to pass.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy
from minidnn.nlpmodels.model import NLPModel

from minidnn.backend import Backend


class FunctionModel(NLPModel):
    """An NLPModel from ``fun`` and its derivatives (see the module docstring)."""

    def __init__(
        self,
        fun: Callable[[Any], Any],
        x0: Any,
        *,
        grad: Callable[[Any], Any] | None = None,
        objgrad: Callable[[Any], tuple[Any, Any]] | None = None,
        hprod: Callable[[Any, Any], Any] | None = None,
        name: str = "function",
        backend: str | Backend = "numpy",
        dtype: str | None = None,
    ):
        for label, f in (("fun", fun), ("grad", grad), ("objgrad", objgrad), ("hprod", hprod)):
            if f is not None and not callable(f):
                raise TypeError(f"FunctionModel {name!r}: {label} must be callable, got {type(f).__name__}")
        if fun is None:
            raise TypeError(f"FunctionModel {name!r}: fun is required")
        if grad is None and objgrad is None:
            raise TypeError(
                f"FunctionModel {name!r}: pass grad=(x) -> gradient or objgrad=(x) -> (f, gradient); "
                "the solvers need the gradient"
            )
        super().__init__(x0, name=name, backend=backend, dtype=dtype)
        self._fun, self._grad_fn, self._objgrad_fn, self._hprod_fn = fun, grad, objgrad, hprod

    @property
    def has_hprod(self) -> bool:
        """True when ``hprod=`` was given."""
        return self._hprod_fn is not None

    def hprod(self, x: Any, v: Any, out: Any = None) -> Any:
        """H(x) v from the ``hprod`` function; a NotImplementedError naming ``hprod=`` without one."""
        if self._hprod_fn is None:
            raise NotImplementedError(
                f"FunctionModel {self.meta.name!r} has no Hessian-vector product: pass "
                "hprod=(x, v) -> H(x) v, or wrap it in LBFGSModel or LSR1Model (or use solvers.lsr1)"
            )
        return super().hprod(x, v, out)

    # -- the subclass part of the contract ------------------------------------------------------
    def _obj(self, x: Any) -> float:
        return self._value("fun", self._fun(x))

    def _grad(self, x: Any) -> Any:
        if self._grad_fn is not None:
            return self._vector("grad", self._grad_fn(x))
        return self._objgrad(x)[1]

    def _objgrad(self, x: Any) -> tuple[float, Any]:
        if self._objgrad_fn is None:
            return self._obj(x), self._grad(x)
        pair = self._objgrad_fn(x)
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise TypeError(
                f"FunctionModel {self.meta.name!r}: objgrad must return a pair (f, gradient), "
                f"got {type(pair).__name__}"
            )
        return self._value("objgrad", pair[0]), self._vector("objgrad", pair[1])

    def _hprod(self, x: Any, v: Any) -> Any:
        return self._vector("hprod", self._hprod_fn(x, v))

    # -- checks of what the functions return ----------------------------------------------------
    def _value(self, source: str, f: Any) -> float:
        """f as a Python float: a real number, or a one-element array (one explicit transfer)."""
        be = self.meta.backend
        if isinstance(f, numbers.Real) and not isinstance(f, bool):
            return float(f)
        if be.owns(f) and getattr(f, "size", 0) == 1:
            return be.to_float(f)
        if isinstance(f, numpy.ndarray) and f.size == 1:
            return float(f.reshape(()))
        raise TypeError(
            f"FunctionModel {self.meta.name!r}: {source} must return a real number, got {_describe(f)}"
        )

    def _vector(self, source: str, g: Any) -> Any:
        """g as a vector of the model's backend, dtype and length, or an error naming ``source``."""
        meta = self.meta
        be = meta.backend
        if not be.owns(g):
            if not isinstance(g, numpy.ndarray | list | tuple):
                raise TypeError(
                    f"FunctionModel {meta.name!r}: {source} must return a vector, got {_describe(g)}"
                )
            g = be.to_device(numpy.asarray(g), dtype=meta.dtype)
        elif g.dtype != meta.x0.dtype:
            g = be.xp.astype(g, meta.x0.dtype)
        if tuple(g.shape) != (meta.nvar,):
            raise ValueError(
                f"FunctionModel {meta.name!r}: {source} returned shape {tuple(g.shape)}, "
                f"expected ({meta.nvar},)"
            )
        return g


def _describe(value: Any) -> str:
    shape = getattr(value, "shape", None)
    return type(value).__name__ if shape is None else f"{type(value).__name__} of shape {tuple(shape)}"
