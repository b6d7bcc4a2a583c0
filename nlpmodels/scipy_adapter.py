"""An NLPModel as keyword arguments of ``scipy.optimize.minimize``.

``scipy.optimize.minimize(method="L-BFGS-B", **to_scipy(nlp))`` or ``method="trust-ncg"`` minimizes
any model. SciPy works on NumPy float64 vectors; each call converts its argument to the model's
backend and dtype (``backend.to_device``) and its result back (``backend.to_host``), the only host
crossings. The model's checks and counters apply as to any caller.

Methods that do not use Hessian products (L-BFGS-B, BFGS, CG) warn when given ``hessp``: pass
``hessp=False`` for them.

Wheels of SciPy ship their own OpenBLAS beside NumPy's. Its threads keep spinning after SciPy's
own vector work, beside the model's NumPy products (a run of L-BFGS-B took twice as long), so
``to_scipy`` holds SciPy's own BLAS to ``scipy_blas_threads`` threads, one by default. Thread counts
belong to the process: the limit stays after the run (``minidnn.thread_limits.limit_scipy_blas``;
``minidnn.backend.set_threads`` sets every library again); ``scipy_blas_threads=None`` leaves SciPy's
BLAS as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy
from minidnn.nlpmodels.model import NLPModel

from minidnn.thread_limits import check_threads, limit_scipy_blas


def to_scipy(
    nlp: NLPModel, *, combined: bool = False, hessp: bool | None = None, scipy_blas_threads: int | None = 1
) -> dict[str, Any]:
    """``fun``, ``jac``, ``hessp`` and ``x0`` for ``scipy.optimize.minimize``.

    With ``combined=True``, ``fun`` returns (f, gradient) from one ``objgrad`` call and ``jac`` is
    True, SciPy's convention for that form: one pass instead of two where the model shares work.
    ``hessp``: None gives it when ``nlp.has_hprod``; False leaves it out (for methods that do not
    use it); True requires it (a ValueError for a model without Hessian products).
    ``scipy_blas_threads``: the thread count SciPy's own BLAS keeps from now on (see the module
    docstring); None leaves it unchanged.
    """
    if hessp is not None and not isinstance(hessp, bool):
        raise TypeError(f"to_scipy: hessp must be None, True or False, got {hessp!r}")
    if hessp and not nlp.has_hprod:
        raise ValueError(f"to_scipy: hessp=True, but {nlp.meta.name} has no Hessian-vector product")
    scipy_blas_threads = check_threads("to_scipy: scipy_blas_threads", scipy_blas_threads)
    if scipy_blas_threads is not None:
        limit_scipy_blas(scipy_blas_threads)
    backend, dtype = nlp.meta.backend, nlp.meta.dtype

    def to_model(a: Any) -> Any:
        return backend.to_device(numpy.asarray(a, dtype=numpy.float64), dtype=dtype)

    def to_scipy_vector(a: Any) -> numpy.ndarray:
        return numpy.array(backend.to_host(a), dtype=numpy.float64, copy=True)

    def fun(x: numpy.ndarray) -> float:
        return nlp.obj(to_model(x))

    def jac(x: numpy.ndarray) -> numpy.ndarray:
        return to_scipy_vector(nlp.grad(to_model(x)))

    def fun_and_jac(x: numpy.ndarray) -> tuple[float, numpy.ndarray]:
        f, g = nlp.objgrad(to_model(x))
        return f, to_scipy_vector(g)

    def hessian_product(x: numpy.ndarray, p: numpy.ndarray) -> numpy.ndarray:
        return to_scipy_vector(nlp.hprod(to_model(x), to_model(p)))

    problem: dict[str, Any] = {"x0": to_scipy_vector(nlp.meta.x0)}
    objective: dict[str, Callable[..., Any] | bool] = (
        {"fun": fun_and_jac, "jac": True} if combined else {"fun": fun, "jac": jac}
    )
    problem.update(objective)
    with_hessp = nlp.has_hprod if hessp is None else hessp
    if with_hessp:
        problem["hessp"] = hessian_product
    return problem
