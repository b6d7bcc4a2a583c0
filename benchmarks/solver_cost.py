"""Cost of one iteration of every solver, split into model evaluations and the solver's own work.

Two fixed models, float32, NumPy: LeNet-5 (44,426 parameters) at batch 100 on MNIST-shaped random
data, as in the KnetNLPModels tutorial, and the MLP 64-64-10 (4,810 parameters) at batch 32 on the
shipped digits, where the solver's work weighs most. Each solver runs for a fixed solver time from
the same start, deterministic solvers moving to the next minibatch after every iteration (as
``minidnn train`` does: trunk and lsr1 with cg_max_iter=20, and no gradient test, so the time
ends every run).
The model's calls
are timed, split into function and gradient evaluations (obj, grad, objgrad, objgrad_samples) and
curvature products (hprod, sample_hprod, ghprod); the rest of each iteration (updates, line searches
and trust-region logic, quasi-Newton products, CG vectors, the driver's bookkeeping) is the solver's
share. When PyTorch imports, the
stochastic rules are set beside one ``torch.optim`` step on a flat vector of the same size.

    python benchmarks/solver_cost.py [--seconds S] [--json PATH] [--tiny]
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from minidnn.nlpmodels import NeuralNetModel
from minidnn.solvers.minimize import DETERMINISTIC, STOCHASTIC
from timing import finish, interleaved, parser, setup, torch_or_none

from minidnn import datasets, models, solvers

TIMED = {
    "gradient": ("obj", "grad", "objgrad", "objgrad_samples"),
    "curvature": ("hprod", "sample_hprod", "ghprod"),
}
TORCH_RULES = {"sgd": "SGD", "momentum": "SGD", "nesterov": "SGD", "adagrad": "Adagrad",
               "rmsprop": "RMSprop", "adam": "Adam"}  # fmt: skip


class ModelClock:
    """Wraps a model's evaluation methods (on the instance) and adds up the seconds spent in them, by
    kind (``TIMED``)."""

    def __init__(self, nlp: NeuralNetModel):
        self.seconds = dict.fromkeys(TIMED, 0.0)
        for kind, names in TIMED.items():
            for name in names:
                setattr(nlp, name, self._timed(kind, getattr(nlp, name)))

    def _timed(self, kind: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds[kind] += time.perf_counter() - start

        return timed


def lenet5_problem() -> tuple[Callable[[], NeuralNetModel], str]:
    rng = np.random.default_rng(0)
    x = rng.random((1000, 1, 28, 28), dtype=np.float32)
    data = datasets.Dataset(x, rng.integers(0, 10, 1000), tuple("0123456789"), "random-mnist", "train")
    build = lambda: NeuralNetModel(models.lenet5(seed=0), data, batch_size=100, seed=0)  # noqa: E731
    return build, "LeNet-5 (44,426 parameters), batch 100, MNIST-shaped random data"


def mlp_problem() -> tuple[Callable[[], NeuralNetModel], str]:
    train = datasets.load("digits")
    build = lambda: NeuralNetModel(models.mlp([64, 64, 10], seed=0), train, batch_size=32, seed=0)  # noqa: E731
    return build, "MLP 64-64-10 (4,810 parameters), batch 32, the shipped digits"


def options(method: str) -> dict[str, Any]:
    chosen: dict[str, Any] = {"eval_every": None, "max_epochs": None, "atol": 0.0, "rtol": 0.0}
    if method in DETERMINISTIC:
        chosen["resample"] = "iteration"
    if method in ("trunk", "lsr1"):
        chosen["cg_max_iter"] = 20
    return chosen


def measure(build: Callable[[], NeuralNetModel], method: str, seconds: float) -> dict[str, float]:
    """Per-iteration milliseconds (total, model, solver) and evaluations of one timed run."""
    solvers.minimize(build(), method, max_iter=3, **options(method))  # warm-up
    nlp = build()
    clock = ModelClock(nlp)
    stats = solvers.minimize(nlp, method, max_time=seconds, **options(method))
    iters = max(stats.iter, 1)
    model = sum(clock.seconds.values())
    total = stats.elapsed_time
    c = stats.counters
    return {
        "iters": stats.iter,
        "total": 1e3 * total / iters,
        "model": 1e3 * model / iters,
        "gradient": 1e3 * clock.seconds["gradient"] / iters,
        "curvature": 1e3 * clock.seconds["curvature"] / iters,
        "solver": 1e3 * max(total - model, 0.0) / iters,
        "share": max(total - model, 0.0) / total if total > 0 else 0.0,
        "evals": (
            c["neval_obj"] / iters,
            c["neval_grad"] / iters,
            (c["neval_hprod"] + c.get("neval_ghprod", 0)) / iters,
        ),
    }


def torch_step(torch: Any, method: str, nvar: int) -> float:
    """Seconds of one torch.optim step of the same rule on a flat float32 vector of ``nvar`` entries."""
    p = torch.zeros(nvar, requires_grad=True)
    p.grad = torch.randn(nvar)
    extra = {"momentum": {"momentum": 0.95}, "nesterov": {"momentum": 0.95, "nesterov": True}}.get(method, {})
    optimizer = getattr(torch.optim, TORCH_RULES[method])([p], lr=1e-3, **extra)
    return interleaved({"step": optimizer.step}, rounds=5)["step"]["median_s"]


def report(title: str, build: Callable[[], NeuralNetModel], seconds: float, torch: Any) -> dict[str, Any]:
    print(f"\n{title}; {seconds:g} s of solver time per solver")
    print(f"{'solver':16s} {'iters':>6s} {'ms/iter':>9s} {'model':>9s} {'f and g':>9s} {'Hv, Gv':>9s}"
          f" {'solver':>9s} {'solver %':>9s} {'f/it':>6s} {'g/it':>6s} {'Hv, Gv/it':>9s}")  # fmt: skip
    nvar = build().meta.nvar
    rows = {}
    for method in STOCHASTIC + DETERMINISTIC:
        m = measure(build, method, seconds)
        f, g, hv = m["evals"]
        line = (
            f"{method:16s} {m['iters']:6d} {m['total']:9.3f} {m['model']:9.3f} {m['gradient']:9.3f} "
            f"{m['curvature']:9.3f} {m['solver']:9.3f} {100 * m['share']:8.1f}% {f:6.2f} {g:6.2f} {hv:9.2f}"
        )
        if torch is not None and method in TORCH_RULES:
            m["torch_step_ms"] = torch_step(torch, method, nvar) * 1e3
            m["torch_step_over_solver"] = m["torch_step_ms"] / max(m["solver"], 1e-9)
            line += f"   solver part vs torch.optim step {m['torch_step_ms']:.3f} ms: ratio "
            line += f"{m['torch_step_over_solver']:.2f}x"
        rows[method] = m
        print(line, flush=True)
    return {"problem": title, "seconds": seconds, "solvers": rows}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(__doc__)
    p.add_argument("--seconds", type=float, default=1.5, help="solver time per solver and model")
    args = p.parse_args(argv)
    settings = setup(args)
    torch = torch_or_none(args)
    seconds = 0.02 if args.tiny else args.seconds
    settings |= {"seconds": seconds, "torch": torch.__version__ if torch else None}
    absent = "" if torch else " (PyTorch absent)"
    print("ms per iteration: all, in model evaluations (f and gradients; Hessian and Gauss-Newton "
          "products), in the solver itself (the rest); "
          f"ratio = torch.optim step time / our solver part{absent}")  # fmt: skip
    problems = (mlp_problem,) if args.tiny else (lenet5_problem, mlp_problem)
    results = [report(title, build, seconds, torch) for build, title in (problem() for problem in problems)]
    return finish("solver_cost", settings, results, args)


if __name__ == "__main__":
    main()
