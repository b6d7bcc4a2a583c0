"""Minibatch iteration over a Dataset: per-epoch shuffles from a seed, a cursor, random batches.

The order of epoch ``k`` is a permutation drawn from a generator seeded by ``(seed, k)`` alone,
so it does not depend on how earlier epochs were consumed: same seed, same orders. Every sample
appears exactly once per epoch; the last batch is partial unless ``drop_last`` (then the
``len(dataset) % batch_size`` samples at the end of that epoch's order are skipped, different
ones each epoch when shuffling).

The object keeps a cursor on a *current batch* (epoch, batch index), which a training model can
drive: :meth:`current`, :meth:`advance` (True when it started a new epoch), :meth:`next_batch`,
:meth:`random_batch`, :meth:`reset`, :meth:`set_batch_size`; ``version`` counts every change of
the current batch. :meth:`state` and :meth:`restore` save and set the cursor, the batch size and
the random-batch generator, so a run can continue where it stopped. Iterating yields the batches
from the cursor to the end of its epoch, moving the cursor, so ``for x, y in batches`` run
repeatedly walks through successive epochs.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping

import numpy as np
from minidnn.datasets.dataset import Dataset
from minidnn.datasets.errors import DatasetError

_ORDER_STREAM = 0
_RANDOM_STREAM = 1


class Minibatches:
    """Batches of ``batch_size`` samples of ``dataset``, reshuffled every epoch from ``seed``.

    Args:
        dataset: the data to draw from.
        batch_size: samples per batch, 1..len(dataset).
        shuffle: a new permutation each epoch (else the dataset's own order every epoch).
        seed: a non-negative integer; the whole sequence of batches is a function of it.
        drop_last: skip the last, partial batch of each epoch.
        to_device: applied to each batch's ``x`` and ``y`` before they are returned, e.g. a
            backend's ``to_device``; by default the batches are NumPy arrays.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        to_device: Callable[[np.ndarray], object] | None = None,
    ) -> None:
        self.dataset = dataset
        self.shuffle = bool(shuffle)
        self.seed = _checked_seed(seed)
        self.drop_last = bool(drop_last)
        self.to_device = to_device
        self._batch_size = _checked_batch_size(batch_size, len(dataset))
        self._cached_order: tuple[int, np.ndarray] | None = None
        self.version = 0
        self.reset()

    @property
    def batch_size(self) -> int:
        """Samples per batch (the last batch of an epoch may hold fewer)."""
        return self._batch_size

    @property
    def epoch(self) -> int:
        """The epoch of the current batch, counted from 0."""
        return self._epoch

    @property
    def batch_index(self) -> int:
        """The position of the current batch in its epoch, counted from 0."""
        return self._batch

    @property
    def num_batches(self) -> int:
        """Batches per epoch."""
        n, size = len(self.dataset), self._batch_size
        return n // size if self.drop_last else -(-n // size)

    @property
    def is_last(self) -> bool:
        """Whether the current batch is the last of its epoch (the end-of-epoch signal)."""
        return self._batch == self.num_batches - 1

    def __len__(self) -> int:
        return self.num_batches

    def order(self, epoch: int | None = None) -> np.ndarray:
        """The sample indices of ``epoch`` (default: the current one) in the order visited."""
        epoch = self._epoch if epoch is None else operator.index(epoch)
        if self._cached_order is None or self._cached_order[0] != epoch:
            n = len(self.dataset)
            if self.shuffle:
                sequence = np.random.SeedSequence(self.seed, spawn_key=(_ORDER_STREAM, epoch))
                indices = np.random.default_rng(sequence).permutation(n)
            else:
                indices = np.arange(n)
            indices.flags.writeable = False
            self._cached_order = (epoch, indices)
        return self._cached_order[1]

    def indices(self) -> np.ndarray:
        """The sample indices of the current batch."""
        start = self._batch * self._batch_size
        return self.order()[start : start + self._batch_size]

    def current(self) -> tuple[object, object]:
        """The current batch ``(x, y)``."""
        return self._gather(self.indices())

    def advance(self) -> bool:
        """Move to the next batch; return True when that move started a new epoch."""
        self._batch += 1
        self.version += 1
        if self._batch < self.num_batches:
            return False
        self._batch = 0
        self._epoch += 1
        return True

    def next_batch(self) -> tuple[object, object, bool]:
        """Move to the next batch and return it as ``(x, y, new_epoch)``."""
        new_epoch = self.advance()
        x, y = self.current()
        return x, y, new_epoch

    def random_batch(self, rng: np.random.Generator | None = None) -> tuple[object, object]:
        """``batch_size`` distinct samples drawn uniformly, as ``(x, y)``; the cursor stays.

        ``rng`` defaults to the object's own generator, seeded from ``seed`` (a stream apart from
        the epoch orders) and restarted by :meth:`reset`.
        """
        generator = self._random if rng is None else rng
        chosen = generator.choice(len(self.dataset), size=self._batch_size, replace=False)
        return self._gather(chosen)

    def reset(self) -> None:
        """Go back to the first batch of epoch 0 and restart the random-batch generator."""
        self._epoch = 0
        self._batch = 0
        self.version += 1
        sequence = np.random.SeedSequence(self.seed, spawn_key=(_RANDOM_STREAM,))
        self._random = np.random.default_rng(sequence)

    def state(self) -> dict[str, object]:
        """The cursor (``epoch``, ``batch``), ``batch_size`` and the random-batch generator's state
        (``random``, NumPy's bit-generator state), as JSON-ready values."""
        return {
            "epoch": self._epoch,
            "batch": self._batch,
            "batch_size": self._batch_size,
            "random": self._random.bit_generator.state,
        }

    def restore(self, state: Mapping[str, object]) -> None:
        """Puts the cursor and the random-batch generator where :meth:`state` found them.

        The batch size must be the current one; a DatasetError naming the entry that is missing or
        out of range, before anything changes.
        """
        if not isinstance(state, Mapping):
            raise DatasetError(f"a minibatch state must be a mapping, got {type(state).__name__}")
        epoch = _checked_entry(state, "epoch", 0, None)
        batch = _checked_entry(state, "batch", 0, self.num_batches - 1)
        _checked_entry(state, "batch_size", self._batch_size, self._batch_size)
        generator = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(_RANDOM_STREAM,)))
        try:
            generator.bit_generator.state = state.get("random")
        except (TypeError, ValueError, KeyError) as err:
            raise DatasetError(f"a minibatch state's 'random' is not a generator state: {err}") from None
        self._epoch, self._batch, self._random = epoch, batch, generator
        self.version += 1

    def set_batch_size(self, batch_size: int) -> None:
        """Use ``batch_size`` samples per batch from now on, restarting the current epoch.

        The epoch keeps its order (it depends only on the seed and the epoch number); the
        cursor goes back to that epoch's first batch.
        """
        self._batch_size = _checked_batch_size(batch_size, len(self.dataset))
        self._batch = 0
        self.version += 1

    def __iter__(self) -> Iterator[tuple[object, object]]:
        """The batches from the cursor to the end of its epoch; the cursor ends on the next."""
        while True:
            yield self.current()
            if self.advance():
                return

    def __repr__(self) -> str:
        return (
            f"Minibatches({self.dataset!r}, batch_size={self._batch_size}, "
            f"shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last}, "
            f"epoch={self._epoch}, batch_index={self._batch})"
        )

    def _gather(self, indices: np.ndarray) -> tuple[object, object]:
        """The samples at ``indices`` (one fancy index per array), moved by ``to_device``."""
        x, y = self.dataset.x[indices], self.dataset.y[indices]
        if self.to_device is None:
            return x, y
        return self.to_device(x), self.to_device(y)


def _checked_batch_size(batch_size: object, n: int) -> int:
    """``batch_size`` as an int in 1..n; DatasetError naming the argument and value otherwise."""
    try:
        size = operator.index(batch_size)
    except TypeError:
        size = None
    if size is None or isinstance(batch_size, bool) or not 1 <= size <= n:
        raise DatasetError(
            f"batch_size must be a whole number of samples in 1..{n} (the dataset's size), got {batch_size!r}"
        )
    return size


def _checked_entry(state: Mapping[str, object], name: str, low: int, high: int | None) -> int:
    """``state[name]`` as an int in low..high (no upper bound for ``None``); DatasetError otherwise."""
    value = state.get(name)
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        bounds = f"{low}..{high}" if high is not None else f">= {low}"
        raise DatasetError(f"a minibatch state's {name!r} must be an integer {bounds}, got {value!r}")
    return value


def _checked_seed(seed: object) -> int:
    """``seed`` as a non-negative int; DatasetError naming the argument and value otherwise."""
    try:
        value = operator.index(seed)
    except TypeError:
        value = None
    if value is None or isinstance(seed, bool) or value < 0:
        raise DatasetError(f"seed must be a non-negative integer, got {seed!r}")
    return value
