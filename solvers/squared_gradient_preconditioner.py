"""The diagonal CG preconditioner of Hessian-free optimization (Martens, "Deep learning via
Hessian-free optimization", ICML 2010, §4.7):

    M = [diag(D) + λ I]^ξ,   D = (1/m) Σ_i ∇f_i ⊙ ∇f_i,   ξ = 0.75,

∇f_i the gradient of sample i of the batch, λ the Levenberg-Marquardt damping. D is the diagonal of
the empirical Fisher matrix of the batch's mean loss, whose scale matches the Gauss-Newton matrix's
of the same mean; ξ < 1 tempers it (Martens §4.7: 0.75). CG then starts along -M⁻¹g, a
per-parameter scaling of the gradient like RMSprop's, and its step lengths come from the curvature.

The per-sample squares are not formed here (they would take one gradient per sample). With ḡ the
batch gradient of m samples, independent with mean μ and variance σ², E[m ḡ ⊙ ḡ] = σ² + m μ²
while E[D] = σ² + μ²: the two agree where the noise dominates the mean, which is the case in
minibatch training. D is estimated by m ḡ ⊙ ḡ, averaged over the iterations with weight β on the
past (an exponential average, as the second moment of Adam, Kingma and Ba 2015, but started from
the first batch's value rather than from zero, so that it needs no bias correction).
"""

from __future__ import annotations

from typing import Any

from minidnn.backend import Backend


class SquaredGradientPreconditioner:
    """v -> M⁻¹ v with M = (D + λ)^ξ, D the running estimate of the batch's mean squared per-sample
    gradients (see the module docstring)."""

    def __init__(self, backend: Backend, decay: float, power: float):
        self.backend = backend
        self.decay = decay
        self.power = power
        self.second: Any = None
        self._square: Any = None
        self._inverse: Any = None

    def observe(self, g: Any, samples: int) -> None:
        """D ← β D + (1 - β) m g ⊙ g for the batch gradient ``g`` of m = ``samples`` samples (D = m g ⊙ g
        at the first call)."""
        xp = self.backend.xp
        if self._square is None:
            self._square = xp.empty_like(g)
        xp.multiply(g, g, out=self._square)
        if self.second is None:
            self._square *= samples
            self.second = self._square.copy()
            return
        self._square *= samples * (1.0 - self.decay)
        self.second *= self.decay
        self.second += self._square

    def inverse(self, damping: float) -> Any:
        """The diagonal of M⁻¹ = (D + λ)^-ξ for λ = ``damping`` (valid until the next call)."""
        xp = self.backend.xp
        if self._inverse is None:
            self._inverse = xp.empty_like(self.second)
        xp.add(self.second, damping, out=self._inverse)
        xp.power(self._inverse, -self.power, out=self._inverse)
        return self._inverse

    def state(self) -> Any:
        """The running D (None before the first gradient)."""
        return self.second

    def restore(self, second: Any) -> None:
        self.second = second
