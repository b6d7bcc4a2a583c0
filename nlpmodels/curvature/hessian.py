"""What every curvature estimate starts from: a checked model and point, H v on the device, probes.

``HessianAt(nlp, x, caller)`` refuses a model without Hessian-vector products and a point that is not
one of the model's vectors, before any evaluation; then ``product(v)`` is ``nlp.hprod(x, v)``, counted
by the model's counters like any other call, and the probes are drawn on the model's device from a
generator seeded by the caller. Nothing leaves the device here.
"""

from __future__ import annotations

import numbers
from typing import Any

from minidnn.backend import Generator


class HessianAt:
    """The Hessian of ``nlp`` at ``x`` as a product on the model's device (see the module doc)."""

    def __init__(self, nlp: Any, x: Any, caller: str):
        meta = getattr(nlp, "meta", None)
        if meta is None or not callable(getattr(nlp, "hprod", None)):
            raise TypeError(f"{caller}: needs an NLPModel with hprod, got {type(nlp).__name__}")
        if not getattr(nlp, "has_hprod", True):
            raise TypeError(
                f"{caller}: {meta.name} has no Hessian-vector product (hprod); curvature needs one "
                "(a FunctionModel takes hprod=, and LBFGSModel/LSR1Model give their quasi-Newton operator's)"
            )
        nlp.check_vector("x", x)
        self.nlp = nlp
        self.x = meta.backend.xp.asarray(x, copy=True)
        self.backend = meta.backend
        self.xp = meta.backend.xp
        self.n = meta.nvar
        self.dtype = meta.x0.dtype
        self.dtype_name = meta.dtype

    def product(self, v: Any) -> Any:
        """H(x) v."""
        return self.nlp.hprod(self.x, v)

    def rng(self, seed: int) -> Generator:
        """The backend's generator seeded with ``seed`` (draws land on the model's device)."""
        return self.backend.rng(seed)

    def rademacher(self, rng: Generator) -> Any:
        """A vector of independent +-1 entries, each with probability 1/2."""
        signs = self.xp.astype(rng.bernoulli(0.5, (self.n,)), self.dtype)
        return 2 * signs - 1

    def normal(self, rng: Generator) -> Any:
        """A vector of independent standard normal entries."""
        return rng.normal(0.0, 1.0, (self.n,), dtype=self.dtype_name)

    def norm(self, v: Any) -> Any:
        """‖v‖ as a 0-d array on the device."""
        return self.xp.sqrt(self.xp.sum(v * v))


def count(caller: str, name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int >= minimum, or a ValueError naming the caller and the argument."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{caller}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def positive(caller: str, name: str, value: Any) -> float:
    """``value`` as a float > 0, or a ValueError naming the caller and the argument."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{caller}: {name} must be a number > 0, got {value!r}")
    return float(value)
