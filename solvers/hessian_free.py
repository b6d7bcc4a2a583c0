"""hessian_free: Hessian-free optimization (Martens, "Deep learning via Hessian-free optimization",
ICML 2010), the sub-sampled Newton-CG method of Byrd, Chin, Neveitt and Nocedal ("On the use of
stochastic Hessian information in optimization methods for machine learning", SIAM J. Optim. 21,
2011).

Each iteration, on the current batch X (the driver re-evaluates f and g = ∇f_X(x) after a batch
change) and its sub-sample S, the first ⌈``curvature_fraction`` |X|⌉ samples of X:

1. B = C_S + λ I, with C_S the Gauss-Newton matrix on S (``nlp.ghprod``, Martens §4.2; positive
   semi-definite) or the Hessian on S (``curvature="hessian"``), λ the Levenberg-Marquardt damping.
2. CG on B d = -g (:func:`martens_cg`), with ``preconditioner="squared_gradients"`` preconditioned by
   Martens' diagonal M = (D + λ)^0.75, D the mean squared per-sample gradient (§4.7;
   :mod:`minidnn.solvers.squared_gradient_preconditioner`), warm-started from ζ d_prev, the previous
   CG solution decayed by ζ = 0.95 (Martens §4.5), stopped by Martens' relative-progress test on the
   quadratic φ(d) = gᵀd + ½ dᵀBd (§4.4): at iteration i, with k = max(10, 0.1 i), stop when
   φ_i < 0 and (φ_i - φ_{i-k}) / φ_i < k ε, ε = 5e-4; or at ``cg_max_iter``.
3. The step d is CG's last iterate, f(x + d) evaluated there; with ``cg_backtracking=True``,
   Martens' CG-backtracking (§4.6): the iterates d_j at j = ⌈1.3^m⌉ are kept; from the last one back,
   f(x + d_j) is evaluated while it keeps decreasing, and the best d_j is the step.
4. ρ = (f(x + d) - f(x)) / φ(d); Levenberg-Marquardt (Martens §4.1): ρ < 1/4 → λ ← 3/2 λ,
   ρ > 3/4 → λ ← max(2/3 λ, ``min_damping``), the floor on a model with samples only (a fixed
   problem's curvature is its whole Hessian). The floor is ours: C_S has rank at most |S| times
   the network's outputs less one, far below the number of parameters, and in the directions it
   does not see λ is all the curvature B has; where the sample predicts f well (ρ near 1 at every
   step) λ would otherwise shrink geometrically and the steps grow without bound.
5. Armijo backtracking along d (Martens and Sutskever, "Training deep and recurrent networks with
   Hessian-free optimization", 2012, §8.8): the largest α = 0.8^j, j ≤ ``bk_max``, with
   f(x + αd) ≤ f(x) + 10⁻² α gᵀd; no step when none is found (λ has grown in step 4, and the next
   CG starts from 0). Once λ has grown until x + d rounds to x, the run stops: ``small_step``, or an
   exception when f is not finite there (the objective has turned NaN where it was finite).

Batches: when the batch moves after the iteration (``resample``), f and ∇f at x + αd are evaluated
on the next batch only (the driver's refresh): one gradient per iteration. With ``resample`` the
sub-sample changes with the batch; on one fixed batch (or in full batch, where S is the first
⌈``curvature_fraction`` n⌉ training samples, in file order) it stays the same. A fixed problem (no
minibatches) has no samples: its curvature is the whole Hessian.

Defaults, measured with ``minidnn compare`` on MNIST LeNet-5 (batch 100, 30 s, 2 cores, one run per
seed; the final test accuracy of single runs moves by up to 0.05 between neighbouring snapshots).
With ``min_damping=1``, ``curvature_fraction=0.5, cg_max_iter=5`` reached 0.9747, 0.9663 and 0.9579
on seeds 0, 1, 2, where ``curvature_fraction=0.1, cg_max_iter=10`` with no floor had reached 0.9541,
0.9490 and 0.9601; 0.9690 with ``curvature_fraction=1, cg_max_iter=3`` on seed 0. Once the products
at one point shared its values (a step from 73-83 to 66-67 ms), reported at the average of the
iterates (``average=0.98``), where a setting's effect is no longer lost in the iterates' swings, on
seeds 0, 1, 2 (load 1.2-2.0), with CG-backtracking:

    curvature_fraction, cg_max_iter   test accuracy            iterations in 30 s
    0.5, 5                            0.9820 0.9830 0.9844     431-447
    0.5, 8                            0.9802 0.9823 0.9805     325-338
    0.25, 5                           0.9794 0.9845 0.9830     503-561
    0.2, 3                            0.9847 0.9842 0.9832     709-742
    0.1, 3                            0.9841 0.9861 0.9849     794-821
    0.05, 3                           0.9852 0.9860 0.9846     820-917

and on seed 0: 0.9844 with 0.2, 1; 0.9839 with 0.2, 2; 0.9842 with 0.1, 2; 0.9813 with 0.1, 5; 0.9833
with 0.3, 3. Fewer, cheaper products buy more iterations, and here more iterations count for more
than a finer solve, as with the 5-10% Hessian samples of Byrd, Chin, Neveitt and Nocedal. Then
without CG-backtracking (the defaults: 0.1, 3, ``cg_backtracking=False``): 0.9862, 0.9873 and 0.9895
in 1,006-1,205 iterations (0.9849, 0.9866, 0.9869 with 0.05, 3; 0.9850, 0.9858, 0.9872 with 0.2, 3).
With CG-backtracking, the objectives at the earlier iterates made 3.4 objectives per step in place
of 2.2 (a step of 34.8 ms in place of 29.4, ``benchmarks/solver_cost.py``), and after at most 3
CG steps there is little for it to undo. Without the average the defaults reached 0.9792, 0.9843 and
0.9778; with CG-backtracking 0.9731, 0.9796 and 0.9800; 0.5 and 5 before the product reuse 0.9747,
0.9663 and 0.9579.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from minidnn.solvers.adaptive_sampling import SamplingParameters
from minidnn.solvers.core import Batches, Budget, NonFinite, Solver, StateError, checked_scalar, dot
from minidnn.solvers.driver import solver_function
from minidnn.solvers.parameters import (
    FRACTION,
    POSITIVE,
    Boolean,
    Integer,
    Number,
    OneOf,
    declared,
    parameter,
)
from minidnn.solvers.sampled_curvature import CURVATURES, curvature_product
from minidnn.solvers.squared_gradient_preconditioner import SquaredGradientPreconditioner

from minidnn.backend import Backend

PRECONDITIONERS = ("squared_gradients", "identity")


@declared
class HessianFreeParameters(SamplingParameters):
    """hessian_free's parameters (Martens 2010; Byrd, Chin, Neveitt and Nocedal 2011)."""

    curvature: str = parameter(
        "gauss_newton",
        "curvature products: gauss_newton (nlp.ghprod, positive semi-definite) or hessian (hprod)",
        OneOf(CURVATURES),
        source="Martens 2010 §4.2: the Gauss-Newton matrix",
    )
    curvature_fraction: float = parameter(
        0.1,
        "fraction of the current batch that the curvature products use",
        Number(0.0, 1.0, low_open=True),
        source="Byrd, Chin, Neveitt and Nocedal 2011 §6 use Hessian samples of 5-10% of the gradient's; "
        "measured, LeNet-5 on MNIST, batch 100, 30 s, with min_damping 1: see the module docstring",
    )
    damping: float = parameter(
        1.0, "initial Levenberg-Marquardt damping λ", POSITIVE, source="Martens 2010 §4.1: λ adapted from 1"
    )
    decay: float = parameter(
        0.95,
        "factor ζ of the previous CG solution that starts the next CG",
        FRACTION,
        source="Martens 2010 §4.5: ζ = 0.95",
    )
    min_damping: float = parameter(
        1.0,
        "floor of λ on a model with samples (none on a fixed problem, whose curvature is whole)",
        Number(0.0),
        source="a floor: λ is the only curvature in the directions the sub-sample's Gauss-Newton matrix "
        "does not see (rank at most |S| times the outputs less one), so λ → 0 lets the step grow without "
        "bound there; measured, LeNet-5 on MNIST, batch 100, 30 s, curvature_fraction 1, cg_max_iter 3: "
        "λ fell to 1e-41 and the test accuracy to 0.097 with no floor, 0.103 with 0.1, 0.969 with 1, "
        "0.970 with 3; with curvature_fraction 0.1, cg_max_iter 3, at the average of the iterates (seed 0): "
        "0.9831 with 0.5, 0.9841 with 1 and with 2",
    )
    preconditioner: str = parameter(
        "identity",
        "CG preconditioner: identity (plain CG) or squared_gradients (Martens' diagonal)",
        OneOf(PRECONDITIONERS),
        source="Martens 2010 §4.7 preconditions; plain CG by default, measured (LeNet-5 on MNIST, batch "
        "100, 30 s, seeds 0-3, curvature_fraction 0.1, cg_max_iter 10, no floor): final test accuracy "
        "0.9541, 0.9490, 0.9601, 0.9618 (mean 0.9563) with identity against 0.9695, 0.9616, 0.9069, "
        "0.9571 (mean 0.9488) with squared_gradients",
    )
    precondition_power: float = parameter(
        0.75,
        "exponent ξ of the preconditioner M = (D + λ)^ξ",
        Number(0.0, 1.0, low_open=True),
        source="Martens 2010 §4.7: ξ = 0.75",
    )
    moment_decay: float = parameter(
        0.95,
        "weight β of the past in the running estimate D of the squared per-sample gradients",
        FRACTION,
        source="measured, LeNet-5 on MNIST, batch 100, 30 s, seed 0, squared_gradients, settings as "
        "above: final test accuracy 0.9695 with 0.95, 0.9631 with 0 (the current batch alone) and "
        "0.9507 with 0.99",
    )
    cg_max_iter: int = parameter(
        3,
        "inner CG iteration cap",
        Integer(1),
        source="a cap for minibatches, where each CG step costs a curvature product and the batch "
        "gradient's noise makes a finer solve useless; measured, LeNet-5 on MNIST, batch 100, 30 s: see "
        "the module docstring; Martens 2010 §4.4 allows 250 on large batches",
    )
    cg_backtracking: bool = parameter(
        False,
        "Martens' CG-backtracking: f at the kept CG iterates, from the last back, while it decreases "
        "(False: the last iterate, f evaluated there alone)",
        Boolean(),
        source="Martens 2010 §4.6; off by default, measured: see the module docstring",
    )
    cg_epsilon: float = parameter(
        5e-4,
        "ε of the relative-progress stopping test of CG",
        POSITIVE,
        source="Martens 2010 §4.4: ε = 0.0005",
    )
    bk_max: int = parameter(
        10,
        "Armijo backtracks along the step (0: none)",
        Integer(0),
        source="Martens and Sutskever 2012 §8.8: α ← 0.8 α",
    )


SAVE_FACTOR = 1.3  # Martens 2010 §4.6: the iterates at ⌈1.3^m⌉ are kept for CG-backtracking
PROGRESS_WINDOW = (10, 0.1)  # Martens 2010 §4.4: k = max(10, 0.1 i)
LM_LOW, LM_HIGH = 0.25, 0.75  # Martens 2010 §4.1: ρ < 1/4 and ρ > 3/4
LM_UP, LM_DOWN = 1.5, 2.0 / 3.0  # Martens 2010 §4.1: λ ← 3/2 λ and λ ← 2/3 λ
ARMIJO_C, ARMIJO_SHRINK = 1e-2, 0.8  # Martens and Sutskever 2012 §8.8


@dataclass
class CGRun:
    """CG's final solution and value φ, and the kept iterates (iteration, d_j, φ_j) in order."""

    solution: Any
    value: float
    kept: list[tuple[int, Any, float]]
    iterations: int
    exit: str


def martens_cg(
    backend: Backend,
    product: Callable[[Any], Any],
    g: Any,
    d0: Any | None,
    *,
    max_iter: int,
    epsilon: float,
    precondition: Callable[[Any], Any] | None = None,
) -> CGRun:
    """CG on B d = -g from ``d0`` (None: 0) with Martens' (2010, §4.4) relative-progress test on
    φ(d) = gᵀd + ½ dᵀBd = ½ (g + r)ᵀd, r = Bd + g, keeping the iterates at ⌈1.3^m⌉ (§4.6);
    preconditioned CG (Nocedal and Wright, Algorithm 5.3) when ``precondition`` (v -> M⁻¹ v) is given."""
    xp = backend.xp
    if d0 is None:
        d, r = xp.zeros_like(g), g
    else:
        d = d0
        r = product(d0) + g
    z = r if precondition is None else precondition(r)
    p = -z
    rr = dot(backend, r, z)
    values = [0.0 if d0 is None else 0.5 * dot(backend, g + r, d)]
    kept: list[tuple[int, Any, float]] = []
    next_save, exit_reason = 1, "cap"
    for i in range(1, max_iter + 1):
        bp = product(p)
        curvature = dot(backend, p, bp)
        if not math.isfinite(curvature):
            raise NonFinite(f"the curvature product is not finite (pᵀBp = {curvature})")
        if curvature <= 0:
            if i == 1:  # no progress yet: the direction itself, -r
                d = d + p
                values.append(0.5 * dot(backend, g + product(d) + g, d))
            exit_reason = "negative curvature"
            break
        alpha = rr / curvature
        d = d + alpha * p
        r = r + alpha * bp
        values.append(0.5 * dot(backend, g + r, d))
        if i >= next_save:
            kept.append((i, d, values[-1]))
            next_save = max(i + 1, math.ceil(SAVE_FACTOR ** len(kept)))
        window = max(PROGRESS_WINDOW[0], math.ceil(PROGRESS_WINDOW[1] * i))
        phi = values[-1]
        if i > window and phi < 0 and (phi - values[i - window]) / phi < window * epsilon:
            exit_reason = "progress"
            break
        z = r if precondition is None else precondition(r)
        rr_next = dot(backend, r, z)
        if rr_next == 0.0:
            exit_reason = "exact"
            break
        p = -z + (rr_next / rr) * p
        rr = rr_next
    if not kept or kept[-1][1] is not d:
        kept.append((len(values) - 1, d, values[-1]))
    return CGRun(d, values[-1], kept, len(values) - 1, exit_reason)


class HessianFree(Solver):
    """Minimises ``nlp`` by Hessian-free / sub-sampled Newton-CG with Levenberg-Marquardt damping
    (see :mod:`minidnn.solvers.hessian_free`); ``nlp`` needs ``ghprod`` (a network) or, with
    ``curvature="hessian"``, ``hprod``."""

    name = "hessian_free"
    parameters = HessianFreeParameters
    step_label = "lambda"
    extra_columns = (("cg", 4, "d"), ("kept", 4, "d"), ("bk", 3, "d"), ("cg_exit", 18, ""))

    def __init__(self, nlp: Any, x: Any, batches: Batches, budget: Budget, params: HessianFreeParameters):
        super().__init__(nlp, x, batches, budget, params)
        self.curvature = curvature_product(nlp, params.curvature, params.curvature_fraction, self.name)
        self.damping = params.damping
        self.previous: Any = None
        self.step = self.damping
        self.min_damping = params.min_damping if hasattr(nlp, "batch_samples") else 0.0
        self.preconditioner = None
        if params.preconditioner == "squared_gradients":
            self.preconditioner = SquaredGradientPreconditioner(
                self.backend, params.moment_decay, params.precondition_power
            )

    def state(self) -> dict[str, Any]:
        """λ, the previous CG solution, the next CG's start (None before the first step and after a
        rejected one), and the preconditioner's running D (None without one or before its first
        gradient)."""
        second = None if self.preconditioner is None else self.preconditioner.state()
        return {"damping": self.damping, "previous": self.previous, "second_moment": second}

    def restore(self, state: Mapping[str, Any]) -> None:
        damping = checked_scalar(self.name, state, "damping", 0.0)
        if not damping > 0:
            raise StateError(f"{self.name}: the state's 'damping' must be > 0, got {damping!r}")
        if "previous" not in state:
            raise StateError(f"{self.name}: the state has no 'previous'")
        previous = None if state["previous"] is None else self.checked_array(state, "previous", self.x)
        second = self.restored_moment(state)
        self.damping, self.previous, self.step = damping, previous, damping
        if self.preconditioner is not None:
            self.preconditioner.restore(second)

    def restored_moment(self, state: Mapping[str, Any]) -> Any:
        """The state's preconditioner estimate D, checked (None where the state has none); a
        StateError when it holds one that this run's settings cannot use."""
        second = state.get("second_moment")
        if second is None:
            return None
        if self.preconditioner is None:
            raise StateError(
                f"{self.name}: the state has a preconditioner's 'second_moment' and preconditioner='identity'"
            )
        second = self.checked_array(state, "second_moment", self.x)
        if not bool(self.xp.all(second >= 0)):
            raise StateError(f"{self.name}: the state's 'second_moment' has negative entries")
        return second

    def iterate(self) -> str | None:
        if self.grad_norm == 0.0:  # CG's direction is 0: no step can move x (gradient test off)
            return "small_step"
        x, lam = self.x, self.damping
        cg = martens_cg(
            self.backend,
            lambda v: self.curvature(x, v) + lam * v,
            self.g,
            None if self.previous is None else self.params.decay * self.previous,
            max_iter=self.params.cg_max_iter,
            epsilon=self.params.cg_epsilon,
            precondition=self.precondition(lam),
        )
        self.previous = cg.solution
        iteration, d, value, f_trial = self.cg_backtrack(cg)
        self.ratio = (f_trial - self.f) / value if value < 0 else -math.inf
        if self.ratio < LM_LOW:
            self.damping *= LM_UP
        elif self.ratio > LM_HIGH:
            self.damping = max(self.damping * LM_DOWN, self.min_damping)
        self.step = self.damping
        slope = self.dot(self.g, d)
        alpha, backtracks = self.armijo(d, slope, f_trial)
        self.extra = {"cg": cg.iterations, "kept": iteration, "bk": backtracks, "cg_exit": cg.exit}
        if alpha == 0.0:
            if self.rounds_to_same(x, x + d):  # λ has grown until the step is lost to rounding
                if f_trial == math.inf:
                    raise NonFinite("the objective is not finite at x + d, a step that rounds to x")
                return "small_step"
            self.previous = None
            return None
        point = x + alpha * d
        if self.rounds_to_same(x, point):
            return "small_step"
        if self.batches.moving:  # f, ∇f at the new point are needed on the next batch only
            self.x, self.batch_version = point, None
            return None
        self.x, (self.f, self.g, self.grad_norm) = point, self.evaluate(point)
        return None

    def precondition(self, damping: float) -> Callable[[Any], Any] | None:
        """v -> M⁻¹ v for this iteration's CG, after the running D has seen the gradient (None without
        a preconditioner)."""
        if self.preconditioner is None:
            return None
        self.preconditioner.observe(self.g, int(getattr(self.nlp, "batch_samples", 1)))
        inverse = self.preconditioner.inverse(damping)
        return lambda v: v * inverse

    def cg_backtrack(self, cg: CGRun) -> tuple[int, Any, float, float]:
        """(CG iteration, d_j, φ(d_j), f(x + d_j)) of the step: CG's last iterate, or with
        ``cg_backtracking`` the kept iterate, from the last one back, after which f(x + d_j) stops
        decreasing (Martens 2010 §4.6)."""
        kept = cg.kept
        best = kept[-1]
        f_best = self.trial_value(best[1])
        earlier = reversed(kept[:-1]) if self.params.cg_backtracking else ()
        for candidate in earlier:
            f_candidate = self.trial_value(candidate[1])
            if not f_candidate < f_best:
                break
            best, f_best = candidate, f_candidate
        return best[0], best[1], best[2], f_best

    def armijo(self, d: Any, slope: float, f_full: float) -> tuple[float, int]:
        """The largest α = 0.8^j (j ≤ bk_max) with f(x + αd) ≤ f(x) + 10⁻² α gᵀd, from f(x + d) known;
        0 when d is not a descent direction or no such α is found."""
        if not slope < 0:
            return 0.0, 0
        alpha, f_alpha = 1.0, f_full
        for j in range(self.params.bk_max + 1):
            if f_alpha <= self.f + ARMIJO_C * alpha * slope:
                return alpha, j
            if j == self.params.bk_max:
                break
            alpha *= ARMIJO_SHRINK
            f_alpha = self.trial_value(alpha * d)
        return 0.0, self.params.bk_max

    def trial_value(self, step: Any) -> float:
        """f(x + step) on the current batch; +inf where it is not finite (a rejected trial)."""
        f = self.nlp.obj(self.x + step)
        return f if math.isfinite(f) else math.inf


hessian_free = solver_function(HessianFree)
