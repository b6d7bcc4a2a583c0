"""multibatch_lbfgs: multi-batch L-BFGS (Berahas, Nocedal and Takáč, "A multi-batch L-BFGS method for
machine learning", NeurIPS 2016).

L-BFGS on minibatches fails when a curvature pair mixes samples: y = ∇f_{S_{k+1}}(x_{k+1}) -
∇f_{S_k}(x_k) measures the change of sample as much as the change of x. The multi-batch method
takes each step on one sample S_k but builds the pair from the overlap O_k of S_k and the next
sample only, y_k = ∇f_{O_k}(x_{k+1}) - ∇f_{O_k}(x_k), so both gradients see the same data.

Realisation on a model's minibatches (``NeuralNetModel.objgrad_samples``): B_k is the current batch
of m samples and O_k its last r = ⌈``overlap`` m⌉ samples (the whole batch by default). Each
iteration:

1. ∇f_{B_k}(x_k) is assembled from the two parts [0, m - r) and [m - r, m), so ∇f_{O_k}(x_k)
   costs nothing extra (one pass when r = m);
2. d = -H g_k, H the inverse L-BFGS matrix of the last ``mem`` pairs (``nlpmodels.InverseLBFGSOperator``,
   scaled by sᵀy / yᵀy of the newest pair), g_k the gradient on the step's sample S_k (below);
3. α: with ``line_search="armijo"``, the first of ``lr``·(1/2)^j, j ≤ ``bk_max``, with
   f_{S_k}(x_k + αd) ≤ f_{S_k}(x_k) + 10⁻⁴ α g_kᵀd (Nocedal and Wright, Numerical Optimization,
   §3.1, c₁ = 10⁻⁴); with ``"fixed"``, α = ``lr`` without evaluating f (the constant steplength of
   the paper's Algorithm 1). No step (the memory is cleared) when g_kᵀd ≥ 0 or no Armijo step is
   found;
4. ∇f_{O_k}(x_{k+1}) on the same batch, and the pair (s_k, y_k) = (αd, ∇f_{O_k}(x_{k+1}) -
   ∇f_{O_k}(x_k)). When O_k is the whole batch, the first Armijo trial is evaluated with its
   gradient, which is ∇f_{O_k}(x_{k+1}) when that trial is taken (it usually is): the step then
   costs two gradients and no separate objective. ``pair_rule``:

   - ``"powell"`` (default): Powell's damping (Powell 1978; Nocedal and Wright, Procedure 18.2) with
     B_k replaced by δI, δ = ‖y‖/‖s‖, as in the stochastic damped L-BFGS of Wang, Ma, Goldfarb and
     Liu (SIAM J. Optim. 27, 2017): when sᵀy < 0.2 δ sᵀs, y ← θ y + (1 - θ) δ s with
     θ = 0.8 δ sᵀs / (δ sᵀs - sᵀy), so sᵀy = 0.2 δ sᵀs = 0.2 ‖s‖‖y‖ > 0: every pair is kept. An
     Armijo step on a nonconvex f often has sᵀy ≤ 0; rejecting all such pairs leaves a stale memory;
   - ``"skip"``: the pair is kept only when sᵀy > √eps ‖s‖ ‖y‖ (the scale-invariant curvature rule
     of ``InverseLBFGSOperator``: unchanged by a multiple of f or a rescaling of x, where the
     paper's sᵀy > ε‖s‖² is not);
5. the model moves to the next batch B_{k+1}, and f, ∇f at x_{k+1} are evaluated there (step 1 again).

The step's sample S_k: in the paper O_k also belongs to S_{k+1}, so ∇f_{O_k}(x_{k+1}) is part of the
next step's gradient. With a constant steplength so it is here: S_{k+1} = O_k ∪ B_{k+1}, f and g
its sample means (weights r and m), and the overlap's evaluation at x_{k+1} serves twice. With the
Armijo search, S_{k+1} = B_{k+1}: its trial values need f on all of S_{k+1}, and O_k lies in a batch
the model has left. The overlap then costs r/m of a batch gradient per iteration.

Curvature pairs from products (``curvature="gauss_newton"`` or ``"hessian"``), in the spirit of the
stochastic quasi-Newton method of Byrd, Hansen, Nocedal and Singer (SIAM J. Optim. 26, 2016), whose
pairs are y = ∇²f_{S_H}(x̄) s on a sample S_H of its own: after the step the model moves to the next
batch, f and ∇f are evaluated at x_{k+1} there, and the pair is (s_k, C_S(x_{k+1}) s_k), C the
Gauss-Newton matrix or the Hessian on S, the first ⌈``curvature_fraction`` m⌉ samples of that batch
(:mod:`minidnn.solvers.sampled_curvature`). Unlike that paper, a pair is made at every step from the
step itself, not every L steps from averaged iterates. A Gauss-Newton pair has sᵀy = sᵀ G s ≥ 0,
so the damping rarely acts; a product on a fraction f of the batch costs about f of a gradient
where the overlap costs r/m of one, and no overlap is evaluated.

Overlap r = m (the default) takes each pair from the whole batch, as the online L-BFGS of
Schraudolph, Yu and Günter (AISTATS 2007): two whole-batch gradients per step (step 4), which on LeNet-5
(batch 100) trained better at equal time than r = m/4 or m/2 with their split passes (measured; see
the parameter records). Like the other stochastic solvers it takes one step per minibatch. On a
model without ``objgrad_samples`` (a fixed problem, another minibatch model) the overlap is the
whole batch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from minidnn.nlpmodels import InverseLBFGSOperator
from minidnn.solvers.core import Batches, Budget, Solver, StateError, checked_scalar
from minidnn.solvers.driver import solver_function
from minidnn.solvers.parameters import POSITIVE, Integer, Number, OneOf, declared, parameter
from minidnn.solvers.sampled_curvature import CURVATURES, curvature_product

ARMIJO_C = 1e-4  # Nocedal and Wright §3.1: c₁ = 10⁻⁴
SHRINK = 0.5  # halving the step (Nocedal and Wright §3.1, backtracking)
POWELL_LOW, POWELL_THETA = 0.2, 0.8  # Powell 1978; Nocedal and Wright, Procedure 18.2
PAIR_RULES = ("powell", "skip")
LINE_SEARCHES = ("armijo", "fixed")
PAIR_SOURCES = ("overlap", *CURVATURES)


@declared
class MultiBatchLBFGSParameters:
    """multibatch_lbfgs's parameters (Berahas, Nocedal and Takáč 2016)."""

    mem: int = parameter(
        50,
        "pairs kept",
        Integer(1),
        source="measured, LeNet-5 on MNIST, batch 100, overlap 1, Armijo: test accuracy 0.975 with 50 "
        "pairs and 0.964 with 20 after 800 steps; with constant steps 0.944 (50), 0.936 (100), 0.929 (20) "
        "and 0.873 (5) after 300; at equal time (30 s, seed 0, at the average of the iterates, average=0.98) "
        "0.9821 with 50, 0.9810 with 100, 0.9785 with 20, 0.9677 with 10",
    )
    overlap: float = parameter(
        1.0,
        "fraction of each batch in the overlap that gives the curvature pair",
        Number(0.0, 1.0, low_open=True),
        source="measured (Berahas, Nocedal and Takáč 2016 §4 vary it): LeNet-5 on MNIST, batch 100, "
        "Armijo, mem 50, at equal time (about 24 s of one quiet core): 0.975 test accuracy with 1, "
        "0.955 with 1/2; with constant steps, 1/4 and 1/2 diverged where 1 did not; at 30 s on two cores "
        "(seed 0, at the average of the iterates, average=0.98): 0.9821 with 1, 0.9705 with 1/2 (822 "
        "steps), 0.9500 with 1/4 (830), the split passes slower than one",
    )
    pair_rule: str = parameter(
        "powell",
        "powell (damped pairs, all kept) or skip (pairs with too little curvature dropped)",
        OneOf(PAIR_RULES),
        source="Wang, Ma, Goldfarb and Liu 2017: damping for nonconvex stochastic problems",
    )
    curvature: str = parameter(
        "overlap",
        "what the pairs' y comes from: overlap (gradient differences on the overlap), gauss_newton "
        "(nlp.ghprod) or hessian (Hessian products), the products on the first curvature_fraction of "
        "the next batch",
        OneOf(PAIR_SOURCES),
        source="overlap: Berahas, Nocedal and Takáč 2016; products: Byrd, Hansen, Nocedal and Singer 2016",
    )
    curvature_fraction: float = parameter(
        1.0,
        "fraction of the batch that the curvature products of the pairs use",
        Number(0.0, 1.0, low_open=True),
        source="measured, LeNet-5 on MNIST, batch 100, 30 s, 2 threads: Gauss-Newton pairs on the whole "
        "batch reached 0.934 test accuracy (677 steps), on a quarter of it 0.817 (813 steps); the "
        "overlap's pairs, the default, 0.973 (822 steps)",
    )
    lr: float = parameter(
        1.0,
        "step length: the first Armijo trial, or the constant step (line_search='fixed')",
        POSITIVE,
        source="the unit quasi-Newton step, Nocedal and Wright §7.2; measured (LeNet-5 on MNIST, batch 100, "
        "30 s, seed 0, average=0.98): 0.9630 test accuracy from 0.5, and 2 diverged",
    )
    bk_max: int = parameter(
        10, "Armijo backtracks (halvings) before the step is abandoned", Integer(0), source="halving"
    )
    line_search: str = parameter(
        "armijo",
        "armijo (backtracking from lr on the step's sample) or fixed (α = lr, no evaluation of f)",
        OneOf(LINE_SEARCHES),
        source="fixed: the constant steplength of Berahas, Nocedal and Takáč 2016, Algorithm 1; armijo "
        "by default, measured (LeNet-5 on MNIST, batch 100): it takes α = lr in 94% of the steps for one "
        "objective evaluation each, trains as well at equal time (0.975 against 0.968 test accuracy), "
        "and constant steps diverged twice (overlap 1/4 and 1/2); at 30 s, seed 0, average=0.98, constant "
        "steps of 0.5 reached 0.9651 (overlap 1/2) and 0.9589 (1/4), against 0.9821 by default",
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
        self.carries = params.line_search == "fixed" and params.curvature == "overlap"
        self.product = None
        if params.curvature != "overlap":
            self.product = curvature_product(nlp, params.curvature, params.curvature_fraction, self.name)
        self.pairs = 0
        self.skipped = 0
        self.carried: tuple[float, Any, float] | None = None
        self.trial: tuple[Any, float, Any] | None = None

    def refresh(self) -> None:
        self.move_to(self.x)

    def state(self) -> dict[str, Any]:
        """The inverse L-BFGS memory, the pair counts, and (f_O, ∇f_O) of the previous overlap carried
        into the current sample (fixed steps with pairs from the overlap; else None)."""
        f_carried, g_carried = (None, None) if self.carried is None else self.carried[:2]
        return {
            "memory": self.memory.state(),
            "pairs": self.pairs,
            "skipped": self.skipped,
            "carried_f": f_carried,
            "carried_g": g_carried,
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        memory = state.get("memory")
        if not isinstance(memory, Mapping):
            raise StateError(f"{self.name}: the state has no 'memory' mapping")
        pairs, skipped = (checked_scalar(self.name, state, name, 0) for name in ("pairs", "skipped"))
        carried = None
        if state.get("carried_g") is not None:
            f_carried = checked_scalar(self.name, state, "carried_f", 0.0)
            carried = (f_carried, self.checked_array(state, "carried_g", self.x), self.carry_share())
        try:
            self.memory.restore(memory)
        except ValueError as err:
            raise StateError(f"{self.name}: {err}") from None
        self.pairs, self.skipped = pairs, skipped
        if carried is not None:  # f and ∇f at x, evaluated on the batch alone by the start, join it
            self.carried = carried
            self.f, self.g = self.joined(self.f, self.g, carried)
            self.grad_norm = self.checked_grad_norm(self.f, self.g)

    def move_to(self, point: Any, carried: tuple[float, Any, float] | None = None) -> None:
        """x ← ``point`` with f, ∇f and ∇f_O there on the current batch, once they are known finite;
        ``carried`` = (f_O, ∇f_O, |O|/|B|) of the previous overlap at ``point`` joins the sample S."""
        version = self.batches.version
        f, g, g_overlap = self.batch_gradient(point)
        self.carried = carried
        if carried is not None:
            f, g = self.joined(f, g, carried)
        grad_norm = self.checked_grad_norm(f, g)
        self.x, self.f, self.g, self.g_overlap, self.grad_norm = point, f, g, g_overlap, grad_norm
        self.batch_version = version

    def iterate(self) -> str | None:
        x, g = self.x, self.g
        self.trial = None
        d = -self.memory.matvec(g)
        slope = self.dot(g, d)
        alpha, backtracks = self.steplength(d, slope)
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
        step = alpha * d
        if self.product is None:
            if self.trial is not None and backtracks == 0:
                point, f_overlap, g_overlap = self.trial
            else:
                f_overlap, g_overlap = self.overlap_gradient(point)
            self.checked_grad_norm(f_overlap, g_overlap)
            self.add_pair(step, g_overlap - self.g_overlap)
            self.next_batch(point, (f_overlap, g_overlap))
        else:
            self.next_batch(point, None)
            self.add_pair(step, self.product(point, step))
        return None

    def add_pair(self, step: Any, change: Any) -> None:
        """Pushes (s, y), damped with ``pair_rule="powell"``, and counts it as kept or skipped."""
        if self.params.pair_rule == "powell":
            change = self.powell_damped(step, change)
        if self.memory.push(step, change, skip_nonfinite=True):
            self.pairs += 1
        else:
            self.skipped += 1
        self.extra.update(mem=self.memory.npairs, pairs=self.pairs)
        self.solver_specific.update(pairs=self.pairs, skipped_pairs=self.skipped)

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
        carried = None
        if self.batches.version != version and overlap_at_point is not None and self.carries:
            carried = (*overlap_at_point, self.carry_share())
        self.move_to(point, carried)

    @staticmethod
    def joined(f: float, g: Any, carried: tuple[float, Any, float]) -> tuple[float, Any]:
        """f and g of the sample S = O ∪ B: the batch's (f, g) and the carried overlap's, weighted by
        their sizes."""
        f_carried, g_carried, share = carried
        w = share / (1.0 + share)
        return (1.0 - w) * f + w * f_carried, (1.0 - w) * g + w * g_carried

    def carry_share(self) -> float:
        """|O|/|B|, the weight of a carried overlap against the batch's."""
        return self.params.overlap if self.by_parts else 1.0

    def batch_gradient(self, x: Any) -> tuple[float, Any, Any]:
        """(f_S(x), ∇f_S(x), ∇f_O(x)) on the current batch S, ∇f_O from the same passes."""
        if not self.by_parts or self.product is not None:
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

    def first_trial_gives_pair(self) -> bool:
        """Whether the gradient at the first Armijo trial is the pair's when that trial is taken: pairs
        from the overlap, and the overlap the whole batch."""
        if self.product is not None:
            return False
        if not self.by_parts:
            return True
        m = int(self.nlp.batch_samples)
        return self.overlap_size(m) == m

    def overlap_size(self, m: int) -> int:
        return min(m, max(1, math.ceil(self.params.overlap * m)))

    def steplength(self, d: Any, slope: float) -> tuple[float, int]:
        """(α, backtracks): 0 when d is not a descent direction, else ``lr`` (``line_search="fixed"``)
        or the Armijo step."""
        if not slope < 0:
            return 0.0, 0
        if self.params.line_search == "fixed":
            return self.params.lr, 0
        return self.armijo(d, slope)

    def armijo(self, d: Any, slope: float) -> tuple[float, int]:
        """The first α = lr·(1/2)^j (j ≤ bk_max) with f(x + αd) ≤ f(x) + 10⁻⁴ α gᵀd on the current
        batch, and j; (0, bk_max) when there is none. When the overlap is the whole batch, the first
        trial is evaluated with its gradient, kept in ``trial`` as (point, f, ∇f): taken, it gives the
        pair its gradient at the new point, and the overlap is not evaluated again."""
        alpha = self.params.lr
        for j in range(self.params.bk_max + 1):
            point = self.x + alpha * d
            if j == 0 and self.first_trial_gives_pair():
                f, g = self.nlp.objgrad(point)
                self.trial = (point, f, g)
            else:
                f = self.nlp.obj(point)
            if math.isfinite(f) and f <= self.f + ARMIJO_C * alpha * slope:
                return alpha, j
            alpha *= SHRINK
        return 0.0, self.params.bk_max


multibatch_lbfgs = solver_function(MultiBatchLBFGS)
