"""The shared part of the limited-memory quasi-Newton operators (``LBFGSOperator``,
``InverseLBFGSOperator``, ``LSR1Operator``), apart from any model, as LinearOperators.jl has them.

An operator is an n x n symmetric matrix built from the last ``mem`` secant pairs (s, y), with
s = x_{k+1} - x_k and y = grad_{k+1} - grad_k:

- ``push(s, y, *, skip_nonfinite=False) -> bool`` offers a pair: it is stored (True) unless the
  operator's documented skip rule rejects it (False, nothing changes); once ``mem`` pairs are stored
  the oldest is dropped. s and y are copied. One host transfer per call: the verdict.
- ``matvec(v, out=None)`` (also ``op @ v``) is the product with the operator, on the device, without
  any host transfer; ``out`` receives it when given.
- ``reset()`` forgets every pair: the operator is the identity again.
- ``npairs``, ``mem``, ``scaling``, ``shape``, ``dtype``, ``backend`` describe it.

With ``scaling=True`` the initial matrix is B0 = sigma I with sigma = y'y / s'y from the newest pair
(:mod:`~minidnn.nlpmodels.secant_rules`); otherwise B0 = I.

Bad input is refused with a ValueError naming the argument before anything changes: a vector that is
not of the operator's backend, shape (n,) or dtype; and in ``push`` a non-finite s or y, unless
``skip_nonfinite`` asks to skip such a pair like any other rejected pair (a solver that learns from
trial points, where f or its gradient may have overflowed). Storage is preallocated on the device
(:class:`~minidnn.nlpmodels.pair_memory.PairMemory`); a push costs O(mem n).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from minidnn.nlpmodels.model import _into
from minidnn.nlpmodels.pair_memory import PairMemory

from minidnn import backend as _backend
from minidnn.backend import Backend

# The verdict of ``push`` as one device number (one host transfer).
SKIP, STORE, NONFINITE_S, NONFINITE_Y = 0, 1, 2, 3


@dataclass
class PairProducts:
    """Inner products of an offered pair, on the device: s's, s'y and y'y."""

    ss: Any
    sy: Any
    yy: Any


class QuasiNewtonOperator:
    """Base class of the limited-memory operators (see the module docstring)."""

    def __init__(
        self,
        n: int,
        mem: int = 5,
        scaling: bool = True,
        *,
        dtype: str = "float32",
        backend: str | Backend = "numpy",
    ):
        name = type(self).__name__
        for argument, value in (("n", n), ("mem", mem)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: {argument} must be an integer >= 1, got {value!r}")
        self.backend = _backend.get(backend)
        self.dtype = self.backend.dtype(dtype)
        self.dtype_name = _backend._dtype_name(self.dtype)
        self.shape = (n, n)
        self.mem = mem
        self.scaling = bool(scaling)
        self.pairs = PairMemory(self.backend, n, mem, self.dtype)
        self.sigma = self._one()

    @property
    def npairs(self) -> int:
        """The number of pairs stored (at most ``mem``)."""
        return self.pairs.count

    def push(self, s: Any, y: Any, *, skip_nonfinite: bool = False) -> bool:
        """Stores (s, y) unless the skip rule rejects it; True when stored (see the module docstring)."""
        self._check("s", s)
        self._check("y", y)
        products = self._products(s, y)
        verdict = int(self.backend.to_float(self._verdict(s, y, products)))
        if verdict in (NONFINITE_S, NONFINITE_Y):
            if skip_nonfinite:
                return False
            argument = "s" if verdict == NONFINITE_S else "y"
            raise ValueError(f"{type(self).__name__}: {argument} must be finite; it has NaN or inf entries")
        if verdict == SKIP:
            return False
        slot = self.pairs.store(s, y)
        self._stored(slot, products)
        return True

    def matvec(self, v: Any, out: Any = None) -> Any:
        """The product of the operator with v (written into ``out`` when given)."""
        self._check("v", v)
        if out is not None:
            self._check("out", out)
        return _into(out, self._matvec(v))

    def __matmul__(self, v: Any) -> Any:
        return self.matvec(v)

    def reset(self) -> None:
        """Forgets every pair: the operator is the identity."""
        self.pairs.reset()
        self.sigma = self._one()

    # -- the push, step by step ----------------------------------------------------------------
    def _products(self, s: Any, y: Any) -> PairProducts:
        """The inner products the skip rule and the stored representation need."""
        return PairProducts(ss=s @ s, sy=s @ y, yy=y @ y)

    def _verdict(self, s: Any, y: Any, products: PairProducts) -> Any:
        """SKIP, STORE, NONFINITE_S or NONFINITE_Y as a 0-d device number."""
        xp = self.backend.xp
        accepted = xp.astype(self._accepts(s, y, products), self.dtype)
        if_s_finite = xp.where(xp.all(xp.isfinite(y)), accepted, float(NONFINITE_Y))
        return xp.where(xp.all(xp.isfinite(s)), if_s_finite, float(NONFINITE_S))

    # -- what subclasses implement -------------------------------------------------------------
    def _accepts(self, s: Any, y: Any, products: PairProducts) -> Any:
        """The skip rule as a 0-d device boolean (True: store the pair)."""
        raise NotImplementedError

    def _stored(self, slot: int, products: PairProducts) -> None:
        """Brings the representation up to date after (s, y) was copied into ``slot``."""
        raise NotImplementedError

    def _matvec(self, v: Any) -> Any:
        raise NotImplementedError

    # -- helpers ---------------------------------------------------------------------------------
    def _one(self) -> Any:
        return self.backend.full((), 1.0, dtype=self.dtype)

    def _check(self, name: str, v: Any) -> None:
        """A ValueError unless ``v`` is a vector of the operator's backend, length and dtype."""
        op = type(self).__name__
        n = self.shape[0]
        if not self.backend.owns(v):
            raise ValueError(
                f"{op}: {name} must be an array of backend {self.backend.name}, got {type(v).__name__}"
            )
        if tuple(v.shape) != (n,):
            raise ValueError(f"{op}: {name} must have shape ({n},), got {tuple(v.shape)}")
        if v.dtype != self.dtype:
            raise ValueError(f"{op}: {name} must have dtype {self.dtype_name}, got {v.dtype}")

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n={self.shape[0]}, mem={self.mem}, npairs={self.npairs}, "
            f"dtype={self.dtype_name}, backend={self.backend.name})"
        )
