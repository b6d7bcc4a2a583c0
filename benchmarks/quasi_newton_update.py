"""Cost of one L-BFGS update against one two-loop product, at the size of the Knet LeNet.

n = 431,080 (``lenet_knet()``), float32, mem 5, on random pairs with safely positive curvature. The
memory is filled first, then each repetition times one ``push`` (an update, which drops the oldest
pair) and one product, interleaved, after a warm-up of each; the medians are reported with their
ratio. Target: an update costs at most twice one two-loop product
(``nlpmodels.InverseLBFGSOperator``, what ``solvers.lbfgs`` uses). The forward operators
(``LBFGSOperator``, ``LSR1Operator``, what trunk uses through ``LBFGSModel`` and ``LSR1Model``) are
timed the same way for comparison.

    python benchmarks/quasi_newton_update.py [--n N] [--mem M] [--repeats R] [--backend NAME]
        [--threads T] [--tiny] [--json PATH]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from minidnn.nlpmodels import InverseLBFGSOperator, LBFGSOperator, LSR1Operator, QuasiNewtonOperator
from timing import finish, parser, setup

from minidnn import backend as backends

N = 431_080  # parameters of minidnn.models.lenet_knet()
OPERATORS = {"inverse_lbfgs": InverseLBFGSOperator, "lbfgs": LBFGSOperator, "lsr1": LSR1Operator}


def arguments(argv: list[str] | None) -> argparse.Namespace:
    p = parser(__doc__)
    p.add_argument("--n", type=int, default=N, help=f"vector length (default {N:,})")
    p.add_argument("--mem", type=int, default=5, help="pairs kept (default 5)")
    p.add_argument("--repeats", type=int, default=200, help="timed updates and products (default 200)")
    p.add_argument("--backend", default="numpy", help="numpy or cupy (default numpy)")
    args = p.parse_args(argv)
    if args.tiny:
        args.n, args.mem, args.repeats = 64, 3, 4
    return args


def random_pairs(backend: backends.Backend, n: int, count: int) -> list[tuple[Any, Any]]:
    """``count`` pairs (s, y = D s), D diagonal in [0.5, 2): s'y > 0 with a margin."""
    rng = backend.rng(0)
    pairs = []
    for _ in range(count):
        s = rng.normal(0.0, 1.0, (n,), dtype="float32")
        pairs.append((s, s * rng.uniform(0.5, 2.0, (n,), dtype="float32")))
    return pairs


def synchronizer(backend: backends.Backend) -> Callable[[], None]:
    """Waits for the device to finish (a no-op on the host)."""
    return getattr(backend.device, "synchronize", lambda: None)


def time_operator(
    op: QuasiNewtonOperator, pairs: list[tuple[Any, Any]], v: Any, repeats: int, sync: Callable[[], None]
) -> dict[str, float]:
    """Median seconds of one push and of one product, interleaved, after filling and a warm-up, and
    the fraction of the timed pushes that stored their pair (a skipped pair costs less)."""
    for s, y in pairs[: op.mem]:
        op.push(s, y)
    op.push(*pairs[op.mem])
    op.matvec(v)
    sync()
    updates, products, stored = [], [], 0
    for k in range(repeats):
        s, y = pairs[k % len(pairs)]
        start = time.perf_counter()
        stored += op.push(s, y)
        sync()
        middle = time.perf_counter()
        op.matvec(v)
        sync()
        end = time.perf_counter()
        updates.append(middle - start)
        products.append(end - middle)
    return {
        "update_s": statistics.median(updates),
        "product_s": statistics.median(products),
        "stored_fraction": stored / repeats,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = arguments(argv)
    settings = setup(args)
    backend = backends.get(args.backend)
    pairs = random_pairs(backend, args.n, args.mem + 3)
    v = backend.rng(1).normal(0.0, 1.0, (args.n,), dtype="float32")
    sync = synchronizer(backend)
    results: dict[str, Any] = {
        "n": args.n,
        "mem": args.mem,
        "dtype": "float32",
        "backend": backend.name,
        "repeats": args.repeats,
    }
    for name, cls in OPERATORS.items():
        op = cls(args.n, mem=args.mem, dtype="float32", backend=backend)
        timing = time_operator(op, pairs, v, args.repeats, sync)
        timing["ratio"] = timing["update_s"] / timing["product_s"]
        results[name] = timing
    print(f"n = {args.n:,}, float32, mem {args.mem}, {backend.name}, median of {args.repeats} (ms)")
    print(f"{'operator':>15} {'update':>9} {'product':>9} {'ratio':>7} {'stored':>7}")
    for name in OPERATORS:
        r = results[name]
        print(
            f"{name:>15} {r['update_s'] * 1e3:9.3f} {r['product_s'] * 1e3:9.3f} {r['ratio']:7.2f} "
            f"{r['stored_fraction']:7.0%}"
        )
    ratio = results["inverse_lbfgs"]["ratio"]
    print(f"L-BFGS update / two-loop product: {ratio:.2f} (target <= 2)")
    return finish("quasi_newton_update", settings | {"n": args.n, "mem": args.mem}, results, args)


if __name__ == "__main__":
    main()
