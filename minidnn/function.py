"""Function: one differentiable primitive and, once applied in grad mode, a node of the graph.

A primitive implements three methods:

``forward(*arrays) -> array``
    the value, on raw backend arrays;
``backward(gy) -> tuple``
    the vector-Jacobian product: one gradient :class:`Tensor` per input (``None`` where
    ``needs_grad(i)`` is false), written with differentiable functions so that backward can itself
    be differentiated (exact second derivatives, reverse over reverse);
``jvp(*tangents) -> array``
    the Jacobian-vector product on raw arrays, ``None`` standing for a zero tangent (forward mode;
    forward over reverse gives Hessian-vector products, see :mod:`minidnn.derivatives`).

A node records only what its backward needs: ``parents`` (per input, the node that produced it, the
leaf tensor itself, or ``None`` when no gradient is wanted), the inputs listed in ``save_inputs``, the
output when ``save_output`` is set, and whatever ``forward`` stores on ``self`` (shapes, masks).
Outputs of recorded nodes point to their node; a node never points to its output tensor, so graphs
hold no reference cycles and are freed as soon as the last output goes.
"""

from __future__ import annotations

from typing import Any

from minidnn import mode as _mode


class Function:
    """Base class of the differentiable primitives (see the module docstring)."""

    save_inputs: tuple[int, ...] = ()
    save_output: bool = False

    parents: tuple[Any, ...] = ()
    saved: tuple[Tensor, ...] = ()
    y: Any = None
    y_tangent: Any = None

    def forward(self, *xs: Any) -> Any:
        raise NotImplementedError

    def backward(self, gy: Tensor) -> tuple[Tensor | None, ...]:
        raise NotImplementedError

    def jvp(self, *tangents: Any) -> Any:
        raise NotImplementedError

    @property
    def name(self) -> str:
        return type(self).__name__

    def needs_grad(self, i: int) -> bool:
        """True when a gradient must flow to input ``i``."""
        return self.parents[i] is not None

    def output(self) -> Tensor:
        """The output as a tensor of the graph (for backward passes that use it, e.g. exp)."""
        return Tensor._make(self.y, self, self.y_tangent)

    def __call__(self, *inputs: Tensor) -> Tensor:
        y = self.forward(*[x.data for x in inputs])
        if self.save_output:
            self.y = y
        tangent = None
        for x in inputs:
            if x.tangent is not None:
                tangent = self.jvp(*[t.tangent for t in inputs])
                break
        if _mode._state.enabled:
            for x in inputs:
                if x.requires_grad:
                    self._record(inputs, tangent)
                    return Tensor._make(y, self, tangent)
        return Tensor._make(y, None, tangent)

    def _record(self, inputs: tuple[Tensor, ...], tangent: Any) -> None:
        self.parents = tuple(
            x.creator if x.creator is not None else (x if x.requires_grad else None) for x in inputs
        )
        if self.save_inputs:
            self.saved = tuple(inputs[i] for i in self.save_inputs)
        if self.save_output:
            self.y_tangent = tangent


from minidnn.tensor import Tensor  # noqa: E402  (after Function: the tensor's operators import the ops)
