"""Forward mode and Hessian-vector products built on the graph.

Forward mode carries a tangent beside every value: each primitive's ``jvp`` maps the tangents of its
inputs to the tangent of its output. Because every backward pass is written with primitives, running
the backward pass on tangent-carrying values differentiates the gradient itself along the tangent:

    forward over reverse:  x carries v;  g = grad f(x) carries  H v            (one pass of each)
    reverse over reverse:  g = grad f(x) recorded;  H v = grad <g, v>           (backward of backward)

Both give the exact product. Forward over reverse is the default: on the MLP 784-300-100-10 it costs
about two gradients against about three for reverse over reverse (``benchmarks/hvp_ratio.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from minidnn.engine import grad
from minidnn.mode import no_grad
from minidnn.tensor import Tensor

MODES = ("forward-over-reverse", "reverse-over-reverse")


class HVP(NamedTuple):
    """The value f(x), the gradient and the Hessian-vector products, one per input."""

    value: Tensor
    grads: list[Tensor]
    hvps: list[Tensor]


def jvp(fn: Callable[..., Tensor], primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Tensor, Tensor]:
    """``fn(*primals)`` and its directional derivative along ``tangents`` (forward mode, no graph)."""
    xs = _leaves("jvp", primals, tangents, requires_grad=False)
    with no_grad():
        out = fn(*xs)
    tangent = out.tangent if out.tangent is not None else out.backend.xp.zeros_like(out.data)
    return out.detach(), Tensor._make(tangent, None, None)


def hvp(
    fn: Callable[..., Tensor],
    primals: Sequence[Any],
    vectors: Sequence[Any],
    mode: str = "forward-over-reverse",
) -> HVP:
    """The exact product of the Hessian of the scalar ``fn(*primals)`` with ``vectors``.

    ``primals`` and ``vectors`` are sequences of arrays (or tensors) of matching shapes; the Hessian
    is that of ``fn`` with respect to all primals jointly.
    """
    if mode not in MODES:
        raise ValueError(f"hvp: unknown mode {mode!r}; valid modes: {', '.join(MODES)}")
    if mode == "forward-over-reverse":
        xs = _leaves("hvp", primals, vectors, requires_grad=True)
        value = fn(*xs)
        grads = grad(value, xs)
        hvps = [_tangent_or_zeros(g) for g in grads]
    else:
        xs = _leaves("hvp", primals, None, requires_grad=True)
        vs = _leaves("hvp", vectors, None, requires_grad=False)
        value = fn(*xs)
        grads = grad(value, xs, create_graph=True)
        hvps = grad(grads, xs, grad_outputs=vs)
        grads = [g.detach() for g in grads]
    return HVP(value.detach(), [g.detach() for g in grads], [h.detach() for h in hvps])


def _tangent_or_zeros(g: Tensor) -> Tensor:
    t = g.tangent if g.tangent is not None else g.backend.xp.zeros_like(g.data)
    return Tensor._make(t, None, None)


def _leaves(
    op: str, primals: Sequence[Any], tangents: Sequence[Any] | None, requires_grad: bool
) -> list[Tensor]:
    data = [p.data if isinstance(p, Tensor) else p for p in primals]
    if tangents is None:
        return [Tensor(d, requires_grad=requires_grad) for d in data]
    ts = [t.data if isinstance(t, Tensor) else t for t in tangents]
    if len(ts) != len(data):
        raise ValueError(f"{op}: {len(data)} primals but {len(ts)} tangent vectors")
    return [Tensor(d, requires_grad=requires_grad, tangent=t) for d, t in zip(data, ts)]
