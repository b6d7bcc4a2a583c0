"""When a solver moves to another minibatch (``resample``) and when it measures test accuracy
(``eval_every``).

``resample`` (deterministic solvers; stochastic ones take one step per minibatch by definition):
    ``None``         never: the solver works on the model's current batch (a callback may move it)
    ``"iteration"``  a new minibatch after every iteration
    ``"epoch"``      a new minibatch every ``batches_per_epoch`` iterations
    ``k`` (int)      a new minibatch every k iterations

The move happens at the end of an iteration; f and ∇f are re-evaluated on the new batch at the
start of the next one, so a run that stops there wastes no evaluation.

``eval_every``:
    ``"epoch"``      at the iteration that completes an epoch, when the model has ``accuracy``
                     (the default; nothing happens for a model without minibatches or accuracy)
    ``k`` (int)      every k iterations (the model must have ``accuracy``)
    ``None``         never
"""

from __future__ import annotations

import numbers
from typing import Any

from minidnn.solvers.batches import Batches

RESAMPLE_CHOICES = (None, "iteration", "epoch", "an integer >= 1")
EVAL_CHOICES = ("epoch", "an integer >= 1", None)


def _period(value: Any) -> int | None:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1:
        return int(value)
    return None


class Resample:
    """Decides, after iteration k >= 1, whether to move to the next minibatch."""

    def __init__(self, option: Any, batches: Batches):
        if option is None:
            self.period = None
            return
        if option not in ("iteration", "epoch") and _period(option) is None:
            raise ValueError(f"resample must be one of {RESAMPLE_CHOICES}, got {option!r}")
        if not batches.minibatched:
            raise ValueError(f"resample={option!r} needs a model with minibatches (next_minibatch, epoch)")
        if option == "iteration":
            self.period = 1
        elif option == "epoch":
            self.period = batches.batches_per_epoch
        else:
            self.period = _period(option)

    def due(self, k: int) -> bool:
        return self.period is not None and k >= 1 and k % self.period == 0


class EvalCadence:
    """Decides after which iterations the test accuracy is measured."""

    def __init__(self, option: Any, batches: Batches):
        if option != "epoch" and option is not None and _period(option) is None:
            raise ValueError(f"eval_every must be one of {EVAL_CHOICES}, got {option!r}")
        if _period(option) is not None and not batches.has_accuracy:
            raise ValueError(f"eval_every={option!r} needs a model with an accuracy(x, split) method")
        self.period = _period(option)
        self.per_epoch = option == "epoch" and batches.has_accuracy and batches.minibatched
        self.active = self.per_epoch or self.period is not None
        self._last_epoch: int | None = batches.epoch

    def due(self, k: int, epoch: int | None) -> bool:
        """True when iteration k (at the model's epoch ``epoch``) should carry an accuracy."""
        if self.period is not None:
            return k % self.period == 0 and k > 0
        if self.per_epoch and epoch != self._last_epoch:
            self._last_epoch = epoch
            return True
        return False
