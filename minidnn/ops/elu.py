"""ELU(x) = x for x > 0, alpha (exp(x) - 1) otherwise (Clevert, Unterthiner & Hochreiter 2016).

Written with ``where``: the negative branch evaluates exp(min(x, 0)), so it never overflows and its
gradient, masked out for x > 0, is never inf * 0.
"""

from __future__ import annotations

from typing import Any

from minidnn.ops.arithmetic import AddConst, MulConst
from minidnn.ops.operands import tensor_arg
from minidnn.ops.selection import minimum, where
from minidnn.ops.unary import Exp
from minidnn.tensor import Tensor


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """Elementwise ELU with parameter ``alpha``."""
    x = tensor_arg("elu", x)
    negative = MulConst(alpha)(AddConst(-1.0)(Exp()(minimum(x, 0.0))))
    return where(x.data > 0, x, negative)
