"""The curvature products of the sub-sampled second-order methods: v -> C_S(x) v on a sample S.

C is the Gauss-Newton matrix Jᵀ H_L J (``"gauss_newton"``, ``nlp.ghprod``: positive semi-definite,
Schraudolph 2002; Martens 2010 §4.2) or the Hessian (``"hessian"``, ``nlp.sample_hprod`` where the
model has it, else ``nlp.hprod``), and S the first ⌈``fraction`` m⌉ of the m samples of the current
batch (Byrd, Chin, Neveitt and Nocedal 2011). A fixed problem (no samples) gives its whole Hessian.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

CURVATURES = ("gauss_newton", "hessian")


def curvature_product(nlp: Any, kind: str, fraction: float, solver: str) -> Callable[[Any, Any], Any]:
    """(x, v) -> C_S(x) v; a ValueError naming ``solver`` when ``nlp`` has no such product."""
    if kind == "gauss_newton":
        ghprod = getattr(nlp, "ghprod", None)
        if ghprod is None:
            raise ValueError(
                f"{solver}: {nlp.meta.name} has no Gauss-Newton product (ghprod, a network's "
                "NeuralNetModel has one); use curvature='hessian' for a model with hprod"
            )
        return lambda x, v: ghprod(x, v, fraction=fraction)
    if not nlp.has_hprod:
        raise ValueError(f"{solver}: {nlp.meta.name} has no Hessian-vector product (hprod)")
    sample_hprod = getattr(nlp, "sample_hprod", None)
    if sample_hprod is not None:
        return lambda x, v: sample_hprod(x, v, fraction)
    return nlp.hprod
