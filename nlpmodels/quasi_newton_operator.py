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
- ``state()`` exports the memory (the pair rows, their count and newest slot, sigma, and what a
  subclass keeps of them) as a dict of device arrays and ints; ``restore(state)`` takes it back
  into an operator of the same class, size and ``mem``, after checking every entry, so that the
  products are the same, bit for bit.

With ``scaling=True`` the initial matrix is B0 = sigma I with sigma = y'y / s'y from the newest pair
(:mod:`~minidnn.nlpmodels.secant_rules`); otherwise B0 = I.

Bad input is refused with a ValueError naming the argument before anything changes: a vector that is
not of the operator's backend, shape (n,) or dtype; and in ``push`` a non-finite s or y, unless
``skip_nonfinite`` asks to skip such a pair like any other rejected pair (a solver that learns from
trial points, where f or its gradient may have overflowed). Storage is preallocated on the device
(:class:`~minidnn.nlpmodels.pair_memory.PairMemory`); a push costs O(mem n).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

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

    state_arrays: ClassVar[tuple[str, ...]] = ()
    """The arrays a subclass derives from the pairs and keeps (exported by :meth:`state`)."""

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
        self._allocate()

    def _allocate(self) -> None:
        """Allocates the arrays a subclass keeps beside the pairs (none here)."""

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

    def state(self) -> dict[str, Any]:
        """The memory as a dict (see the module docstring); the arrays are the operator's own."""
        arrays = {name: getattr(self, name) for name in self.state_arrays}
        pairs = self.pairs
        return {
            "rows": pairs.rows,
            "count": pairs.count,
            "newest": pairs.newest,
            "sigma": self.sigma,
            **arrays,
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Takes back :meth:`state`; a ValueError naming the entry that is missing or does not fit,
        before anything changes."""
        names = ("rows", "sigma", *self.state_arrays)
        likes = {"rows": self.pairs.rows, "sigma": self.sigma}
        arrays = {
            name: self._state_array(state, name, likes.get(name, getattr(self, name, None))) for name in names
        }
        count, newest = state.get("count"), state.get("newest")
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= self.mem:
            raise ValueError(
                f"{type(self).__name__}: the state's 'count' must be in 0..{self.mem}, got {count!r}"
            )
        valid_newest = range(-1, 0) if count == 0 else range(self.mem)
        if isinstance(newest, bool) or not isinstance(newest, int) or newest not in valid_newest:
            raise ValueError(
                f"{type(self).__name__}: the state's 'newest' does not fit count {count}: {newest!r}"
            )
        self.pairs.rows, self.sigma = arrays.pop("rows"), arrays.pop("sigma")
        self.pairs.count, self.pairs.newest = count, newest
        for name, value in arrays.items():
            setattr(self, name, value)
        self._restored()

    def _restored(self) -> None:
        """Rebuilds what is derived from the restored arrays (nothing by default)."""

    def _state_array(self, state: Mapping[str, Any], name: str, like: Any) -> Any:
        return state_array(self.backend, type(self).__name__, state, name, like)

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


def state_array(be: Backend, owner: str, state: Mapping[str, Any], name: str, like: Any) -> Any:
    """``state[name]`` copied onto ``be``'s device with ``like``'s shape and dtype, all entries
    finite; a ValueError naming ``owner`` and ``name`` otherwise (saved states of operators and
    solvers)."""
    if name not in state:
        raise ValueError(f"{owner}: the state has no {name!r}")
    value = state[name]
    try:
        array = be.to_device(be.to_host(value) if be.owns(value) else value, dtype=like.dtype)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{owner}: the state's {name!r} is not an array of numbers ({err})") from None
    if tuple(array.shape) != tuple(like.shape):
        raise ValueError(
            f"{owner}: the state's {name!r} has shape {tuple(array.shape)}, expected {tuple(like.shape)}"
        )
    if be.to_float(be.xp.all(be.xp.isfinite(array))) == 0.0:
        raise ValueError(f"{owner}: the state's {name!r} has NaN or infinite entries")
    return be.xp.asarray(array, copy=True)
