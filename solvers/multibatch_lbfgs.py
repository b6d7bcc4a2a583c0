"""multibatch_lbfgs: multi-batch L-BFGS (Berahas, Nocedal and Takáč, "A multi-batch L-BFGS method for
machine learning", NeurIPS 2016).

L-BFGS on minibatches fails when a curvature pair mixes samples: y = ∇f_{S_{k+1}}(x_{k+1}) -
∇f_{S_k}(x_k) measures the change of sample as much as the change of x. The multi-batch method
takes each step on one sample S_k but builds the pair from the overlap O_k of S_k and the next
sample only, y_k = ∇f_{O_k}(x_{k+1}) - ∇f_{O_k}(x_k), so both gradients see the same data.

Realisation on a model's minibatches (``NeuralNetModel.objgrad_samples``): S_k is the current batch
B_k of m samples and O_k its last r = ⌈``overlap`` m⌉ samples. Each iteration:

1. ∇f_{S_k}(x_k) is assembled from the two parts [0, m - r) and [m - r, m), so ∇f_{O_k}(x_k)
   costs nothing extra;
2. d = -H ∇f_{S_k}(x_k), H the inverse L-BFGS matrix of the last ``mem`` pairs
   (``nlpmodels.InverseLBFGSOperator``, scaled by sᵀy / yᵀy of the newest pair);
3. α: the first of ``lr``·(1/2)^j, j ≤ ``bk_max``, with f_{S_k}(x_k + αd) ≤ f_{S_k}(x_k) + 10⁻⁴ α gᵀd
   (Armijo on the batch of the step; Nocedal and Wright, Numerical Optimization, §3.1, c₁ = 10⁻⁴);
   none: the memory is cleared and no step is taken;
4. ∇f_{O_k}(x_{k+1}) on the same batch, and the pair (s_k, y_k) = (αd, ∇f_{O_k}(x_{k+1}) -
   ∇f_{O_k}(x_k)), with ``pair_rule``:

   - ``"powell"`` (default): Powell's damping (Powell 1978; Nocedal and Wright, Procedure 18.2) with
     B_k replaced by δI, δ = ‖y‖/‖s‖, as in the stochastic damped L-BFGS of Wang, Ma, Goldfarb and
     Liu (SIAM J. Optim. 27, 2017): when sᵀy < 0.2 δ sᵀs, y ← θ y + (1 - θ) δ s with
     θ = 0.8 δ sᵀs / (δ sᵀs - sᵀy), so sᵀy = 0.2 δ sᵀs = 0.2 ‖s‖‖y‖ > 0: every pair is kept. An
     Armijo step on a nonconvex f often has sᵀy ≤ 0; rejecting all such pairs leaves a stale memory;
   - ``"skip"``: the pair is kept only when sᵀy > √eps ‖s‖ ‖y‖ (the scale-invariant curvature rule
     of ``InverseLBFGSOperator``: unchanged by a multiple of f or a rescaling of x, where the
     paper's sᵀy > ε‖s‖² is not);
5. the model moves to the next batch, and f, ∇f at x_{k+1} are evaluated there (step 1 again).

In the paper O_k also belongs to S_{k+1}, so ∇f_{O_k}(x_{k+1}) is part of the next step's gradient.
Here batches do not overlap, so that evaluation is the price of the consistent pair: r/m of a batch
gradient per iteration, against a second whole gradient per step for an L-BFGS that re-evaluates
on one batch (``solvers.lbfgs`` with ``resample``). Like the other stochastic solvers it takes one
step per minibatch. On a model without ``objgrad_samples`` (a fixed problem, another minibatch
model) the overlap is the whole batch.
"""

from __future__ import annotations

import math
from typing import Any

from minidnn.nlpmodels import InverseLBFGSOperator
from minidnn.solvers.core import Batches, Budget, Solver
from minidnn.solvers.driver import solver_function
from minidnn.solvers.parameters import POSITIVE, Integer, Number, OneOf, declared, parameter

ARMIJO_C = 1e-4  # Nocedal and Wright §3.1: c₁ = 10⁻⁴
SHRINK = 0.5  # halving the step (Nocedal and Wright §3.1, backtracking)
POWELL_LOW, POWELL_THETA = 0.2, 0.8  # Powell 1978; Nocedal and Wright, Procedure 18.2
PAIR_RULES = ("powell", "skip")


@declared
class MultiBatchLBFGSParameters:
    """multibatch_lbfgs's parameters (Berahas, Nocedal and Takáč 2016)."""

    mem: int = parameter(5, "pairs kept", Integer(1), source="as lbfgs: JSOSolvers.jl mem = 5")
    overlap: float = parameter(
        0.25,
        "fraction of each batch in the overlap that gives the curvature pair",
        Number(0.0, 1.0, low_open=True),
        source="a quarter; Berahas, Nocedal and Takáč 2016 §4 vary it",
    )
    pair_rule: str = parameter(
        "powell",
        "powell (damped pairs, all kept) or skip (pairs with too little curvature dropped)",
        OneOf(PAIR_RULES),
        source="Wang, Ma, Goldfarb and Liu 2017: damping for nonconvex stochastic problems",
    )
    lr: float = parameter(
        1.0,
        "first trial step length of the Armijo backtracking",
        POSITIVE,
        source="the unit quasi-Newton step, Nocedal and Wright §7.2",
    )
    bk_max: int = parameter(
        10, "Armijo backtracks (halvings) before the step is abandoned", Integer(0), source="halving"
    )


class MultiBatchLBFGS(Solver):
    """Minimises ``nlp`` by multi-batch L-BFGS, one step per minibatch with curvature pairs from
    the overlap (see :mod:`minidnn.solvers.multibatch_lbfgs`)."""

    name = "multibatch_lbfgs"
    family = "stochastic"
    parameters = MultiBatchLBFGSParameters
    step_label = "step"
    extra_columns = (("bk", 3, "d"), ("mem", 3, "d"), ("pairs", 6, "d"))

    def __init__(self, nlp: Any, x: Any, batches: Batches, budget: Budget, params: MultiBatchLBFGSParameters):
        super().__init__(nlp, x, batches, budget, params)
        meta = nlp.meta
        self.memory = InverseLBFGSOperator(meta.nvar, mem=params.mem, dtype=meta.dtype, backend=meta.backend)
        self.by_parts = hasattr(nlp, "objgrad_samples") and hasattr(nlp, "batch_samples")
        self.g_overlap: Any = None
        self.pairs = 0
        self.skipped = 0

    def refresh(self) -> None:
        self.move_to(self.x)

    def move_to(self, point: Any) -> None:
        """x ← ``point`` with f, ∇f and ∇f_O there on the current batch, once they are known finite."""
        version = self.batches.version
        f, g, g_overlap = self.batch_gradient(point)
        grad_norm = self.checked_grad_norm(f, g)
        self.x, self.f, self.g, self.g_overlap, self.grad_norm = point, f, g, g_overlap, grad_norm
        self.batch_version = version

    def iterate(self) -> str | None:
        x, g = self.x, self.g
        d = -self.memory.matvec(g)
        slope = self.dot(g, d)
        alpha, backtracks = self.armijo(d, slope) if slope < 0 else (0.0, 0)
        self.extra = {"bk": backtracks, "mem": self.memory.npairs, "pairs": self.pairs}
        self.step = alpha
        self.solver_specific.update(pairs=self.pairs, skipped_pairs=self.skipped)
        if alpha == 0.0:
            if self.memory.npairs == 0 and not self.batches.minibatched:
                return "small_step"
            self.memory.reset()
            self.next_batch(x, None)
            return None
        point = x + alpha * d
        if self.rounds_to_same(x, point):
            return "small_step"
        f_overlap, g_overlap = self.overlap_gradient(point)
        self.checked_grad_norm(f_overlap, g_overlap)
        step, change = alpha * d, g_overlap - self.g_overlap
        if self.params.pair_rule == "powell":
            change = self.powell_damped(step, change)
        if self.memory.push(step, change, skip_nonfinite=True):
            self.pairs += 1
        else:
            self.skipped += 1
        self.extra.update(mem=self.memory.npairs, pairs=self.pairs)
        self.solver_specific.update(pairs=self.pairs, skipped_pairs=self.skipped)
        self.next_batch(point, (f_overlap, g_overlap))
        return None

    def next_batch(self, point: Any, overlap_at_point: tuple[float, Any] | None) -> None:
        """Moves to the next batch and evaluates there; on the same data (a fixed problem, one full
        batch) a whole-batch gradient at ``point`` is reused rather than computed again."""
        version = self.batches.version
        self.batches.advance()
        if self.batches.version == version and overlap_at_point is not None and not self.by_parts:
            f, g = overlap_at_point
            self.x, self.f, self.g, self.g_overlap = point, f, g, g
            self.grad_norm = self.checked_grad_norm(f, g)
            return
        self.move_to(point)

    def batch_gradient(self, x: Any) -> tuple[float, Any, Any]:
        """(f_S(x), ∇f_S(x), ∇f_O(x)) on the current batch S, ∇f_O from the same passes."""
        if not self.by_parts:
            f, g = self.nlp.objgrad(x)
            return f, g, g
        m = int(self.nlp.batch_samples)
        r = self.overlap_size(m)
        if r == m:
            f, g = self.nlp.objgrad(x)
            return f, g, g
        f_rest, g_rest = self.nlp.objgrad_samples(x, 0, m - r)
        f_overlap, g_overlap = self.nlp.objgrad_samples(x, m - r, m)
        w = r / m
        return (1.0 - w) * f_rest + w * f_overlap, (1.0 - w) * g_rest + w * g_overlap, g_overlap

    def overlap_gradient(self, x: Any) -> tuple[float, Any]:
        """(f_O(x), ∇f_O(x)) on the overlap of the current batch."""
        if not self.by_parts:
            return self.nlp.objgrad(x)
        m = int(self.nlp.batch_samples)
        r = self.overlap_size(m)
        return self.nlp.objgrad(x) if r == m else self.nlp.objgrad_samples(x, m - r, m)

    def powell_damped(self, s: Any, y: Any) -> Any:
        """y, or θ y + (1 - θ) δ s when sᵀy < 0.2 δ sᵀs (δ = ‖y‖/‖s‖; see the module docstring)."""
        ss, sy, yy = self.dot(s, s), self.dot(s, y), self.dot(y, y)
        if not (ss > 0 and math.isfinite(yy)):
            return y
        delta = math.sqrt(yy / ss)
        curvature = delta * ss
        if sy >= POWELL_LOW * curvature:
            return y
        theta = POWELL_THETA * curvature / (curvature - sy)
        return theta * y + (1.0 - theta) * delta * s

    def overlap_size(self, m: int) -> int:
        return min(m, max(1, math.ceil(self.params.overlap * m)))

    def armijo(self, d: Any, slope: float) -> tuple[float, int]:
        """The first α = lr·(1/2)^j (j ≤ bk_max) with f(x + αd) ≤ f(x) + 10⁻⁴ α gᵀd on the current
        batch, and j; (0, bk_max) when there is none."""
        alpha = self.params.lr
        for j in range(self.params.bk_max + 1):
            f = self.nlp.obj(self.x + alpha * d)
            if math.isfinite(f) and f <= self.f + ARMIJO_C * alpha * slope:
                return alpha, j
            alpha *= SHRINK
        return 0.0, self.params.bk_max


multibatch_lbfgs = solver_function(MultiBatchLBFGS)
