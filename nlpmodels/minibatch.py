"""The minibatch interface of a model, as solvers see it.

A model whose f is the loss on its current minibatch (``NeuralNetModel``, or any model written to the
same interface) is a :class:`MinibatchModel`: ``batch_version`` changes with every change of the
current batch, ``next_minibatch()`` moves to the next one and says whether that started a new epoch,
``epoch`` is the index of the current batch's epoch (from 0) and ``batches_per_epoch`` the number
of batches in one. A model that measures test accuracy at a point is an :class:`AccuracyModel`.

Both are structural (``typing.Protocol``): a model satisfies them by having the members, and
``isinstance(nlp, MinibatchModel)`` tells a solver which kind it drives. A fixed problem has neither;
its ``batch_version`` (part of the NLPModel contract) stays 0. Quasi-Newton models answer for the
model they wrap.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class MinibatchModel(Protocol):
    """A model defined on its current minibatch (see the module docstring)."""

    @property
    def batch_version(self) -> int:
        """Changes whenever the current batch changes."""

    @property
    def epoch(self) -> int:
        """The epoch the current batch belongs to, from 0."""

    @property
    def batches_per_epoch(self) -> int:
        """The number of batches in one epoch."""

    def next_minibatch(self) -> bool:
        """Moves to the next batch; True when that move started a new epoch."""


@runtime_checkable
class AccuracyModel(Protocol):
    """A model that measures the accuracy of its predictions over a whole split at a point ``x``.

    A model may also say ``has_accuracy = False`` when it has no accuracy to measure (a regression
    model, or one without test data); solvers then skip the per-epoch evaluation.
    """

    def accuracy(self, x: Any, split: str = "test") -> float:
        """The fraction of correct predictions on ``split`` at ``x``."""


def draws_minibatches(nlp: Any) -> bool:
    """Whether ``nlp`` has the members of :class:`MinibatchModel` (a structural test, not a class test)."""
    return isinstance(nlp, MinibatchModel)


def measures_accuracy(nlp: Any) -> bool:
    """Whether ``nlp`` has the members of :class:`AccuracyModel` and does not say ``has_accuracy = False``."""
    return isinstance(nlp, AccuracyModel) and bool(getattr(nlp, "has_accuracy", True))
