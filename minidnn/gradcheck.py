"""Derivative checks against central finite differences in float64, along random directions.

``check_grad(fn, inputs)``
    For random directions d, compares three numbers: the reverse-mode directional derivative
    <grad F(x), d>, the forward-mode one (the tangent of F when x carries d), and the central
    difference (F(x + h d) - F(x - h d)) / 2h evaluated in float64.
``check_hvp(fn, inputs)``
    For random v, compares H v from each requested mode with the central difference of the
    float64 gradient (grad F(x + h v) - grad F(x - h v)) / 2h, and checks the symmetry
    <u, H v> = <v, H u>.

``fn`` maps tensors to a tensor; a non-scalar output y is reduced to F = <w, y> with random w, so
every output component is checked. Derivatives are computed in the inputs' dtype and compared with
the float64 difference under the tolerances of ``TOLERANCES`` for that dtype. A failure raises
:class:`GradcheckError` showing the inputs, the direction and both sides. All draws come from
``seed``; the checks run on any backend (the directions are drawn on the host and moved over).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy

from minidnn import backend as _backend
from minidnn.derivatives import MODES, hvp
from minidnn.engine import grad
from minidnn.mode import no_grad
from minidnn.tensor import Tensor

# Tolerances per dtype of the derivatives under test, for |analytic - numeric| <= atol + rtol * scale.
# float64: the central difference with h = 1e-6 is accurate to about 1e-9 relative; float32
# derivatives carry rounding of order 1e-7 per operation, accumulated over sums and products.
TOLERANCES: dict[str, dict[str, float]] = {
    "float64": {"rtol": 1e-6, "atol": 1e-8},
    "float32": {"rtol": 2e-3, "atol": 2e-4},
}
STEP = 1e-6


class GradcheckError(AssertionError):
    """An analytic derivative disagrees with its finite-difference estimate."""


def check_grad(
    fn: Callable[..., Tensor],
    inputs: Sequence[Any],
    *,
    directions: int = 3,
    seed: int = 0,
    step: float = STEP,
    rtol: float | None = None,
    atol: float | None = None,
) -> None:
    """Checks reverse- and forward-mode first derivatives of ``fn`` at ``inputs`` (see module doc)."""
    xs = _inputs("check_grad", inputs)
    rng = numpy.random.default_rng(seed)
    weight = _output_weight(fn, xs, rng)
    scalar = _scalarized(fn, weight)
    leaves = [Tensor(x, requires_grad=True) for x in xs]
    grads = grad(scalar(*leaves), leaves)
    tol = _tolerance(xs[0].dtype, rtol, atol)
    for k in range(directions):
        ds = [_direction(x, rng) for x in xs]
        reverse = sum(_dot(g.data, d) for g, d in zip(grads, ds))
        with no_grad():
            forward_out = scalar(*[Tensor(x, tangent=d) for x, d in zip(xs, ds)])
        forward = _host_sum(forward_out.tangent) if forward_out.tangent is not None else 0.0
        numeric = (_host_sum(_eval64(scalar, xs, ds, step)) - _host_sum(_eval64(scalar, xs, ds, -step))) / (
            2 * step
        )
        scale = max(abs(numeric), sum(_abs_dot(g.data, d) for g, d in zip(grads, ds)))
        for label, value in (("reverse mode <grad, d>", reverse), ("forward mode tangent", forward)):
            if abs(value - numeric) > tol["atol"] + tol["rtol"] * scale:
                raise GradcheckError(
                    _report(
                        "check_grad",
                        fn,
                        xs,
                        ds,
                        k,
                        f"{label} = {value!r}",
                        f"finite difference = {numeric!r}",
                        tol,
                    )
                )


def check_hvp(
    fn: Callable[..., Tensor],
    inputs: Sequence[Any],
    *,
    directions: int = 2,
    modes: Sequence[str] = MODES,
    seed: int = 0,
    step: float = STEP,
    rtol: float | None = None,
    atol: float | None = None,
) -> None:
    """Checks Hessian-vector products of ``fn`` at ``inputs`` in each mode, and their symmetry."""
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"check_hvp: unknown mode {mode!r}; valid modes: {', '.join(MODES)}")
    xs = _inputs("check_hvp", inputs)
    rng = numpy.random.default_rng(seed)
    scalar = _scalarized(fn, _output_weight(fn, xs, rng))
    tol = _tolerance(xs[0].dtype, rtol, atol)
    x64 = [_astype(x, "float64") for x in xs]
    for k in range(directions):
        vs = [_direction(x, rng) for x in xs]
        numeric = _gradient_difference(scalar, x64, [_astype(v, "float64") for v in vs], step)
        scale = max(float(numpy.max(numpy.abs(numeric))), 1.0)
        for mode in modes:
            analytic = _flat_host(hvp(scalar, xs, vs, mode=mode).hvps)
            error = float(numpy.max(numpy.abs(analytic - numeric))) if analytic.size else 0.0
            if error > tol["atol"] + tol["rtol"] * scale:
                raise GradcheckError(
                    _report(
                        "check_hvp",
                        fn,
                        xs,
                        vs,
                        k,
                        f"H v ({mode}) = {analytic}",
                        f"finite difference = {numeric}",
                        tol,
                    )
                )
        us = [_direction(x, rng) for x in xs]
        for mode in modes:
            hv = _flat_host(hvp(scalar, xs, vs, mode=mode).hvps)
            hu = _flat_host(hvp(scalar, xs, us, mode=mode).hvps)
            u, v = _flat_host(us), _flat_host(vs)
            uhv, vhu = float(u @ hv), float(v @ hu)
            sym_scale = max(float(numpy.abs(u) @ numpy.abs(hv)), float(numpy.abs(v) @ numpy.abs(hu)), 1.0)
            if abs(uhv - vhu) > tol["atol"] + tol["rtol"] * sym_scale:
                raise GradcheckError(
                    _report(
                        "check_hvp symmetry",
                        fn,
                        xs,
                        vs,
                        k,
                        f"<u, H v> = {uhv!r}",
                        f"<v, H u> = {vhu!r} ({mode})",
                        tol,
                    )
                )


# -- pieces ---------------------------------------------------------------------------------------
def _inputs(op: str, inputs: Sequence[Any]) -> list[Any]:
    xs = [x.data if isinstance(x, Tensor) else x for x in inputs]
    if not xs:
        raise ValueError(f"{op}: no inputs")
    kinds = {(_backend.of(x).name, str(x.dtype)) for x in xs}
    if len(kinds) != 1:
        raise ValueError(f"{op}: inputs must share one backend and one dtype, got {sorted(kinds)}")
    return xs


def _tolerance(dtype: Any, rtol: float | None, atol: float | None) -> dict[str, float]:
    name = _backend._dtype_name(dtype)
    if name not in TOLERANCES:
        raise ValueError(f"no gradcheck tolerances for dtype {name}; known: {', '.join(TOLERANCES)}")
    tol = dict(TOLERANCES[name])
    if rtol is not None:
        tol["rtol"] = rtol
    if atol is not None:
        tol["atol"] = atol
    return tol


def _output_weight(fn: Callable[..., Tensor], xs: list[Any], rng: numpy.random.Generator) -> Any:
    with no_grad():
        out = fn(*[Tensor(x) for x in xs])
    if not isinstance(out, Tensor):
        raise TypeError(f"the function under check must return a Tensor, got {type(out).__name__}")
    if out.size == 1:
        return None
    return out.backend.to_device(rng.standard_normal(out.shape), dtype="float64")


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


def _astype(x: Any, dtype: str) -> Any:
    backend = _backend.of(x)
    return backend.xp.astype(x, backend.dtype(dtype))


def _eval64(scalar: Callable[..., Tensor], xs: list[Any], ds: list[Any], t: float) -> Any:
    with no_grad():
        moved = [Tensor(_astype(x, "float64") + t * _astype(d, "float64")) for x, d in zip(xs, ds)]
        return scalar(*moved).data


def _gradient_difference(
    scalar: Callable[..., Tensor], x64: list[Any], v64: list[Any], h: float
) -> numpy.ndarray:
    def gradient_at(t: float) -> numpy.ndarray:
        leaves = [Tensor(x + t * v, requires_grad=True) for x, v in zip(x64, v64)]
        return _flat_host(grad(scalar(*leaves), leaves))

    return (gradient_at(h) - gradient_at(-h)) / (2 * h)


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


def _report(
    check: str,
    fn: Callable[..., Tensor],
    xs: list[Any],
    ds: list[Any],
    k: int,
    analytic: str,
    numeric: str,
    tol: dict[str, float],
) -> str:
    name = getattr(fn, "__name__", repr(fn))
    lines = [f"{check} failed for {name} (direction {k}, tolerances {tol}):", f"  {analytic}", f"  {numeric}"]
    with numpy.printoptions(precision=6, threshold=40, edgeitems=3):
        for i, (x, d) in enumerate(zip(xs, ds)):
            lines.append(f"  input {i}: shape {tuple(x.shape)} {x.dtype}\n{_host(x)}")
            lines.append(f"  direction {i}:\n{_host(d)}")
    return "\n".join(lines)
