"""What a problem is (``NLPModelMeta``) and how often it was evaluated (``Counters``)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from minidnn.backend import Backend


@dataclass(frozen=True)
class NLPModelMeta:
    """Facts about an unconstrained problem min f(x), x in R^nvar.

    ``x0`` is the model's own copy of the starting point (read-only on NumPy); evaluating the model
    never changes it. ``dtype`` is "float32" or "float64"; vectors live on ``backend``'s device.
    """

    nvar: int
    x0: Any
    name: str
    dtype: str
    backend: Backend

    def __repr__(self) -> str:
        return (
            f"NLPModelMeta(name={self.name!r}, nvar={self.nvar}, dtype={self.dtype}, "
            f"backend={self.backend.name})"
        )


@dataclass
class Counters:
    """Evaluations since the last reset. ``objgrad`` counts one objective and one gradient;
    ``neval_ghprod`` counts Gauss-Newton products (``NeuralNetModel.ghprod``)."""

    neval_obj: int = 0
    neval_grad: int = 0
    neval_ghprod: int = 0
    neval_hprod: int = 0

    def reset(self) -> None:
        for f in fields(self):
            setattr(self, f.name, 0)

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
