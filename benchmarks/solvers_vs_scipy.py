"""Iterations to a first-order point: our lbfgs (mem=10) against SciPy's L-BFGS-B (maxcor=10), and our
trunk (exact Hessian-vector products) against SciPy's trust-ncg, on every classic problem.

Every run starts from the problem's standard point in float64 and stops at ‖∇f‖₂ ≤ 1e-6:
ours with atol=1e-6, rtol=0; trust-ncg with gtol=1e-6 (its test is on the 2-norm); L-BFGS-B with
pgtol=1e-6/sqrt(n) on the infinity norm (which implies the 2-norm test) and ftol=0, so that only
the gradient test stops it. "ratio" is our iterations over SciPy's; the tests require ≤ 2.

Run: python benchmarks/solvers_vs_scipy.py [--json PATH] [--tiny]   (--tiny: the first problem only)
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy
import scipy.optimize
from minidnn.nlpmodels import to_scipy
from minidnn.nlpmodels.problems import CLASSIC
from timing import finish, parser, setup

from minidnn import solvers

TOL = 1e-6


def ours(name: str, method: str, **params: object) -> tuple[str, int, float]:
    stats = solvers.minimize(CLASSIC[name](), method, atol=TOL, rtol=0.0, max_time=60.0, **params)
    return stats.status, stats.iter, stats.dual_feas


def scipy_run(name: str, method: str) -> tuple[bool, int, float]:
    nlp = CLASSIC[name]()
    problem = to_scipy(nlp, combined=True)
    n = nlp.meta.nvar
    if method == "L-BFGS-B":
        problem.pop("hessp", None)
        options = {"maxcor": 10, "gtol": TOL / math.sqrt(n), "ftol": 0.0, "maxiter": 100_000}
    else:
        options = {"gtol": TOL, "maxiter": 100_000}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = scipy.optimize.minimize(method=method, options=options, **problem)
    return bool(result.success), int(result.nit), float(numpy.linalg.norm(result.jac))


PAIRS = (("lbfgs", "L-BFGS-B", {"mem": 10}), ("trunk", "trust-ncg", {}))


def comparison(name: str) -> list[tuple[int, bool, int, bool]]:
    """(our iterations, ours converged, SciPy's iterations, SciPy converged) for each pair."""
    cells = []
    for method, reference, params in PAIRS:
        status, iters, _ = ours(name, method, **params)
        ok, ref_iters, ref_gnorm = scipy_run(name, reference)
        cells.append((iters, status == "first_order", ref_iters, ok and ref_gnorm <= TOL))
    return cells


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parser(__doc__).parse_args(argv)
    settings = setup(args)
    names = list(CLASSIC)[:1] if args.tiny else list(CLASSIC)
    settings |= {"tolerance": TOL, "pairs": [[ours, ref] for ours, ref, _ in PAIRS]}
    titles = "".join(f" | {ours:>6s} {ref:>9s} {'ratio':>6s}" for ours, ref, _ in PAIRS)
    header = f"{'problem':22s} {'n':>4s}{titles}"
    print(header)
    print("-" * len(header))
    rows = []
    for name in names:
        n = CLASSIC[name]().meta.nvar
        line = f"{name:22s} {n:>4d}"
        for (method, reference, _), (iters, converged, ref_iters, ref_converged) in zip(
            PAIRS, comparison(name)
        ):
            mark, ref_mark = ("" if converged else "*"), ("" if ref_converged else "*")
            line += f" | {iters:>5d}{mark:1s} {ref_iters:>8d}{ref_mark:1s} {iters / ref_iters:>6.2f}"
            rows.append(
                {
                    "problem": name,
                    "n": n,
                    "ours": method,
                    "scipy": reference,
                    "iterations": iters,
                    "converged": converged,
                    "scipy_iterations": ref_iters,
                    "scipy_converged": ref_converged,
                    "ratio": iters / ref_iters,
                }
            )
        print(line)
    print("*: that run did not reach ||g|| <= 1e-6")
    return finish("solvers_vs_scipy", settings, rows, args)


if __name__ == "__main__":
    main()
