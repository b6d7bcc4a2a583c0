"""Dropout (Srivastava et al. 2014): in training, zero each entry with probability p, scale the rest by
1 / (1 - p); in evaluation, the identity.

Masks are drawn on the input's device from a generator seeded by (the layer's seed, a step). By
default every call takes a new step; ``fix_noise(step)`` pins the step, so that evaluating the same
batch twice uses the same mask and the objective is a deterministic function of the parameters
(what a line search or a trust-region ratio needs).
"""

from __future__ import annotations

import numpy

from minidnn.layers.arguments import probability
from minidnn.layers.layer import Layer
from minidnn.tensor import Tensor


class Dropout(Layer):
    def __init__(self, p: float = 0.5):
        self.p = probability("Dropout", "p", p)
        self.seed = 0
        self.step = 0
        self.fixed_step: int | None = None

    def seed_noise(self, seed: int) -> None:
        self.seed = int(seed)

    def fix_noise(self, step: int | None) -> None:
        self.fixed_step = step

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.fixed_step is None:
            step, self.step = self.step, self.step + 1
        else:
            step = self.fixed_step
        be = x.backend
        keep = be.rng(_step_seed(self.seed, step)).bernoulli(1.0 - self.p, x.shape)
        mask = be.xp.astype(keep, x.dtype) * (1.0 / (1.0 - self.p))
        return x * Tensor(mask)

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"


def _step_seed(seed: int, step: int) -> int:
    """An independent seed for each (seed, step), from NumPy's seed sequence (host integers only)."""
    return int(numpy.random.SeedSequence([seed, step]).generate_state(1)[0])
