"""Array backends: one small object per array library.

Core code never calls NumPy on payload arrays. It asks a :class:`Backend` for the array namespace
(``backend.xp``, an Array API namespace), for the dtype policy, for a seeded random generator, for
the explicit host boundary (``to_device``, ``to_host``, ``to_float``) and for the few operations the
Array API standard does not have (scatter-add, sliding windows).

Backends:

``numpy``
    Always present.
``cupy``
    Present when CuPy imports and sees a CUDA device (``available`` says so; ``get("cupy")`` raises
    :class:`BackendUnavailable` with the reason otherwise).
``array-api-strict``
    A stand-in for a GPU in tests: array-api-strict arrays on a non-CPU device, which refuse implicit
    conversion to NumPy exactly as CuPy arrays do, so a host leak in portable code fails a test on a
    machine without a GPU. Its random numbers are drawn on the host and moved over in one explicit
    transfer; its scatter-add exists only for basic indices and along an axis (see ``add_at``).

Every explicit transfer to the host (``to_host``, ``to_float``) increments ``host_transfers``, so
tests can count them.

The thread counts of the BLAS and OpenMP libraries are set here too: ``set_threads(n)``,
``with threads(n):``, ``thread_counts()`` (see :mod:`minidnn.thread_limits`).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import numpy

# Thread counts of the numerical libraries, offered beside the backends (minidnn.backend.set_threads).
from minidnn.thread_limits import set_threads as set_threads
from minidnn.thread_limits import thread_counts as thread_counts
from minidnn.thread_limits import threads as threads

DTYPE_NAMES = ("float32", "float64")
DEFAULT_DTYPE = "float32"


class BackendUnavailable(RuntimeError):
    """The requested array library is not installed or has no device."""


class Generator:
    """A seeded random generator whose draws land on the backend's device.

    Wraps the library's own generator (``numpy.random.Generator``, ``cupy.random.Generator``); the
    same seed gives the same numbers on the same backend.
    """

    def __init__(self, backend: Backend, impl: Any):
        self.backend = backend
        self._impl = impl

    def uniform(self, low: float, high: float, shape: Sequence[int], dtype: Any = None) -> Any:
        """Draws uniformly from [low, high) in the requested dtype (no float64 intermediate)."""
        u = self._draw(self._impl.random, tuple(shape), self.backend.dtype(dtype))
        return u * (high - low) + low

    def normal(self, mean: float, std: float, shape: Sequence[int], dtype: Any = None) -> Any:
        """Draws from N(mean, std^2) in the requested dtype."""
        z = self._draw(self._impl.standard_normal, tuple(shape), self.backend.dtype(dtype))
        return z * std + mean

    def bernoulli(self, p: float, shape: Sequence[int]) -> Any:
        """Boolean draws, True with probability p."""
        return self._draw(self._impl.random, tuple(shape), self.backend.dtype("float32")) < p

    def permutation(self, n: int) -> Any:
        """A random permutation of 0..n-1 as an int64 array."""
        return self._move(self._impl.permutation(n))

    def integers(self, low: int, high: int, shape: Sequence[int]) -> Any:
        """Integers drawn uniformly from [low, high), int64."""
        return self._move(self._impl.integers(low, high, size=tuple(shape), dtype=numpy.int64))

    def _draw(self, method: Callable[..., Any], shape: tuple[int, ...], dtype: Any) -> Any:
        return method(shape, dtype=dtype)

    def _move(self, a: Any) -> Any:
        return a


class HostGenerator(Generator):
    """Draws with NumPy on the host, then moves each result over in one explicit transfer."""

    def _draw(self, method: Callable[..., Any], shape: tuple[int, ...], dtype: Any) -> Any:
        return self._move(method(shape, dtype=numpy.dtype(_dtype_name(dtype))))

    def _move(self, a: Any) -> Any:
        return self.backend.to_device(numpy.asarray(a))


class Backend:
    """One array library: its namespace, device, dtype policy, host boundary and non-portable ops."""

    def __init__(self, name: str, xp: ModuleType, array_types: tuple[type, ...], device: Any = None):
        self.name = name
        self.xp = xp
        self.array_types = array_types
        self.device = device
        self.default_dtype = getattr(xp, DEFAULT_DTYPE)
        self.host_transfers = 0

    pools_buffers = False
    """True where a :class:`minidnn.workspace.Workspace` hands out reusable buffers: the library
    allocates every result afresh and its functions take ``out=`` (NumPy). CuPy keeps its own
    memory pool; the Array API standard has no ``out=``."""

    def __repr__(self) -> str:
        return f"Backend({self.name!r})"

    def apply_into(self, function: str, out: Any, *operands: Any) -> Any:
        """out ← ``xp.<function>(*operands)``, written into ``out`` (elementwise functions, e.g.
        "multiply", "sqrt", "divide"); returns ``out``. NumPy and CuPy write through ``out=``, with no
        temporary."""
        return getattr(self.xp, function)(*operands, out=out)

    # -- dtype policy ---------------------------------------------------------------------------
    def dtype(self, dtype: Any = None) -> Any:
        """The backend dtype for ``None`` (float32), a name ("float32", "float64") or a dtype."""
        if dtype is None:
            return self.default_dtype
        name = dtype if isinstance(dtype, str) else _dtype_name(dtype)
        if name not in DTYPE_NAMES:
            raise ValueError(f"dtype must be one of {DTYPE_NAMES}, got {dtype!r}")
        return getattr(self.xp, name)

    # -- arrays and the host boundary ------------------------------------------------------------
    def zeros(self, shape: Sequence[int], dtype: Any = None) -> Any:
        """Zeros on this backend's device (``dtype`` a dtype of ``xp``; float32 by default)."""
        return self.xp.zeros(tuple(shape), dtype=dtype or self.default_dtype, **self._placement)

    def full(self, shape: Sequence[int], value: float, dtype: Any = None) -> Any:
        """An array filled with ``value`` on this backend's device."""
        return self.xp.full(tuple(shape), value, dtype=dtype or self.default_dtype, **self._placement)

    def arange(self, n: int, dtype: Any = None) -> Any:
        """0, 1, ..., n-1 on this backend's device (int64 by default)."""
        return self.xp.arange(n, dtype=dtype or self.xp.int64, **self._placement)

    @property
    def _placement(self) -> dict[str, Any]:
        return {}

    def owns(self, a: Any) -> bool:
        """True when ``a`` is an array of this backend."""
        return isinstance(a, self.array_types)

    def to_device(self, a: Any, dtype: Any = None) -> Any:
        """Copies host data (NumPy arrays, lists, scalars) onto this backend's device.

        An array already on this backend is returned as is (converted when ``dtype`` differs).
        Python floats become float32 unless ``dtype`` says otherwise: never a silent float64.
        """
        if self.owns(a):
            return a if dtype is None else self.xp.astype(a, self.dtype(dtype))
        host = numpy.asarray(a)
        if dtype is not None:
            host = host.astype(_dtype_name(self.dtype(dtype)), copy=False)
        elif host.dtype.kind == "f" and not isinstance(a, numpy.ndarray | numpy.generic):
            host = host.astype(DEFAULT_DTYPE, copy=False)
        return self._from_host(host)

    def to_host(self, a: Any) -> numpy.ndarray:
        """The explicit host boundary: a NumPy copy of ``a`` (may share memory on NumPy)."""
        self.host_transfers += 1
        return self._to_host(a)

    def to_float(self, a: Any) -> float:
        """A Python float from a one-element array: the only scalar transfer solvers branch on."""
        if getattr(a, "size", 1) != 1:
            raise ValueError(f"to_float needs a one-element array, got shape {tuple(a.shape)}")
        self.host_transfers += 1
        return float(self._to_host(a).reshape(()))

    def rng(self, seed: int | None) -> Generator:
        """A random generator seeded with ``seed`` (an int; ``None`` is refused: runs are deterministic)."""
        if not isinstance(seed, int | numpy.integer) or isinstance(seed, bool):
            raise ValueError(f"rng needs an integer seed, got {seed!r}")
        return self._generator_class(self, self._make_rng(int(seed)))

    _generator_class: type[Generator] = Generator

    def _from_host(self, host: numpy.ndarray) -> Any:
        raise NotImplementedError

    def _to_host(self, a: Any) -> numpy.ndarray:
        raise NotImplementedError

    def _make_rng(self, seed: int) -> Any:
        return numpy.random.default_rng(seed)

    # -- the non-portable operations -------------------------------------------------------------
    def add_at(self, a: Any, index: Any, values: Any) -> Any:
        """In place ``a[index] += values``, accumulating repeated indices; returns ``a``."""
        raise NotImplementedError

    def add_along_axis(self, shape: tuple[int, ...], indices: Any, values: Any, axis: int) -> Any:
        """The adjoint of ``take_along_axis``: zeros of ``shape`` with ``values`` added at ``indices``.

        ``indices`` and ``values`` have the shape of the gathered array; repeated indices accumulate.
        """
        axis = axis % len(shape)
        xp = self.xp
        idx = xp.moveaxis(indices, axis, -1)
        vals = xp.moveaxis(values, axis, -1)
        width = shape[axis]
        lead = idx.shape[:-1]
        rows = xp.reshape(self.arange(math.prod(lead), dtype=idx.dtype), lead + (1,))
        flat = xp.reshape(idx + rows * width, (-1,))
        out = self.zeros((math.prod(lead) * width,), dtype=values.dtype)
        self.add_at(out, flat, xp.reshape(vals, (-1,)))
        out = xp.reshape(out, lead + (width,))
        return xp.moveaxis(out, -1, axis)

    def sliding_windows(self, x: Any, window: tuple[int, int], stride: tuple[int, int]) -> Any:
        """Windows over the last two axes: shape ``(..., OH, OW, KH, KW)``, a view where possible.

        ``OH = (H - KH) // SH + 1`` and likewise for the width; no padding (pad first).
        """
        *lead, h, w = x.shape
        (kh, kw), (sh, sw) = window, stride
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
        s = x.strides
        shape = (*lead, oh, ow, kh, kw)
        strides = (*s[:-2], s[-2] * sh, s[-1] * sw, s[-2], s[-1])
        return self._as_strided(x, shape, strides)

    def _as_strided(self, x: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
        raise NotImplementedError


class NumpyBackend(Backend):
    pools_buffers = True

    def __init__(self) -> None:
        super().__init__("numpy", numpy, (numpy.ndarray, numpy.generic), device="cpu")

    def _from_host(self, host: numpy.ndarray) -> numpy.ndarray:
        return numpy.array(host, copy=True)

    def _to_host(self, a: Any) -> numpy.ndarray:
        return numpy.asarray(a)

    def add_at(self, a: Any, index: Any, values: Any) -> Any:
        numpy.add.at(a, index, values)
        return a

    def _as_strided(self, x: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
        return numpy.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)


class CupyBackend(Backend):
    def __init__(self, cupy: ModuleType):
        super().__init__("cupy", cupy, (cupy.ndarray,), device=cupy.cuda.Device())
        self._cupyx = importlib.import_module("cupyx")

    def _from_host(self, host: numpy.ndarray) -> Any:
        return self.xp.asarray(host)

    def _to_host(self, a: Any) -> numpy.ndarray:
        return self.xp.asnumpy(a)

    def _make_rng(self, seed: int) -> Any:
        return self.xp.random.default_rng(seed)

    def add_at(self, a: Any, index: Any, values: Any) -> Any:
        self._cupyx.scatter_add(a, index, values)
        return a

    def _as_strided(self, x: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
        return self.xp.lib.stride_tricks.as_strided(x, shape, strides)


class StrictBackend(Backend):
    """array-api-strict on ``Device("device1")``: refuses implicit conversion to NumPy, like CuPy."""

    _generator_class = HostGenerator

    def __init__(self, xp: ModuleType):
        super().__init__("array-api-strict", xp, (type(xp.asarray(0)),), device=xp.Device("device1"))
        self._cpu = xp.Device("CPU_DEVICE")

    @property
    def _placement(self) -> dict[str, Any]:
        return {"device": self.device}

    def _from_host(self, host: numpy.ndarray) -> Any:
        return self.xp.asarray(self.xp.asarray(host, copy=True), device=self.device)

    def _to_host(self, a: Any) -> numpy.ndarray:
        return numpy.asarray(self.xp.asarray(a, device=self._cpu), copy=True)

    def apply_into(self, function: str, out: Any, *operands: Any) -> Any:
        """The standard has no ``out=``: the result is computed, then assigned (one temporary)."""
        out[...] = getattr(self.xp, function)(*operands)
        return out

    def add_at(self, a: Any, index: Any, values: Any) -> Any:
        """Basic indices only: they never repeat, so ``a[index] += values`` is exact.

        The standard has no scatter-add for integer-array indices; this stand-in refuses them.
        """
        if not is_basic_index(index):
            raise NotImplementedError(
                "add_at with integer-array indices: the array-api-strict stand-in has no scatter-add"
            )
        a[index] = a[index] + values
        return a

    def add_along_axis(self, shape: tuple[int, ...], indices: Any, values: Any, axis: int) -> Any:
        """Portable form: a one-hot comparison summed over the gathered axis (O(K * width) memory)."""
        xp = self.xp
        axis = axis % len(shape)
        width = shape[axis]
        idx = xp.expand_dims(xp.moveaxis(indices, axis, -1), axis=-1)
        vals = xp.expand_dims(xp.moveaxis(values, axis, -1), axis=-1)
        hits = idx == self.arange(width, dtype=idx.dtype)
        out = xp.sum(xp.where(hits, vals, 0), axis=-2)
        return xp.moveaxis(out, -1, axis)

    def sliding_windows(self, x: Any, window: tuple[int, int], stride: tuple[int, int]) -> Any:
        """Portable form: one strided slice per window offset, stacked (a copy, not a view)."""
        xp = self.xp
        *_, h, w = x.shape
        (kh, kw), (sh, sw) = window, stride
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
        rows = []
        for i in range(kh):
            cols = [x[..., i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw] for j in range(kw)]
            rows.append(xp.stack(cols, axis=-1))
        return xp.stack(rows, axis=-2)


def is_basic_index(index: Any) -> bool:
    """True for indices made of ints, slices, ``None`` and ``...`` only (no repeats possible)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, int | slice) or i is None or i is Ellipsis for i in items)


def _dtype_name(dtype: Any) -> str:
    name = getattr(dtype, "name", None) or str(dtype)
    return name.split(".")[-1].strip("'>")


# -- registry ------------------------------------------------------------------------------------
NAMES = ("numpy", "cupy", "array-api-strict")
_ALIASES = {"np": "numpy", "cp": "cupy", "strict": "array-api-strict"}
_cache: dict[str, Backend] = {}
_unavailable: dict[str, str] = {}


def _load(name: str) -> Backend:
    if name == "numpy":
        return NumpyBackend()
    if name == "cupy":
        try:
            cupy = importlib.import_module("cupy")
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as err:  # ImportError, or a CUDA runtime error without a driver
            raise BackendUnavailable(f"backend 'cupy' is unavailable: {err}") from err
        if count < 1:
            raise BackendUnavailable("backend 'cupy' is unavailable: no CUDA device found")
        return CupyBackend(cupy)
    try:
        strict = importlib.import_module("array_api_strict")
    except ImportError as err:
        raise BackendUnavailable(
            "backend 'array-api-strict' is unavailable: install it with pip install -e \".[test]\""
        ) from err
    return StrictBackend(strict)


def get(name: str | Backend = "numpy") -> Backend:
    """The backend called ``name`` ("numpy", "cupy" or "array-api-strict"); one object per name."""
    if isinstance(name, Backend):
        return name
    key = _ALIASES.get(name, name)
    if key not in NAMES:
        raise ValueError(f"unknown backend {name!r}; valid backends: {', '.join(NAMES)}")
    if key in _cache:
        return _cache[key]
    if key in _unavailable:
        raise BackendUnavailable(_unavailable[key])
    try:
        backend = _load(key)
    except BackendUnavailable as err:
        _unavailable[key] = str(err)
        raise
    _cache[key] = backend
    _by_type.update(dict.fromkeys(backend.array_types, backend))
    return backend


def available(name: str) -> bool:
    """True when ``get(name)`` would succeed."""
    try:
        get(name)
    except BackendUnavailable:
        return False
    return True


_by_type: dict[type, Backend] = {}


_MODULE_PREFIXES = {"numpy": "numpy", "cupy": "cupy", "array_api_strict": "array-api-strict"}


def of(a: Any) -> Backend:
    """The backend that owns array ``a``; a TypeError for anything that is not a backend array."""
    backend = _by_type.get(type(a))
    if backend is not None:
        return backend
    name = _MODULE_PREFIXES.get(type(a).__module__.split(".")[0])
    if name is not None:
        backend = get(name)
        if backend.owns(a):
            _by_type[type(a)] = backend
            return backend
    raise TypeError(f"expected an array of one of the backends {NAMES}, got {type(a).__name__}")


get("numpy")


def namespace(a: Any) -> ModuleType:
    """The array namespace of the backend that owns ``a`` (``of(a).xp``, fast path)."""
    backend = _by_type.get(type(a))
    return (backend if backend is not None else of(a)).xp
