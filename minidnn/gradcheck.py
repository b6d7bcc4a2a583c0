"""Derivative checks against central finite differences in float64.

``fn`` maps tensors to a tensor; a non-scalar output y is reduced to F = <w, y> with random w (rounded
to the inputs' dtype, so the function checked in float64 is exactly the one differentiated), so every
output component is checked. Derivatives are computed in the inputs' dtype, finite differences in
float64 with step h, and the inputs are treated as one joint vector x.

``check_grad(fn, inputs)``
    For each direction d compares the reverse-mode directional derivative <grad F(x), d> and the
    forward-mode one (the tangent of F when x carries d) with D = (F(x + h d) - F(x - h d)) / 2h.
    The first direction is the analytic gradient itself (rescaled): along it <g, d> = sum |g_i d_i|,
    nothing cancels, so an error proportional to the gradient shows whatever the input's size. The
    others are normal draws, for errors orthogonal to the gradient.
``check_hvp(fn, inputs)``
    For random v compares H v from each requested mode with the central difference of the float64
    gradient (grad F(x + h v) - grad F(x - h v)) / 2h, in the 2-norm, and checks the symmetry
    <u, H v> = <v, H u>. The reference is the difference of the function's *own* gradient: a backward
    pass that is consistently wrong (say 10% too large everywhere) has a derivative that agrees with
    it, so only ``check_grad`` catches a wrong gradient; ``check_hvp`` catches a backward pass that is
    right in value but wrong in its own derivatives (a value treated as a constant, a lost term).

Tolerances are relative to the derivative's own size, with a floor for rounding alone; no absolute
floor above the dtype's underflow level (such a floor passes any function whose values are small):

    |analytic - D| <= rtol |D| + ulps (eps sum_i |g_i d_i| + n eta)
                      + ulps eps_64 max |F(x +- h d)| / h + |D(2h) - D(h)|

eps is the machine epsilon of the dtype under test and eta its smallest subnormal (1e-45 in
float32): eps sum_i |g_i d_i| bounds the rounding of a dot product of n terms, n eta what gradual
underflow adds to it; eps_64 |F| / h is the rounding of a central difference (Nocedal & Wright,
Numerical Optimization, 2nd ed., section 8.1) and |D(2h) - D(h)| three times its truncation error
(Richardson extrapolation). Second order uses the 2-norm analogues. A failure raises
:class:`GradcheckError` stating the relative error and the tolerance, which input and which
component is worst, in a few lines whatever the input's size. All draws come from ``seed``; the
checks run on any backend (the directions are drawn on the host and moved over once each).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy

from minidnn import backend as _backend
from minidnn.derivatives import MODES, hvp
from minidnn.engine import grad
from minidnn.mode import no_grad
from minidnn.tensor import Tensor

# Per dtype of the derivatives under test. rtol: a 1% error must fail in float32, whose derivatives
# carry rounding of order 1e-7 per operation; in float64 the central difference with h = 1e-6 is
# accurate to about eps/h = 2e-10 relative (truncation h^2 |F'''| / 6 is smaller still). ulps: the
# rounding floor in units of eps. Margin: the op, layer and loss tables (tests/test_ops.py,
# tests/test_layers.py, tests/test_losses.py) still pass with rtol and ulps five times smaller.
TOLERANCES: dict[str, dict[str, float]] = {
    "float64": {"rtol": 1e-6, "ulps": 64.0},
    "float32": {"rtol": 2e-3, "ulps": 64.0},
}
STEP = 1e-6
LOCATE_LIMIT = 512  # at most this many components of one input are differenced to find the worst
MAX_LISTED_INPUTS = 8  # a failure message lists this many inputs, then counts the rest
_EPS64 = float(numpy.finfo(numpy.float64).eps)


class GradcheckError(AssertionError):
    """An analytic derivative disagrees with its finite-difference estimate."""


@dataclass(frozen=True)
class _Tolerance:
    """The bound on |analytic - numeric| for one dtype; ``underflow`` is size times the smallest
    subnormal, the absolute error gradual underflow leaves in a sum of size terms (Higham, Accuracy
    and Stability of Numerical Algorithms, 2nd ed., section 2.1: fl(x op y) = (x op y)(1 + d) + e)."""

    rtol: float
    ulps: float
    atol: float
    eps: float
    underflow: float

    def bound(self, reference: float, rounding_scale: float, fd_noise: float) -> float:
        """rtol |reference| + ulps (eps rounding scale + underflow) + the difference's noise + atol."""
        rounding = self.ulps * (self.eps * rounding_scale + self.underflow)
        return self.rtol * abs(reference) + rounding + fd_noise + self.atol

    def describe(self, bound: float, reference: float) -> str:
        relative = f"{bound / abs(reference):.2e} relative" if reference else "absolute"
        return f"tolerance {bound:.2e} ({relative}: rtol {self.rtol:.1e}, rounding floor {self.ulps:g} ulps)"


@dataclass(frozen=True)
class _Problem:
    """What one check works on: the function, its scalarization F, the inputs, tolerance and step."""

    fn: Callable[..., Tensor]
    scalar: Callable[..., Tensor]
    xs: list[Any]
    tol: _Tolerance
    step: float
    directions: int

    @property
    def name(self) -> str:
        return getattr(self.fn, "__name__", repr(self.fn))


def _problem(
    check: str,
    fn: Callable[..., Tensor],
    inputs: Sequence[Any],
    rng: numpy.random.Generator,
    *,
    rtol: float | None,
    atol: float,
    step: float,
    directions: int,
) -> _Problem:
    xs = _inputs(check, inputs)
    scalar = _scalarized(fn, _output_weight(fn, xs, rng))
    size = sum(int(x.size) for x in xs)
    return _Problem(fn, scalar, xs, _tolerance(xs[0].dtype, size, rtol, atol), step, directions)


def check_grad(
    fn: Callable[..., Tensor],
    inputs: Sequence[Any],
    *,
    directions: int = 3,
    seed: int = 0,
    step: float = STEP,
    rtol: float | None = None,
    atol: float = 0.0,
) -> None:
    """Checks reverse- and forward-mode first derivatives of ``fn`` at ``inputs`` (see module doc).

    ``rtol`` overrides the dtype's relative tolerance; ``atol`` adds an absolute one (0 by default).
    """
    rng = numpy.random.default_rng(seed)
    p = _problem("check_grad", fn, inputs, rng, rtol=rtol, atol=atol, step=step, directions=directions)
    leaves = [Tensor(x, requires_grad=True) for x in p.xs]
    grads = [g.data for g in grad(p.scalar(*leaves), leaves)]
    for k in range(directions):
        ds = _gradient_direction(p.xs, grads, rng) if k == 0 else [_direction(x, rng) for x in p.xs]
        numeric, noise = _central_difference(p, ds)
        bound = p.tol.bound(numeric, sum(_abs_dot(g, d) for g, d in zip(grads, ds)), noise)
        for label, value in (
            ("reverse mode <grad, d>", sum(_dot(g, d) for g, d in zip(grads, ds))),
            ("forward mode tangent", _tangent(p, ds)),
        ):
            if abs(value - numeric) > bound:
                which = "along the gradient" if k == 0 else "a normal draw"
                lines = [
                    f"check_grad failed for {p.name}: {label} disagrees with the float64 central difference",
                    f"  direction {k} of {directions} ({which}), step {step:g}",
                    f"  {label} = {value:.8e}, finite difference = {numeric:.8e}",
                    f"  error {_error(value, numeric)} > {p.tol.describe(bound, numeric)}",
                    *_worst_in_gradient(p, grads, ds, forward=label.startswith("forward")),
                    *_input_lines(p.xs),
                ]
                raise GradcheckError("\n".join(lines))


def check_hvp(
    fn: Callable[..., Tensor],
    inputs: Sequence[Any],
    *,
    directions: int = 2,
    modes: Sequence[str] = MODES,
    seed: int = 0,
    step: float = STEP,
    rtol: float | None = None,
    atol: float = 0.0,
) -> None:
    """Checks Hessian-vector products of ``fn`` at ``inputs`` in each mode, and their symmetry.

    The reference is the central difference of ``fn``'s own float64 gradient (see module doc).
    """
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"check_hvp: unknown mode {mode!r}; valid modes: {', '.join(MODES)}")
    rng = numpy.random.default_rng(seed)
    p = _problem("check_hvp", fn, inputs, rng, rtol=rtol, atol=atol, step=step, directions=directions)
    for k in range(directions):
        vs = [_direction(x, rng) for x in p.xs]
        numeric, noise = _gradient_difference(p, vs)
        reference = float(numpy.linalg.norm(numeric))
        for mode in modes:
            analytic = _flat_host(hvp(p.scalar, p.xs, vs, mode=mode).hvps)
            error = float(numpy.linalg.norm(analytic - numeric))
            bound = p.tol.bound(reference, float(numpy.linalg.norm(analytic)), noise)
            if error > bound:
                worst = int(numpy.argmax(numpy.abs(analytic - numeric)))
                j, index = _locate(p.xs, worst)
                lines = [
                    f"check_hvp failed for {p.name}: H v ({mode}) disagrees with the gradient's difference",
                    f"  direction {k} of {directions} (a normal draw), step {step:g}",
                    f"  ‖H v - difference‖ = {_error_norm(error, reference)}, ‖difference‖ = {reference:.2e}",
                    f"  > {p.tol.describe(bound, reference)}",
                    f"  worst component: input {j} at index {index}",
                    f"    analytic {analytic[worst]:.8e}, finite difference {numeric[worst]:.8e}",
                    *_input_lines(p.xs),
                ]
                raise GradcheckError("\n".join(lines))
        _check_symmetry(p, vs, [_direction(x, rng) for x in p.xs], modes, k)


def _check_symmetry(p: _Problem, vs: list[Any], us: list[Any], modes: Sequence[str], k: int) -> None:
    """<u, H v> = <v, H u> in each mode."""
    u, v = _flat_host(us), _flat_host(vs)
    for mode in modes:
        hv = _flat_host(hvp(p.scalar, p.xs, vs, mode=mode).hvps)
        hu = _flat_host(hvp(p.scalar, p.xs, us, mode=mode).hvps)
        uhv, vhu = float(u @ hv), float(v @ hu)
        rounding = max(float(numpy.abs(u) @ numpy.abs(hv)), float(numpy.abs(v) @ numpy.abs(hu)))
        reference = max(abs(uhv), abs(vhu))
        bound = p.tol.bound(reference, rounding, 0.0)
        if abs(uhv - vhu) > bound:
            lines = [
                f"check_hvp symmetry failed for {p.name} ({mode}): <u, H v> != <v, H u>",
                f"  direction {k} of {p.directions}: <u, H v> = {uhv:.8e}, <v, H u> = {vhu:.8e}",
                f"  difference {abs(uhv - vhu):.2e} > {p.tol.describe(bound, reference)}",
                *_input_lines(p.xs),
            ]
            raise GradcheckError("\n".join(lines))


# -- pieces ---------------------------------------------------------------------------------------
def _inputs(op: str, inputs: Sequence[Any]) -> list[Any]:
    xs = [x.data if isinstance(x, Tensor) else x for x in inputs]
    if not xs:
        raise ValueError(f"{op}: no inputs")
    kinds = {(_backend.of(x).name, str(x.dtype)) for x in xs}
    if len(kinds) != 1:
        raise ValueError(f"{op}: inputs must share one backend and one dtype, got {sorted(kinds)}")
    return xs


def _tolerance(dtype: Any, size: int, rtol: float | None, atol: float) -> _Tolerance:
    name = _backend._dtype_name(dtype)
    if name not in TOLERANCES:
        raise ValueError(f"no gradcheck tolerances for dtype {name}; known: {', '.join(TOLERANCES)}")
    values, info = TOLERANCES[name], numpy.finfo(name)
    rtol = values["rtol"] if rtol is None else rtol
    return _Tolerance(rtol, values["ulps"], atol, float(info.eps), size * float(info.smallest_subnormal))


def _output_weight(fn: Callable[..., Tensor], xs: list[Any], rng: numpy.random.Generator) -> Any:
    """Random w for F = <w, fn(x)>, exactly representable in the inputs' dtype (None for a scalar)."""
    with no_grad():
        out = fn(*[Tensor(x) for x in xs])
    if not isinstance(out, Tensor):
        raise TypeError(f"the function under check must return a Tensor, got {type(out).__name__}")
    if out.size == 1:
        return None
    w = rng.standard_normal(out.shape).astype(_backend._dtype_name(xs[0].dtype)).astype(numpy.float64)
    return out.backend.to_device(w, dtype="float64")


def _scalarized(fn: Callable[..., Tensor], weight: Any) -> Callable[..., Tensor]:
    """F(x) = <w, fn(x)> (or fn(x) itself for one-element outputs), in the inputs' dtype."""

    def scalar(*ts: Tensor) -> Tensor:
        out = fn(*ts)
        if weight is None:
            return out.reshape(())
        w = out.backend.xp.astype(weight, out.dtype)
        return (out * w).sum()

    return scalar


def _direction(x: Any, rng: numpy.random.Generator) -> Any:
    backend = _backend.of(x)
    return backend.to_device(rng.standard_normal(tuple(x.shape)), dtype=_backend._dtype_name(x.dtype))


def _gradient_direction(xs: list[Any], grads: list[Any], rng: numpy.random.Generator) -> list[Any]:
    """The gradient scaled to the norm sqrt(n) of a normal draw; a normal draw where it is zero."""
    host = [_host(g) for g in grads]
    norm = float(numpy.sqrt(sum(float(numpy.sum(g * g)) for g in host)))
    if norm == 0.0 or not numpy.isfinite(norm):
        return [_direction(x, rng) for x in xs]
    scale = numpy.sqrt(sum(g.size for g in host)) / norm
    return [
        _backend.of(x).to_device(g * scale, dtype=_backend._dtype_name(x.dtype)) for x, g in zip(xs, host)
    ]


def _astype(x: Any, dtype: str) -> Any:
    backend = _backend.of(x)
    return backend.xp.astype(x, backend.dtype(dtype))


def _tangent(p: _Problem, ds: list[Any | None]) -> float:
    """The forward-mode derivative of F along ``ds`` (``None``: that input does not move)."""
    with no_grad():
        out = p.scalar(*[Tensor(x, tangent=d) for x, d in zip(p.xs, ds)])
    return _host_sum(out.tangent) if out.tangent is not None else 0.0


def _moved64(p: _Problem, ds: list[Any | None], t: float) -> list[Any]:
    """x + t d in float64 (``None``: that input does not move)."""
    return [
        _astype(x, "float64") + (0.0 if d is None else t * _astype(d, "float64")) for x, d in zip(p.xs, ds)
    ]


def _eval64(p: _Problem, ds: list[Any | None], t: float) -> float:
    with no_grad():
        return _host_sum(p.scalar(*[Tensor(m) for m in _moved64(p, ds, t)]).data)


def _central_difference(p: _Problem, ds: list[Any | None]) -> tuple[float, float]:
    """D(h) = (F(x + h d) - F(x - h d)) / 2h in float64, and its own error estimate.

    The estimate adds the rounding, ulps eps_64 max|F| / h, and |D(2h) - D(h)|, three times the
    truncation error c h^2 (Richardson: D(h) = F'd + c h^2 + O(h^4)).
    """
    h = p.step
    values = {t: _eval64(p, ds, t) for t in (h, -h, 2 * h, -2 * h)}
    d1 = (values[h] - values[-h]) / (2 * h)
    d2 = (values[2 * h] - values[-2 * h]) / (4 * h)
    rounding = TOLERANCES["float64"]["ulps"] * _EPS64 * max(abs(v) for v in values.values()) / h
    return d1, rounding + abs(d2 - d1)


def _gradient_difference(p: _Problem, vs: list[Any]) -> tuple[numpy.ndarray, float]:
    """(grad F(x + h v) - grad F(x - h v)) / 2h in float64, and its error estimate in the 2-norm.

    As for :func:`_central_difference`: ulps eps_64 max‖grad F‖ / h plus ‖D(2h) - D(h)‖.
    """
    h = p.step

    def gradient_at(t: float) -> numpy.ndarray:
        leaves = [Tensor(m, requires_grad=True) for m in _moved64(p, vs, t)]
        return _flat_host(grad(p.scalar(*leaves), leaves))

    grads = {t: gradient_at(t) for t in (h, -h, 2 * h, -2 * h)}
    d1 = (grads[h] - grads[-h]) / (2 * h)
    d2 = (grads[2 * h] - grads[-2 * h]) / (4 * h)
    size = max(float(numpy.linalg.norm(g)) for g in grads.values())
    rounding = TOLERANCES["float64"]["ulps"] * _EPS64 * size / h
    return d1, rounding + float(numpy.linalg.norm(d2 - d1))


def _host(a: Any) -> numpy.ndarray:
    return numpy.asarray(_backend.of(a).to_host(a), dtype=numpy.float64)


def _host_sum(a: Any) -> float:
    return float(numpy.sum(_host(a)))


def _dot(a: Any, b: Any) -> float:
    return float(numpy.sum(_host(a) * _host(b)))


def _abs_dot(a: Any, b: Any) -> float:
    return float(numpy.sum(numpy.abs(_host(a)) * numpy.abs(_host(b))))


def _flat_host(arrays: Sequence[Any]) -> numpy.ndarray:
    parts = [_host(a.data if isinstance(a, Tensor) else a).ravel() for a in arrays]
    return numpy.concatenate(parts) if parts else numpy.zeros(0)


# -- failure reports --------------------------------------------------------------------------------
def _error(analytic: float, numeric: float) -> str:
    error = abs(analytic - numeric)
    relative = f"{error / abs(numeric):.2e} relative" if numeric else "the difference is 0"
    return f"{error:.2e} ({relative})"


def _error_norm(error: float, reference: float) -> str:
    relative = f"{error / reference:.2e} relative" if reference else "the difference is 0"
    return f"{error:.2e} ({relative})"


def _worst_in_gradient(p: _Problem, grads: list[Any], ds: list[Any], forward: bool) -> list[str]:
    """The input whose part of d alone gives the largest error, then its worst component."""
    errors = []
    for j in range(len(p.xs)):
        only = [d if i == j else None for i, d in enumerate(ds)]
        numeric, _ = _central_difference(p, only)
        analytic = _tangent(p, only) if forward else _dot(grads[j], ds[j])
        errors.append(abs(analytic - numeric))
    j = int(numpy.argmax(errors))
    return [
        f"  worst input: {j} (the error along its own part of d is the largest)",
        *_worst_partial(p, grads, j, forward),
    ]


def _worst_partial(p: _Problem, grads: list[Any], j: int, forward: bool) -> list[str]:
    """Coordinate differences of input ``j`` (at most LOCATE_LIMIT components, seeded sample)."""
    x = p.xs[j]
    backend = _backend.of(x)
    size = int(x.size)
    picked = numpy.arange(size)
    if size > LOCATE_LIMIT:
        picked = numpy.sort(numpy.random.default_rng(0).choice(size, LOCATE_LIMIT, replace=False))
    gradient = _host(grads[j]).ravel()
    worst = (-1.0, 0, 0.0, 0.0)
    for i in picked:
        unit = numpy.zeros(size)
        unit[i] = 1.0
        e = backend.to_device(unit.reshape(tuple(x.shape)), dtype=_backend._dtype_name(x.dtype))
        only = [e if m == j else None for m in range(len(p.xs))]
        numeric = (_eval64(p, only, p.step) - _eval64(p, only, -p.step)) / (2 * p.step)
        analytic = _tangent(p, only) if forward else float(gradient[i])
        if abs(analytic - numeric) > worst[0]:
            worst = (abs(analytic - numeric), int(i), analytic, numeric)
    _, i, analytic, numeric = worst
    index = tuple(int(c) for c in numpy.unravel_index(i, tuple(x.shape))) if x.ndim else ()
    return [
        f"  worst component: input {j} at index {index} ({len(picked)} of {size} components differenced)",
        f"    analytic {analytic:.8e}, finite difference {numeric:.8e}, error {_error(analytic, numeric)}",
    ]


def _locate(xs: list[Any], flat: int) -> tuple[int, tuple[int, ...]]:
    """(input, multi-index) of a position in the inputs' joint flat vector."""
    for j, x in enumerate(xs):
        if flat < x.size:
            return j, tuple(int(c) for c in numpy.unravel_index(flat, tuple(x.shape))) if x.ndim else ()
        flat -= int(x.size)
    raise IndexError(flat)


def _input_lines(xs: list[Any]) -> list[str]:
    lines = ["  inputs:"]
    for j, x in enumerate(xs[:MAX_LISTED_INPUTS]):
        values = _host(x)
        span = f"values in [{values.min():.3g}, {values.max():.3g}]" if values.size else "empty"
        lines.append(f"    {j}: shape {tuple(x.shape)} {x.dtype}, {span}")
    if len(xs) > MAX_LISTED_INPUTS:
        lines.append(f"    ... and {len(xs) - MAX_LISTED_INPUTS} more")
    return lines
