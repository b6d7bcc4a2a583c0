"""The optional minibatch interface of a model, seen by solvers.

A stochastic model (``nlpmodels.NeuralNetModel``) defines f on its current minibatch and exposes
``batch_version`` (changes with the batch), ``next_minibatch() -> bool`` (True when it started a new
epoch), ``epoch`` (index of the current batch's epoch), ``batches_per_epoch`` and
``accuracy(x, split="test")``. A fixed problem has none of these; :class:`Batches` answers for both,
so solvers never test attributes themselves. Quasi-Newton models forward the interface of the model
they wrap.
"""

from __future__ import annotations

from typing import Any


class Batches:
    """Batch version, epochs, resampling and accuracy of one model."""

    def __init__(self, nlp: Any):
        self.model = nlp
        self.minibatched = hasattr(self.model, "next_minibatch")
        self.has_accuracy = callable(getattr(self.model, "accuracy", None))

    @property
    def version(self) -> int:
        """The version of the data that defines f now (0 for a fixed problem)."""
        return int(getattr(self.model, "batch_version", 0))

    @property
    def epoch(self) -> int | None:
        """The model's epoch index, ``None`` without minibatches."""
        return int(self.model.epoch) if self.minibatched else None

    @property
    def batches_per_epoch(self) -> int | None:
        return int(self.model.batches_per_epoch) if self.minibatched else None

    def advance(self) -> bool:
        """Moves to the next minibatch; True when that started a new epoch (False without batches)."""
        return bool(self.model.next_minibatch()) if self.minibatched else False

    def accuracy(self, x: Any) -> float:
        """Test accuracy of the whole test split at ``x``."""
        return float(self.model.accuracy(x, split="test"))
