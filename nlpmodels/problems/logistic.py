"""Multinomial logistic regression (softmax regression) on a labelled data set.

With a_i the i-th image flattened to d features, C classes, weights W (C x d) and biases b (C),
logits z_i = W a_i + b, softmax p_i = exp(z_i) / sum_c exp(z_ic), one-hot labels e_i and N samples,

    f(W, b) = 1/N sum_i [ logsumexp(z_i) - z_{i, y_i} ] + l2/2 ||x||^2
    grad:   G = (P - E) / N,  dW = G' A,  db = sum_i G_i,  plus l2 x
    Hess v: dZ = A V' + v_b,  dP = P * (dZ - rowsum(P * dZ)),  (dP' A, sum_i dP_i) / N,  plus l2 v

The vector x is W in row-major order followed by b. logsumexp subtracts the row maximum first, so
large logits never overflow. The l2 term covers the biases too: for l2 > 0 the problem is strongly
convex with a unique minimizer (unknown in closed form); x0 = 0, where f = log C.
"""

from __future__ import annotations

import math
from typing import Any

import numpy
from minidnn.nlpmodels.problems.base import ClassicProblem

from minidnn.backend import Backend

# The default l2 weight: small enough not to change the fit much on [0, 1] features, large enough to
# make the problem strongly convex (a project choice, not a published constant).
DEFAULT_L2 = 1e-3


class LogisticRegression(ClassicProblem):
    """The softmax regression of the module docstring on ``dataset`` (any ``datasets.Dataset``)."""

    def __init__(
        self,
        dataset: Any,
        l2: float = DEFAULT_L2,
        *,
        backend: str | Backend = "numpy",
        dtype: str = "float64",
    ):
        n_samples, n_classes = len(dataset.y), len(dataset.classes)
        if n_samples == 0:
            raise ValueError(f"logistic_regression: data set {dataset.name!r} is empty")
        if not (isinstance(l2, int | float) and math.isfinite(l2) and l2 >= 0.0):
            raise ValueError(f"logistic_regression: l2 must be a finite number >= 0, got {l2!r}")
        features = numpy.reshape(dataset.x, (n_samples, -1))
        nvar = n_classes * (features.shape[1] + 1)
        super().__init__(
            numpy.zeros(nvar), name=f"logistic_regression({dataset.name})", backend=backend, dtype=dtype
        )
        be = self.meta.backend
        self.l2 = float(l2)
        self.n_classes, self.n_features, self.n_samples = n_classes, features.shape[1], n_samples
        self._features = be.to_device(features, dtype=dtype)
        self._onehot = be.to_device(numpy.eye(n_classes)[dataset.y], dtype=dtype)

    def _split(self, x: Any) -> tuple[Any, Any]:
        cut = self.n_classes * self.n_features
        return self.xp.reshape(x[:cut], (self.n_classes, self.n_features)), x[cut:]

    def _join(self, w: Any, b: Any) -> Any:
        return self.xp.concat([self.xp.reshape(w, (-1,)), b])

    def _forward(self, x: Any) -> tuple[Any, Any]:
        """The mean loss without the l2 term (0-d) and the softmax probabilities P (N x C)."""
        xp = self.xp
        w, b = self._split(x)
        z = self._features @ w.T + b
        shifted = z - xp.max(z, axis=1, keepdims=True)
        e = xp.exp(shifted)
        total = xp.sum(e, axis=1, keepdims=True)
        loss = xp.mean(xp.log(total[:, 0]) - xp.sum(shifted * self._onehot, axis=1))
        return loss, e / total

    def _backward(self, x: Any, p: Any) -> Any:
        g = (p - self._onehot) / self.n_samples
        return self._join(g.T @ self._features, self.xp.sum(g, axis=0)) + self.l2 * x

    def _obj(self, x: Any) -> float:
        loss, _ = self._forward(x)
        return self._scalar(loss + 0.5 * self.l2 * (x @ x))

    def _grad(self, x: Any) -> Any:
        return self._backward(x, self._forward(x)[1])

    def _objgrad(self, x: Any) -> tuple[float, Any]:
        loss, p = self._forward(x)
        return self._scalar(loss + 0.5 * self.l2 * (x @ x)), self._backward(x, p)

    def _hprod(self, x: Any, v: Any) -> Any:
        xp = self.xp
        _, p = self._forward(x)
        vw, vb = self._split(v)
        dz = self._features @ vw.T + vb
        dp = p * (dz - xp.sum(p * dz, axis=1, keepdims=True)) / self.n_samples
        return self._join(dp.T @ self._features, xp.sum(dp, axis=0)) + self.l2 * v


def logistic_regression(
    dataset: Any, l2: float = DEFAULT_L2, *, backend: str | Backend = "numpy", dtype: str = "float64"
) -> LogisticRegression:
    """Multinomial logistic regression on ``dataset`` (all its samples, one full batch)."""
    return LogisticRegression(dataset, l2, backend=backend, dtype=dtype)
