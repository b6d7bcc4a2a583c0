"""Reverse mode: ``grad(outputs, inputs)`` walks the graph backwards from the outputs.

The walk is iterative (no recursion limit on deep graphs): a depth-first post-order over the nodes
reachable from the outputs, reversed, is a topological order in which every node comes before the
nodes that produced its inputs. Nodes from which no requested input can be reached are pruned. Each
node's backward runs once, on the sum of the gradients its output received (a value used twice
receives two contributions). Nothing is stored on tensors: the gradients are returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from minidnn import backend as _backend
from minidnn.function import Function
from minidnn.mode import set_grad_enabled
from minidnn.tensor import Tensor

TensorOrTensors = Tensor | Sequence[Tensor]


def grad(
    outputs: TensorOrTensors,
    inputs: TensorOrTensors,
    grad_outputs: Any = None,
    create_graph: bool = False,
) -> Tensor | list[Tensor]:
    """Gradients of ``sum_i <grad_outputs[i], outputs[i]>`` with respect to each input.

    ``grad_outputs`` may be omitted only for one-element outputs (it is then 1). With
    ``create_graph=True`` the backward pass is itself recorded, so the returned gradients can be
    differentiated again (reverse over reverse). Inputs that the outputs do not depend on get zeros.
    A single tensor as ``inputs`` gives a single tensor back, a sequence gives a list.
    """
    single = isinstance(inputs, Tensor)
    outs = _as_list(outputs, "outputs")
    ins = _as_list(inputs, "inputs")
    for i, x in enumerate(ins):
        if not x.requires_grad:
            raise ValueError(
                f"grad: input {i} (shape {x.shape}) does not require grad; "
                "create it with Tensor(..., requires_grad=True)"
            )
    seeds = _seeds(outs, grad_outputs)
    targets = {_key(x) for x in ins}
    roots = [o.creator for o in outs if o.creator is not None]
    with set_grad_enabled(create_graph):
        acc: dict[int, Tensor] = {}
        for out, seed in zip(outs, seeds):
            if out.requires_grad:
                _accumulate(acc, _key(out), seed)
        for node in _backward_order(roots, targets):
            key = id(node)
            gy = acc.get(key) if key in targets else acc.pop(key, None)
            if gy is None:
                continue
            for parent, g in zip(node.parents, node.backward(gy)):
                if parent is not None and g is not None:
                    _accumulate(acc, id(parent), g)
    grads = [acc[_key(x)] if _key(x) in acc else _zeros_like(x) for x in ins]
    return grads[0] if single else grads


def _key(t: Tensor) -> int:
    return id(t.creator) if t.creator is not None else id(t)


def _accumulate(acc: dict[int, Tensor], key: int, g: Tensor) -> None:
    previous = acc.get(key)
    acc[key] = g if previous is None else previous + g


def _zeros_like(x: Tensor) -> Tensor:
    return Tensor._make(x.backend.xp.zeros_like(x.data), None, None)


def _as_list(ts: TensorOrTensors, what: str) -> list[Tensor]:
    items = [ts] if isinstance(ts, Tensor) else list(ts)
    if not items:
        raise ValueError(f"grad: {what} is empty")
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: {what}[{i}] must be a Tensor, got {type(t).__name__}")
    return items


def _seeds(outs: list[Tensor], grad_outputs: Any) -> list[Tensor]:
    if grad_outputs is None:
        seeds = []
        for i, out in enumerate(outs):
            if out.size != 1:
                raise ValueError(
                    f"grad: output {i} has shape {out.shape}; a non-scalar output needs grad_outputs"
                )
            seeds.append(Tensor._make(out.backend.xp.ones_like(out.data), None, None))
        return seeds
    given = (
        [grad_outputs] if isinstance(grad_outputs, Tensor) or _is_array(grad_outputs) else list(grad_outputs)
    )
    if len(given) != len(outs):
        raise ValueError(f"grad: {len(outs)} outputs but {len(given)} grad_outputs")
    seeds = []
    for i, (out, g) in enumerate(zip(outs, given)):
        g = g if isinstance(g, Tensor) else Tensor._make(g, None, None)
        if g.shape != out.shape or g.dtype != out.dtype or g.backend is not out.backend:
            raise ValueError(
                f"grad: grad_outputs[{i}] has shape {g.shape} {g.dtype} on {g.backend.name}; "
                f"output {i} has shape {out.shape} {out.dtype} on {out.backend.name}"
            )
        seeds.append(g)
    return seeds


def _is_array(a: Any) -> bool:
    try:
        _backend.of(a)
    except TypeError:
        return False
    return True


def _backward_order(roots: list[Function], targets: set[int]) -> list[Function]:
    """Nodes whose backward must run, each before the nodes that produced its inputs.

    A node is kept when one of its parents is a target or a kept node (it leads to an input).
    """
    leads: dict[int, bool] = {}
    post: list[Function] = []
    for root in roots:
        if id(root) in leads:
            continue
        stack = [(root, iter(root.parents))]
        while stack:
            node, pending = stack[-1]
            for parent in pending:
                if isinstance(parent, Function) and id(parent) not in leads:
                    stack.append((parent, iter(parent.parents)))
                    break
            else:
                stack.pop()
                leads[id(node)] = any(
                    p is not None and (id(p) in targets or leads.get(id(p), False)) for p in node.parents
                )
                post.append(node)
    return [node for node in reversed(post) if leads[id(node)]]
