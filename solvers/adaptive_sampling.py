"""Batch-size policies of the deterministic solvers: a fixed batch, or a batch that grows by the norm
test of Byrd, Chin, Nocedal and Wu ("Sample size selection in optimization methods for machine
learning", Math. Program. 134, 2012, §3, the dynamic sample size gradient method) in the form of
Bollapragada, Byrd and Nocedal ("Adaptive sampling strategies for stochastic optimization", SIAM J.
Optim. 28, 2018).

The norm test. On a batch S of m samples with per-sample gradients ∇f_i(x) and batch gradient
g_S = (1/m) Σ_{i∈S} ∇f_i(x), the batch is adequate when

    Var_{i∈S}(∇f_i(x)) / m ≤ θ² ‖g_S‖²,

Var the sample variance (1/(m-1)) Σ_i ‖∇f_i(x) - g_S‖² (the trace of the sample covariance, the
1-norm of the vector of per-coordinate variances): the variance of g_S as an estimate of the
gradient is then at most θ² ‖g_S‖², so -g_S is a descent direction for the whole objective in
expectation when θ < 1. Otherwise the next batch has

    m⁺ = ⌈Var / (θ² ‖g_S‖²)⌉

samples, the size for which the same variance would pass, capped by the training set size n (the
papers give no other cap on the growth). The batch never shrinks.

The variance without per-sample gradients. The batch is cut into K groups G_1..G_K of sizes b_k
(⌊km/K⌋ boundaries, so sizes differ by at most one) and each group's mean gradient
ḡ_k = (1/b_k) Σ_{i∈G_k} ∇f_i(x) comes from one ``objgrad_samples`` call. Then g_S = Σ_k (b_k/m) ḡ_k,
and the between-group estimate of the per-sample variance is

    σ̂² = 1/(K-1) Σ_k b_k ‖ḡ_k - g_S‖².

For independently drawn samples with per-sample covariance C (σ² = tr C), E ‖ḡ_k - g_S‖² =
σ² (1/b_k - 1/m), so E σ̂² = σ² (K - 1)/(K - 1) = σ²: the estimate is unbiased, and K = m gives Var
itself. σ̂² replaces Var in both formulas. The sum over groups runs with West's weighted update
("Updating mean and variance estimates: an improved method", Comm. ACM 22, 1979), which needs no
difference of large sums. An l2 term adds the same l2·x to every ḡ_k: g_S includes it, σ̂² does not
see it.

Cost, counted honestly: on a test evaluation the K group calls replace the batch's ``objgrad`` (their
weighted sum *is* g_S, and f_S likewise), so the test costs K calls on m/K samples each instead of one
on m, and the model's counters show K objective and K gradient evaluations. The test runs on the
first evaluation of every ``test_every``-th new batch, and only while the batch is smaller than the
training set.

When the batch grows. The test at x_k on S_k decides the size of the next batch (BCNW 2012 §3): the
step of iteration k uses g_{S_k}, and the new size takes effect when the model moves to its next
batch (``resample``; a callback that moves the model does too). ``nlp.set_batch_size`` restarts the
current epoch at its first batch, so the samples of that epoch seen before are seen again
(``resample="epoch"`` keeps the period of batches it had at the start).

Epochs, counted by samples. The driver's epoch count (``max_epochs``, ``solver_specific["epochs"]``)
is the model's epoch index, moved on by one at each pass through the training set, plus the samples
of the restarted epochs' earlier batches divided by n: a growing batch is credited with every sample
it drew. The history gains the columns ``batch`` (the batch size in use) and ``samples`` (the samples
of the batches evaluated by this call, each batch counted once).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from minidnn.nlpmodels.minibatch import draws_minibatches
from minidnn.solvers.parameters import Integer, Number, OneOf, declared, parameter

POLICIES = ("fixed", "norm_test")

NEEDS = ("objgrad_samples", "batch_samples", "batch_size", "set_batch_size", "train_data")
"""The members a model needs for the norm test (a ``NeuralNetModel`` has them)."""


@declared
class SamplingParameters:
    """The batch-size policy of every deterministic solver (:mod:`minidnn.solvers.adaptive_sampling`)."""

    batch_policy: str = parameter(
        "fixed",
        "fixed (the model's batch size) or norm_test (the batch grows when its gradient is too noisy)",
        OneOf(POLICIES),
        source="norm_test: Byrd, Chin, Nocedal and Wu 2012",
    )
    theta: float = parameter(
        0.9,
        "θ of the norm test Var/m ≤ θ² ‖g‖²",
        Number(0.0, 1.0, low_open=True, high_open=True),
        source="θ < 1 makes -g_S a descent direction in expectation (Byrd, Chin, Nocedal and Wu 2012 §3); "
        "0.9, near 1, grows the batch only where the noise nearly dominates the gradient",
    )
    test_groups: int = parameter(
        8,
        "groups K of the batch whose mean gradients estimate the variance of the norm test",
        Integer(2),
        source="an estimate with K - 1 = 7 degrees of freedom at 8 calls on m/8 samples each",
    )
    test_every: int = parameter(
        1,
        "the norm test runs on every k-th new batch",
        Integer(1),
        source="Byrd, Chin, Nocedal and Wu 2012 §3: every iteration",
    )


class FixedSize:
    """The model's batch size, never changed: evaluations are the model's ``objgrad``."""

    columns: tuple[tuple[str, int, str], ...] = ()

    def __init__(self, nlp: Any):
        self.nlp = nlp

    def resize(self) -> None:
        """Nothing to do: the size does not change."""

    def objgrad(self, x: Any) -> tuple[float, Any]:
        return self.nlp.objgrad(x)

    def replayed_epochs(self) -> int:
        return 0

    def row(self) -> dict[str, Any]:
        return {}

    def summary(self) -> dict[str, Any]:
        return {}

    def state(self, g: Any) -> None:
        return None

    def put_back(self) -> None:
        """Nothing to do: the size never changed."""

    def restore(self, state: Mapping[str, Any] | None) -> None:
        if state is not None:
            raise ValueError("the state holds a batch policy's state, and this run's batch_policy is 'fixed'")


class NormTest:
    """The norm test's batch size (see the module docstring); ``nlp`` is the model that draws the
    samples (the network's model, under any quasi-Newton wrapper)."""

    columns = (("batch", 6, "d"), ("samples", 9, "d"))

    def __init__(self, nlp: Any, params: SamplingParameters):
        self.nlp = nlp
        self.backend = nlp.meta.backend
        self.theta, self.groups, self.every = params.theta, params.test_groups, params.test_every
        self.training_samples = len(nlp.train_data)
        self.size0 = int(nlp.batch_size)  # the model's size before the run
        self.target = self.size0  # the size from the next batch on
        self.new_batches = 0  # new batches evaluated over the whole run: test_every's phase
        self.epoch = -1  # the epoch whose samples ``epoch_samples`` counts
        self.epoch_samples = 0
        self.grouped = False  # whether the last batch's f and ∇f came from the groups
        self.gradient: Any = None  # the gradient of that grouped evaluation
        self.version = -1  # the batch version of the last evaluation
        self.repeat = False  # the next evaluation repeats the saved one (a continued run's start)
        self.samples = 0  # samples of the batches evaluated by this call
        self.replayed = 0  # samples of restarted epochs seen again, in this call
        self.tests = 0
        self.failed = 0

    # -- the solver's evaluations on a new batch ----------------------------------------------------------
    def resize(self) -> None:
        """Before the first evaluation of a new batch: the batch takes the size the last test chose;
        the current epoch restarts, and its samples seen so far are credited (``replayed``)."""
        if self.repeat or self.target == int(self.nlp.batch_size):
            return
        if int(self.nlp.epoch) == self.epoch:
            self.replayed += self.epoch_samples
            self.epoch_samples = 0
        self.nlp.set_batch_size(self.target)

    def objgrad(self, x: Any) -> tuple[float, Any]:
        """(f_S(x), ∇f_S(x)) on a new batch S, from the groups on a test evaluation (then the test
        sets the next size), else from the model's ``objgrad``."""
        self.version = int(self.nlp.batch_version)
        if self.repeat:
            self.repeat = False
            if not self.grouped:
                return self.nlp.objgrad(x)
            f, self.gradient, _ = self.grouped_objgrad(x)
            return f, self.gradient
        m = int(self.nlp.batch_samples)
        self.count(m)
        self.new_batches += 1
        due = (self.new_batches - 1) % self.every == 0
        self.grouped = due and m >= 2 and int(self.nlp.batch_size) < self.training_samples
        self.gradient = None
        if not self.grouped:
            return self.nlp.objgrad(x)
        f, g, variance = self.grouped_objgrad(x)
        self.test(g, variance, m)
        self.gradient = g
        return f, g

    def count(self, m: int) -> None:
        epoch = int(self.nlp.epoch)
        if epoch != self.epoch:
            self.epoch, self.epoch_samples = epoch, 0
        self.epoch_samples += m
        self.samples += m

    def grouped_objgrad(self, x: Any) -> tuple[float, Any, float]:
        """(f_S, g_S, σ̂²) from K = min(test_groups, m) groups of the current batch (West's update)."""
        xp = self.backend.xp
        m = int(self.nlp.batch_samples)
        k_groups = min(self.groups, m)
        f, mean, m2, weight = 0.0, None, None, 0
        for k in range(k_groups):
            start, stop = k * m // k_groups, (k + 1) * m // k_groups
            f_k, g_k = self.nlp.objgrad_samples(x, start, stop)
            b = stop - start
            weight += b
            f += (b / m) * f_k
            if mean is None:
                mean = xp.asarray(g_k, copy=True)
                continue
            delta = g_k - mean
            mean += (b / weight) * delta
            term = b * xp.sum(delta * (g_k - mean))
            m2 = term if m2 is None else m2 + term
        variance = self.backend.to_float(m2) / (k_groups - 1)
        return f, mean, variance

    def test(self, g: Any, variance: float, m: int) -> None:
        """The norm test σ̂²/m ≤ θ² ‖g‖²; when it fails, the next batch has ⌈σ̂²/(θ² ‖g‖²)⌉ samples,
        at most n (a non-finite value decides nothing: the solver stops on it)."""
        self.tests += 1
        g_squared = self.backend.to_float(self.backend.xp.sum(g * g))
        if not (math.isfinite(variance) and math.isfinite(g_squared)):
            return
        bound = self.theta**2 * g_squared
        if variance <= bound * m:
            return
        self.failed += 1
        needed = self.training_samples if bound == 0 else math.ceil(variance / bound)
        self.target = min(self.training_samples, max(self.target, needed))

    # -- the driver's view --------------------------------------------------------------------------------
    def replayed_epochs(self) -> float:
        """The epochs credited for samples seen again after a restart (see the module docstring)."""
        return self.replayed / self.training_samples

    def row(self) -> dict[str, Any]:
        return {"batch": int(self.nlp.batch_size), "samples": self.samples}

    def summary(self) -> dict[str, Any]:
        return {
            "batch_size": int(self.nlp.batch_size),
            "samples": self.samples,
            "norm_tests": self.tests,
            "norm_tests_failed": self.failed,
        }

    def state(self, g: Any) -> dict[str, Any]:
        """What the next iterations depend on: the chosen size, the test phase, the current epoch's
        samples, whether the model's current batch was evaluated already (``evaluated``; else it is
        a new batch, to be resized and tested) and whether the solver's gradient ``g`` is still the
        one from the groups (``grouped``: no step taken since), which the continued run's start then
        computes the same way; the batch size itself is in the model's batch position."""
        return {
            "batch_size": int(self.nlp.batch_size),
            "target": self.target,
            "new_batches": self.new_batches,
            "epoch": self.epoch,
            "epoch_samples": self.epoch_samples,
            "evaluated": self.version == int(self.nlp.batch_version),
            "grouped": self.grouped and g is self.gradient,
        }

    def restore(self, state: Mapping[str, Any] | None) -> None:
        """Takes back :meth:`state` before the batch position (which holds the batch size) comes back:
        the model takes the saved batch size, and the next evaluation repeats the saved one when the
        saved batch was evaluated (a ValueError naming the entry that does not fit, before anything
        changes; :meth:`put_back` undoes the size)."""
        if not isinstance(state, Mapping):
            raise ValueError(
                "the state has no batch policy state, and this run's batch_policy is 'norm_test'"
            )
        values = {
            name: _count(state, name) for name in ("batch_size", "target", "new_batches", "epoch_samples")
        }
        epoch = state.get("epoch")
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < -1:
            raise ValueError(f"the batch policy state's 'epoch' must be an integer >= -1, got {epoch!r}")
        flags = {name: state.get(name) for name in ("evaluated", "grouped")}
        for name, flag in flags.items():
            if not isinstance(flag, bool):
                raise ValueError(f"the batch policy state's {name!r} must be True or False, got {flag!r}")
        for name in ("batch_size", "target"):
            if not 1 <= values[name] <= self.training_samples:
                raise ValueError(
                    f"the batch policy state's {name!r} must be in [1, {self.training_samples}], "
                    f"got {values[name]!r}"
                )
        self.target, self.new_batches = values["target"], values["new_batches"]
        self.epoch, self.epoch_samples = epoch, values["epoch_samples"]
        self.grouped, self.repeat = flags["grouped"], flags["evaluated"]
        if values["batch_size"] != int(self.nlp.batch_size):
            self.nlp.set_batch_size(values["batch_size"])

    def put_back(self) -> None:
        """The model's batch size as it was before the run (after a state that did not fit)."""
        if int(self.nlp.batch_size) != self.size0:
            self.nlp.set_batch_size(self.size0)


def _count(state: Mapping[str, Any], name: str) -> int:
    value = state.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"the batch policy state's {name!r} must be an integer >= 0, got {value!r}")
    return value


def batch_policy(owner: str, params: Any, nlp: Any, resample: Any) -> FixedSize | NormTest:
    """The policy ``params.batch_policy`` names on ``nlp`` (the model before any quasi-Newton
    wrapper); a ValueError naming ``owner`` when the model or ``resample`` cannot serve it. A
    parameter record without ``batch_policy`` (the stochastic family) keeps the batch fixed."""
    if getattr(params, "batch_policy", "fixed") == "fixed":
        return FixedSize(nlp)
    missing = [name for name in NEEDS if not hasattr(nlp, name)]
    if not draws_minibatches(nlp) or missing:
        raise ValueError(
            f"{owner}: batch_policy='norm_test' needs a minibatch model with {', '.join(NEEDS)} "
            f"(a NeuralNetModel); {nlp.meta.name} lacks {', '.join(missing) or 'the minibatch interface'}"
        )
    if resample is None:
        raise ValueError(
            f"{owner}: batch_policy='norm_test' needs resample ('iteration', 'epoch' or k): the larger "
            "batch is drawn when the model moves to its next batch"
        )
    return NormTest(nlp, params)
