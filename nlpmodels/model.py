"""The NLPModel contract: an unconstrained problem min f(x) in one flat vector x.

Public methods check their arguments (length, dtype, backend), count the evaluation, and call the
subclass's implementation:

    obj(x) -> float                    f(x)
    grad(x, out=None) -> vector        the gradient of f at x
    objgrad(x, out=None)               (f(x), gradient) from one pass where the subclass can
    hprod(x, v, out=None) -> vector    the exact Hessian-vector product of f at x
    hess_op(x) -> operator             v -> H(x) v as a linear operator

Subclasses implement ``_obj``, ``_grad`` and, where they have second derivatives, ``_hprod``;
``_objgrad`` defaults to the two calls. A call that raises mutates nothing: arguments (``out``
included: length, dtype, backend, writable) are checked before any evaluation, ``out`` is written
only at the end, and the counters move only once the call has succeeded, so they count the
evaluations that returned. ``x`` is never kept nor modified.

``batch_version`` identifies the data that defines f: it stays 0 for a fixed problem and changes
whenever a stochastic model moves to another minibatch, so solvers can tell that values computed
before were computed on other data.
"""

from __future__ import annotations

from typing import Any

from minidnn.nlpmodels.meta import Counters, NLPModelMeta
from minidnn.nlpmodels.operator import symmetric_operator

from minidnn import backend as _backend
from minidnn.backend import Backend


class NLPModel:
    """Base class of all models (see the module docstring)."""

    batch_version: int = 0

    def __init__(self, x0: Any, *, name: str, backend: str | Backend = "numpy", dtype: str | None = None):
        be = _backend.get(backend)
        dtype_name = dtype or (_backend._dtype_name(x0.dtype) if be.owns(x0) else _backend.DEFAULT_DTYPE)
        start = be.to_device(x0, dtype=dtype_name)
        if start.ndim != 1:
            raise ValueError(f"{name}: x0 must be a vector, got shape {tuple(start.shape)}")
        start = be.xp.asarray(start, copy=True)
        if be.name == "numpy":
            start.flags.writeable = False
        self.meta = NLPModelMeta(nvar=int(start.shape[0]), x0=start, name=name, dtype=dtype_name, backend=be)
        self.counters = Counters()

    # -- the contract -----------------------------------------------------------------------------
    def obj(self, x: Any) -> float:
        """f(x) as a Python float."""
        self.check_vector("x", x)
        f = self._obj(x)
        self.counters.neval_obj += 1
        return f

    def grad(self, x: Any, out: Any = None) -> Any:
        """The gradient of f at x (written into ``out`` when given)."""
        self.check_vector("x", x)
        self.check_out(out)
        g = _into(out, self._grad(x))
        self.counters.neval_grad += 1
        return g

    def objgrad(self, x: Any, out: Any = None) -> tuple[float, Any]:
        """(f(x), gradient of f at x); counts one objective and one gradient evaluation."""
        self.check_vector("x", x)
        self.check_out(out)
        f, g = self._objgrad(x)
        g = _into(out, g)
        self.counters.neval_obj += 1
        self.counters.neval_grad += 1
        return f, g

    def hprod(self, x: Any, v: Any, out: Any = None) -> Any:
        """The product of the Hessian of f at x with v."""
        if not self.has_hprod:
            raise NotImplementedError(
                f"{self.meta.name} has no Hessian-vector product; wrap it in LBFGSModel or LSR1Model"
            )
        self.check_vector("x", x)
        self.check_vector("v", v)
        self.check_out(out)
        hv = _into(out, self._hprod(x, v))
        self.counters.neval_hprod += 1
        return hv

    def hess_op(self, x: Any) -> Any:
        """v -> H(x) v as a linear operator (SciPy's on NumPy); x is copied once, here."""
        self.check_vector("x", x)
        point = self.meta.backend.xp.asarray(x, copy=True)
        return symmetric_operator(
            self.meta.backend, self.meta.nvar, self.meta.x0.dtype, lambda v: self.hprod(point, v)
        )

    @property
    def has_hprod(self) -> bool:
        """True when the model has its own ``_hprod``."""
        return type(self)._hprod is not NLPModel._hprod

    def reset_counters(self) -> None:
        self.counters.reset()

    # -- what subclasses implement ----------------------------------------------------------------
    def _obj(self, x: Any) -> float:
        raise NotImplementedError

    def _grad(self, x: Any) -> Any:
        raise NotImplementedError

    def _objgrad(self, x: Any) -> tuple[float, Any]:
        return self._obj(x), self._grad(x)

    def _hprod(self, x: Any, v: Any) -> Any:
        raise NotImplementedError

    # -- argument checks ---------------------------------------------------------------------------
    def check_vector(self, name: str, x: Any) -> None:
        """A ValueError unless ``x`` is a vector of length nvar, of the model's dtype and backend."""
        meta = self.meta
        if not meta.backend.owns(x):
            raise ValueError(
                f"{meta.name}: {name} must be an array of backend {meta.backend.name}, got {type(x).__name__}"
            )
        if tuple(x.shape) != (meta.nvar,):
            raise ValueError(f"{meta.name}: {name} must have shape ({meta.nvar},), got {tuple(x.shape)}")
        if x.dtype != meta.x0.dtype:
            raise ValueError(f"{meta.name}: {name} must have dtype {meta.dtype}, got {x.dtype}")

    def check_out(self, out: Any) -> None:
        """Like :meth:`check_vector` for an ``out`` argument (``None`` passes), which must be writable."""
        if out is None:
            return
        self.check_vector("out", out)
        if not getattr(getattr(out, "flags", None), "writeable", True):
            raise ValueError(f"{self.meta.name}: out is a read-only array; pass a writable one or out=None")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.meta.name!r}, nvar={self.meta.nvar}, dtype={self.meta.dtype})"


def _into(out: Any, value: Any) -> Any:
    if out is None:
        return value
    out[...] = value
    return out
