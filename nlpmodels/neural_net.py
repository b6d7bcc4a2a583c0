"""NeuralNetModel: a network's mean loss on a minibatch as an unconstrained problem in one flat vector.

    f(x) = 1/|B| sum_{i in B} loss(net(x; a_i), y_i) + l2/2 ||x||^2

B is the current minibatch (or the whole training set with ``full_batch=True``, evaluated in chunks
of ``eval_batch_size`` samples so memory stays bounded). ``objgrad`` makes one forward and one
backward pass; ``hprod`` is the exact Hessian-vector product on the same batch (forward over reverse:
the parameters carry v as tangent through the forward and the backward pass).

The model works on its own copy of the network, on its backend and in its dtype (``Network.copy``):
the network passed in is never changed, so one network can serve several models (float32 and
float64 twins, say). Evaluating at x copies x into that copy's parameter vector once (the only copy);
x is never kept nor modified and ``meta.x0`` never changes. Nothing depends on the point evaluated
last: ``evaluate(x)`` and ``accuracy(x)`` take the point explicitly.

The loss is a name of :mod:`minidnn.losses` or a callable ``loss(outputs, labels) -> Tensor``:
``outputs`` the network's output Tensor (N, C) for a batch, ``labels`` the batch's integer labels
(N,) on the model's device, the result a scalar Tensor of the outputs' dtype, the mean over the batch.
Built from minidnn's differentiable operations on ``outputs``, it gets exact gradients and
Hessian-vector products like the built-in losses. It is tried once on two training samples at
construction, and its result is checked on every call (a Tensor, scalar, of the outputs' dtype: no
host transfer), each fault a clear error naming the loss.

Each change of the current batch increments ``batch_version``, so solvers can tell that values
computed before came from other data. Dropout masks are pinned to the batch version: the objective
is a deterministic function of x on a batch.

Data checks happen once, here: image shape against the network, labels against its output size,
finite inputs. The hot path then runs without per-call host transfers except the scalar f.

f, its gradient and its Hessian-vector products are evaluated with the network's workspace
current, so after the first call for a batch size their large temporaries come from reused
buffers. With ``threads=n``, those calls and ``evaluate`` run with the BLAS and OpenMP libraries
held to n threads (the previous counts come back after each call; ``None`` leaves them alone): see
:mod:`minidnn.nlpmodels.evaluation_settings`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy
from minidnn.datasets import Dataset, Minibatches
from minidnn.nlpmodels.evaluation_settings import in_evaluation_settings, in_model_threads
from minidnn.nlpmodels.model import NLPModel

from minidnn import backend as _backend
from minidnn import losses
from minidnn.engine import grad as _grad_of
from minidnn.layers import Layer
from minidnn.mode import no_grad
from minidnn.network import Network
from minidnn.tensor import Tensor
from minidnn.thread_limits import check_threads

SPLITS = ("train", "test")
LossFunction = Callable[[Tensor, Any], Tensor]


class NeuralNetModel(NLPModel):
    """The analogue of KnetNLPModel (see the module docstring for the objective)."""

    def __init__(
        self,
        network: Network,
        train: Dataset,
        test: Dataset | None = None,
        *,
        loss: str | LossFunction = "softmax_cross_entropy",
        batch_size: int = 100,
        eval_batch_size: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        backend: str = "numpy",
        dtype: str = "float32",
        full_batch: bool = False,
        l2: float = 0.0,
        name: str | None = None,
        threads: int | None = None,
    ):
        if not isinstance(network, Network):
            hint = ": build one with minidnn.Network(*layers)" if isinstance(network, Layer) else ""
            raise TypeError(
                f"NeuralNetModel: network must be a minidnn.Network, got {type(network).__name__}{hint}"
            )
        self.loss_name = _loss_name(loss)
        self._loss = _loss_function(loss)
        self._encode = ENCODINGS.get(loss, _labels) if isinstance(loss, str) else _labels
        if not (isinstance(l2, int | float) and math.isfinite(l2) and l2 >= 0):
            raise ValueError(f"NeuralNetModel: l2 must be a finite number >= 0, got {l2!r}")
        threads = check_threads("NeuralNetModel: threads", threads)
        self.classes = _check_data(network, train, "train")
        if test is not None and _check_data(network, test, "test") != self.classes:
            raise ValueError("NeuralNetModel: train and test data disagree on the network's output size")
        self._batches = Minibatches(train, batch_size, shuffle=shuffle, seed=seed)
        self.eval_batch_size = _eval_batch_size(eval_batch_size, batch_size)
        _backend.get(backend).dtype(dtype)
        network = network.copy(backend, dtype)
        super().__init__(
            network.vector(), name=name or f"{self.loss_name} on {train.name}", backend=backend, dtype=dtype
        )
        self.network = network
        self.train_data, self.test_data = train, test
        self.full_batch = bool(full_batch)
        self.l2 = float(l2)
        self._version = 0
        self._full_epochs = 0
        self._batch: tuple[int, Tensor, Any] | None = None
        self._random_batch: tuple[Any, Any] | None = None
        self.threads = threads
        if not isinstance(loss, str):
            self._try_loss()

    # -- minibatch control ------------------------------------------------------------------------------
    @property
    def batch_version(self) -> int:
        """Changes whenever the current batch changes."""
        return self._version

    @property
    def batch_size(self) -> int:
        return len(self.train_data) if self.full_batch else self._batches.batch_size

    @property
    def batches_per_epoch(self) -> int:
        return 1 if self.full_batch else self._batches.num_batches

    @property
    def epoch(self) -> int:
        """The epoch the current batch belongs to, from 0."""
        return self._full_epochs if self.full_batch else self._batches.epoch

    def next_minibatch(self) -> bool:
        """Moves to the next batch; True when that move started a new epoch (always, in full batch)."""
        if self.full_batch:
            self._full_epochs += 1
            return True
        self._random_batch = None
        self._version += 1
        return self._batches.advance()

    def reset_minibatch(self) -> None:
        """Back to the first batch of epoch 0."""
        self._full_epochs = 0
        self._random_batch = None
        self._version += 1
        self._batches.reset()

    def random_minibatch(self) -> None:
        """Makes a uniformly drawn batch (seeded, without replacement) the current one."""
        if self.full_batch:
            return
        self._random_batch = self._batches.random_batch()
        self._version += 1

    def set_batch_size(self, m: int) -> None:
        """Uses ``m`` samples per batch from now on (the current epoch restarts)."""
        self._batches.set_batch_size(m)
        self._random_batch = None
        self._version += 1

    # -- the objective ------------------------------------------------------------------------------------
    def _obj(self, x: Any) -> float:
        self.network.load(x)
        with no_grad():
            total = self._loss_sum(lambda loss: None)
        return self._scalar(total, x)

    def _grad(self, x: Any) -> Any:
        return self._loss_and_gradient(x)[1]

    def _objgrad(self, x: Any) -> tuple[float, Any]:
        total, g = self._loss_and_gradient(x)
        return self._scalar(total, x), g

    def _loss_and_gradient(self, x: Any) -> tuple[Any, Any]:
        """The loss on the device (no transfer) and the gradient, from one forward and backward pass."""
        self.network.load(x)
        flat: list[Any] = []

        def accumulate(loss: Tensor) -> None:
            _add_into(flat, self.network.gradient_vector(_grad_of(loss, self.network.parameters())))

        total = self._loss_sum(accumulate)
        g = flat[0]
        if self.l2:
            g += self.l2 * x
        return total, g

    def _hprod(self, x: Any, v: Any) -> Any:
        self.network.load(x)
        xp = self.meta.backend.xp
        flat: list[Any] = []

        def accumulate(loss: Tensor) -> None:
            grads = _grad_of(loss, self.network.parameters())
            tangents = [xp.zeros_like(g.data) if g.tangent is None else g.tangent for g in grads]
            _add_into(flat, self.network.gradient_vector([Tensor._make(t, None, None) for t in tangents]))

        self.network.set_tangent(v)
        try:
            self._loss_sum(accumulate)
        finally:
            self.network.set_tangent(None)
        hv = flat[0]
        if self.l2:
            hv += self.l2 * v
        return hv

    @in_evaluation_settings
    def _loss_sum(self, each: Callable[[Tensor], None]) -> Any:
        """The mean loss over the current batch (or all chunks); ``each`` sees every chunk's share."""
        self.network.train()
        total = None
        for step, (weight, inputs, targets) in enumerate(self._chunks()):
            self.network.fix_noise(self._version if not self.full_batch else step)
            loss = self._loss(self.network(inputs, check=False), targets)
            share = loss if weight == 1.0 else loss * weight
            each(share)
            total = share.data if total is None else total + share.data
        return total

    def _scalar(self, total: Any, x: Any) -> float:
        if self.l2:
            total = total + (0.5 * self.l2) * self.meta.backend.xp.sum(x * x)
        return self.meta.backend.to_float(total)

    def _chunks(self):
        """(weight, inputs, targets) for the current batch, or for every chunk of the training set."""
        if not self.full_batch:
            yield 1.0, *self._current()
            return
        n = len(self.train_data)
        for start in range(0, n, self.eval_batch_size):
            stop = min(start + self.eval_batch_size, n)
            inputs, labels = self._to_device(self.train_data.x[start:stop], self.train_data.y[start:stop])
            yield (stop - start) / n, inputs, self._targets(labels)

    def _current(self) -> tuple[Tensor, Any]:
        if self._batch is None or self._batch[0] != self._version:
            x, y = self._random_batch if self._random_batch is not None else self._batches.current()
            inputs, labels = self._to_device(x, y)
            self._batch = (self._version, inputs, self._targets(labels))
        return self._batch[1], self._batch[2]

    def _to_device(self, x: numpy.ndarray, y: numpy.ndarray) -> tuple[Tensor, Any]:
        """A chunk of host data on the model's device: (inputs in the model's dtype, int labels)."""
        be = self.meta.backend
        return Tensor(be.to_device(x, dtype=self.meta.dtype)), be.to_device(y)

    def _targets(self, labels: Any) -> Any:
        return self._encode(self.meta.backend, labels, self.classes, self.meta.dtype)

    def _try_loss(self) -> None:
        """Runs a callable loss once on two training samples: a clear error if it cannot be trained on."""
        n = min(2, len(self.train_data))
        inputs, labels = self._to_device(self.train_data.x[:n], self.train_data.y[:n])
        self.network.eval()
        try:
            outputs = self.network(inputs, check=False)
            value = self._loss(outputs, self._targets(labels))
        finally:
            self.network.train()
        if outputs.requires_grad and not value.requires_grad:
            raise ValueError(
                f"NeuralNetModel: the loss {self.loss_name} does not depend on the outputs through "
                "minidnn operations, so it has no gradient: build it from minidnn.ops on the outputs"
            )

    # -- evaluation -----------------------------------------------------------------------------------------
    @in_model_threads
    def evaluate(self, x: Any, split: str = "test") -> tuple[float, float]:
        """(mean loss, accuracy) at ``x`` over the whole split, partial last chunk included, dropout off.

        ``x`` is required: the result never depends on the point evaluated last.
        """
        data = self._split(split)
        self.check_vector("x", x)
        self.network.load(x)
        be, xp = self.meta.backend, self.meta.backend.xp
        loss_total, hits = None, None
        self.network.eval()
        try:
            with no_grad():
                for start in range(0, len(data), self.eval_batch_size):
                    stop = min(start + self.eval_batch_size, len(data))
                    inputs, labels = self._to_device(data.x[start:stop], data.y[start:stop])
                    logits = self.network(inputs, check=False)
                    part = self._loss(logits, self._targets(labels)).data * ((stop - start) / len(data))
                    correct = xp.sum(xp.astype(xp.argmax(logits.data, axis=1) == labels, xp.int64))
                    loss_total = part if loss_total is None else loss_total + part
                    hits = correct if hits is None else hits + correct
        finally:
            self.network.train()
        both = be.to_host(xp.stack([xp.astype(loss_total, xp.float64), xp.astype(hits, xp.float64)]))
        return float(both[0]), float(both[1]) / len(data)

    def accuracy(self, x: Any, split: str = "test") -> float:
        """The fraction of the split classified right at ``x`` (argmax of the outputs), dropout off."""
        return self.evaluate(x, split)[1]

    def _split(self, split: str) -> Dataset:
        if split not in SPLITS:
            raise ValueError(f"{self.meta.name}: split must be one of {SPLITS}, got {split!r}")
        data = self.train_data if split == "train" else self.test_data
        if data is None:
            raise ValueError(f"{self.meta.name}: no test data was given to the model")
        return data


def _add_into(acc: list[Any], g: Any) -> None:
    """Keeps a running sum of flat vectors in ``acc[0]`` (in place after the first)."""
    if acc:
        acc[0] += g
    else:
        acc.append(g)


def _loss_name(loss: str | LossFunction) -> str:
    return loss if isinstance(loss, str) else getattr(loss, "__name__", type(loss).__name__)


def _loss_function(loss: str | LossFunction) -> LossFunction:
    """The named loss of minidnn.losses (value checks off: the data were checked once) or the callable,
    wrapped in the checks of its result."""
    if isinstance(loss, str):
        named = losses.get(loss)
        return named if loss == "mse" else lambda z, t: named(z, t, check=False)
    if not callable(loss):
        raise TypeError(
            "NeuralNetModel: loss must be a name from minidnn.losses or a callable "
            f"loss(outputs, labels) -> scalar Tensor, got {type(loss).__name__}"
        )
    name = _loss_name(loss)

    def checked(outputs: Tensor, labels: Any) -> Tensor:
        value = loss(outputs, labels)
        if not isinstance(value, Tensor):
            raise TypeError(
                f"NeuralNetModel: the loss {name} returned a {type(value).__name__}; it must return "
                "a minidnn Tensor computed from the outputs"
            )
        if value.shape != () or value.dtype != outputs.dtype:
            raise ValueError(
                f"NeuralNetModel: the loss {name} must return a scalar Tensor of dtype {outputs.dtype} "
                f"(the mean over the batch), got shape {value.shape} and dtype {value.dtype} for "
                f"outputs of shape {outputs.shape}"
            )
        return value

    return checked


def _labels(be: _backend.Backend, labels: Any, classes: int, dtype: str) -> Any:
    """The integer labels as they are (softmax cross-entropy, a callable loss)."""
    return labels


def _one_hot(be: _backend.Backend, labels: Any, classes: int, dtype: str) -> Any:
    """One row per label, 1 at the label and 0 elsewhere (mse, binary cross-entropy)."""
    xp = be.xp
    return xp.astype(xp.reshape(labels, (-1, 1)) == be.arange(classes), be.dtype(dtype))


def _signs(be: _backend.Backend, labels: Any, classes: int, dtype: str) -> Any:
    """One row per label, +1 at the label and -1 elsewhere (logistic)."""
    return _one_hot(be, labels, classes, dtype) * 2.0 - 1.0


ENCODINGS = {"mse": _one_hot, "binary_cross_entropy": _one_hot, "logistic": _signs}


def _check_data(network: Network, data: Dataset, split: str) -> int:
    """The network's output size, after checking that it fits ``data`` (shapes, labels, values)."""
    if not isinstance(data, Dataset):
        raise TypeError(f"NeuralNetModel: {split} must be a datasets.Dataset, got {type(data).__name__}")
    sample = (1, *data.x.shape[1:])
    try:
        out = network.output_shape(sample)
    except ValueError as err:
        raise ValueError(
            f"NeuralNetModel: {split} images of shape {data.x.shape[1:]} do not fit the network: {err}"
        ) from None
    if len(out) != 2:
        raise ValueError(
            f"NeuralNetModel: the network's output must be (N, classes), got {out} for {split} data"
        )
    classes = out[1]
    if len(data.classes) != classes or (len(data.y) and int(data.y.max()) >= classes):
        raise ValueError(
            f"NeuralNetModel: {split} labels span {len(data.classes)} classes "
            f"but the network outputs {classes}"
        )
    if not numpy.isfinite(data.x).all():
        raise ValueError(f"NeuralNetModel: {split} images of shape {data.x.shape} contain NaN or Inf")
    return classes


def _eval_batch_size(eval_batch_size: int | None, batch_size: int) -> int:
    if eval_batch_size is None:
        return max(batch_size, 1000)
    if isinstance(eval_batch_size, bool) or not isinstance(eval_batch_size, int) or eval_batch_size < 1:
        raise ValueError(
            f"NeuralNetModel: eval_batch_size must be a positive integer, got {eval_batch_size!r}"
        )
    return eval_batch_size
