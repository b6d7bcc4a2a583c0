"""The shared part of the limited-memory quasi-Newton models (``LBFGSModel``, ``LSR1Model``).

A quasi-Newton model wraps any NLPModel ``nlp``:

- ``obj``, ``grad``, ``objgrad`` are the wrapped model's own methods: same checks, same counters
  (``self.counters is nlp.counters``) and the same ``meta`` object;
- ``hprod(x, v)`` is B v for the limited-memory matrix B (x is checked, then ignored), computed on the
  device from the stored pairs; it counts one ``neval_hprod`` on the shared counters, so a solver's
  report of Hessian products means "products with the model's Hessian", exact or quasi-Newton;
- ``update(s, y) -> bool`` stores the pair (s, y) = (x_{k+1} - x_k, grad_{k+1} - grad_k) unless the
  subclass's skip rule rejects it (then nothing changes and it returns False); at most ``mem`` pairs
  are kept, the oldest dropped first;
- ``reset()`` forgets every pair;
- ``batch_version`` and every other public attribute the wrapper lacks (``next_minibatch``,
  ``epoch``, ``accuracy``, ``x_star``, ...) are read from the wrapped model, so solvers can drive a
  wrapped neural-network model as they would the model itself.

Pairs are stacked as rows of (k, n) device arrays, k <= mem; the only loops run over the pairs.
B0 = sigma I: sigma = 1 without scaling; with ``scaling=True`` each subclass documents its choice.
"""

from __future__ import annotations

from typing import Any

from minidnn.nlpmodels.model import NLPModel


class QuasiNewtonModel(NLPModel):
    """Base class of the limited-memory quasi-Newton models (see the module docstring)."""

    def __init__(self, nlp: NLPModel, mem: int = 5, scaling: bool = True):
        if not isinstance(nlp, NLPModel):
            raise TypeError(f"{type(self).__name__} wraps an NLPModel, got {type(nlp).__name__}")
        if isinstance(mem, bool) or not isinstance(mem, int) or mem < 1:
            raise ValueError(f"{type(self).__name__}: mem must be an integer >= 1, got {mem!r}")
        self.nlp = nlp
        self.meta = nlp.meta
        self.counters = nlp.counters
        self.mem = mem
        self.scaling = bool(scaling)
        self.reset()

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

    @property
    def batch_version(self) -> int:  # type: ignore[override]
        """The wrapped model's batch version: pairs from different versions mix different data."""
        return self.nlp.batch_version

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "nlp":
            raise AttributeError(name)
        return getattr(self.nlp, name)

    # -- the limited memory ----------------------------------------------------------------------
    @property
    def npairs(self) -> int:
        """The number of pairs stored (at most ``mem``)."""
        return int(self._s.shape[0])

    def reset(self) -> None:
        """Forgets every pair: B = I."""
        empty = self.meta.backend.zeros((0, self.meta.nvar), dtype=self.meta.x0.dtype)
        self._s, self._y = empty, empty
        self._sigma: Any = 1.0
        self._rebuild()

    def update(self, s: Any, y: Any) -> bool:
        """Stores the pair (s, y) unless the skip rule rejects it; True when stored.

        s and y are copied; a rejected pair, or a call that raises, changes nothing.
        """
        self.check_vector("s", s)
        self.check_vector("y", y)
        if not self._decide(self._accepts(s, y)):
            return False
        keep = self.npairs - self.mem + 1
        xp = self.meta.backend.xp
        self._s = xp.concat([self._s[max(keep, 0) :, :], s[None, :]])
        self._y = xp.concat([self._y[max(keep, 0) :, :], y[None, :]])
        self._sigma = self._scale(s, y)
        self._rebuild()
        return True

    def _decide(self, flag: Any) -> bool:
        """One host transfer: the device boolean of a skip test as a Python bool."""
        return self.meta.backend.to_float(flag) > 0.0

    def _hprod(self, x: Any, v: Any) -> Any:
        return self._product(v)

    def _eps(self) -> float:
        return float(self.meta.backend.xp.finfo(self.meta.x0.dtype).eps)

    # -- what subclasses implement ---------------------------------------------------------------
    def _accepts(self, s: Any, y: Any) -> Any:
        """The skip rule as a 0-d device boolean (True: store the pair)."""
        raise NotImplementedError

    def _scale(self, s: Any, y: Any) -> Any:
        """sigma of B0 = sigma I once the accepted pair (s, y) is stored."""
        raise NotImplementedError

    def _rebuild(self) -> None:
        """Recomputes the stored representation of B from the pairs and sigma."""
        raise NotImplementedError

    def _product(self, v: Any) -> Any:
        """B v."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.nlp!r}, mem={self.mem}, npairs={self.npairs})"


def norm(xp: Any, v: Any) -> Any:
    """The Euclidean norm of a vector, as a 0-d device array."""
    return xp.sqrt(v @ v)
