"""NeuralNetModel: a network's mean loss on a minibatch as an unconstrained problem in one flat vector.

    f(x) = 1/|B| sum_{i in B} loss(net(x; a_i), y_i) + l2/2 ||x||^2

B is the current minibatch (or the whole training set with ``full_batch=True``, evaluated in chunks
of ``eval_batch_size`` samples so memory stays bounded). A minibatch of more than ``chunk_size``
samples is evaluated in chunks of that many, their weighted shares summed: memory and time per
sample then stop growing with the batch. ``objgrad`` makes one forward and one
backward pass; ``hprod`` is the exact Hessian-vector product on the same batch (forward over reverse:
the parameters carry v as tangent through the forward and the backward pass).

The model works on its own copy of the network, on its backend and in its dtype (``Network.copy``):
the network passed in is never changed, so one network can serve several models (float32 and
float64 twins, say). Evaluating at x copies x into that copy's parameter vector once (the only copy);
x is never kept nor modified and ``meta.x0`` never changes. Nothing depends on the point evaluated
last: ``evaluate(x)`` and ``accuracy(x)`` take the point explicitly.

The loss is a name of :mod:`minidnn.losses` or a callable ``loss(outputs, labels) -> Tensor``:
``outputs`` the network's output Tensor (N, C) for a batch, ``labels`` the batch's integer labels
(N,) on the model's device (for regression targets, a ``Dataset`` whose ``task`` is "regression",
the float targets as an (N, K) array of the model's dtype, K the network's output size), the result a
scalar Tensor of the outputs' dtype, the mean over the batch. Regression takes "mse" or a callable;
it has no accuracy (``evaluate`` gives ``None`` for it, ``has_accuracy`` is False, and solvers skip
the per-epoch evaluation).
Built from minidnn's differentiable operations on ``outputs``, it gets exact gradients and
Hessian-vector products like the built-in losses. It is tried once on two training samples at
construction, and its result is checked on every call (a Tensor, scalar, of the outputs' dtype: no
host transfer), each fault a clear error naming the loss.

Each change of the current batch increments ``batch_version``, so solvers can tell that values
computed before came from other data. Dropout masks are pinned to the batch version: the objective
is a deterministic function of x on a batch.

Data checks happen once, here: image shape against the network, labels against its output size,
finite inputs. The hot path then runs without per-call host transfers except the scalar f.

Data parallelism: given an mpi4py communicator ``comm``, every rank evaluates its share of the
current batch (or of the training set, or of the split in ``evaluate``), and one fixed-order sum of
one flat buffer per call gives every rank the same f, gradient and Hv, bit for bit
(:mod:`minidnn.nlpmodels.distributed`). The ranks must be started with the same settings (checked at
construction) and start from rank 0's x0. Every rank then runs the same solver and takes the same
decisions. With ``comm=None`` the model is the single-process one.

A network of Dense layers and elementwise activations (ReLU, Tanh, Sigmoid, Softplus), after
convolution stages (Conv2d, an activation and/or non-overlapping max pooling; :mod:`minidnn.conv_front`)
or not, with the loss "softmax_cross_entropy" or "mse" is evaluated through closed-form passes
(:mod:`minidnn.dense_chain`: no graph, buffers reused per batch size and thread; the same values as
the graph to rounding) unless ``fused=False``; ``fused`` tells which. Any other network or loss goes
through the graph.

Gauss-Newton products at one point on the same samples (CG's, in a Hessian-free step) share the
point's linearisation: through the graph, the outputs with their graph are kept; in closed form, the
chain's values (activations, slopes, pooling masks, column matrices, the loss's probabilities) stay
in its buffers, and the next product computes only the R-derivatives, the same to the bit. On
LeNet-5 at batch 100 (interleaved runs), an objective and six products on 50 samples at one point
took 46-49 ms instead of 58-64, and a hessian_free step 66-67 ms instead of 73-83. Any other
evaluation, another x, batch or samples compute them again, and so does a closed-form product whose
batch is split into parts.

f, its gradient and its Hessian-vector products are evaluated with the network's workspace
current, so after the first call for a batch size their large temporaries come from reused
buffers. With ``threads=n``, those calls and ``evaluate`` run with the BLAS and OpenMP libraries
held to n threads (the previous counts come back after each call; ``None`` leaves them alone): see
:mod:`minidnn.nlpmodels.evaluation_settings`.

The batch split (``batch_split``) uses the threads for more than the matrix products: each chunk of the
current batch (of this rank's share, under MPI) is cut into ``threads`` contiguous parts, evaluated at
once, one thread each with its own workspace and a one-thread BLAS (NumPy releases the interpreter lock
inside BLAS calls and large elementwise loops), and the parts' weighted shares are summed in part order:
the same bits call after call, the unsplit values to rounding. The Gauss-Newton products keep one
linearisation per part. ``batch_split=False`` never splits; ``True`` splits whenever ``threads`` >= 2
and is refused at construction without two threads, off NumPy, or for a network with random layers
(their noise state lives on the layer the threads share); ``None``, the default, splits on NumPy a
network with a Conv2d layer and no random layer, for gradients and Hessian products, where each
part's forward pass makes at least ``SPLIT_MIN_WORK`` multiply-adds for that evaluation
(``CLOSED_FORM_SPLIT_MIN_WORK`` in closed form; the split costs thread hand-offs: it pays for
convolutional networks with enough work per thread; the objective alone is not split). A dense chain
without convolutions is never split.
``split_parts`` says into how many parts the current batch's chunks are cut for a gradient.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import threading
from collections.abc import Callable
from typing import Any

import numpy
from minidnn.datasets import Dataset, Minibatches
from minidnn.nlpmodels import distributed
from minidnn.nlpmodels.evaluation_settings import PartThreads, in_evaluation_settings, in_model_threads
from minidnn.nlpmodels.model import NLPModel, _into

from minidnn import backend as _backend
from minidnn import losses
from minidnn.dense_chain import DenseChain
from minidnn.engine import grad as _grad_of
from minidnn.layers import Conv2d, Dense, Layer
from minidnn.layers.sequential import applied_layers
from minidnn.mode import no_grad
from minidnn.network import Network
from minidnn.ops import buffers
from minidnn.tensor import Tensor
from minidnn.thread_limits import check_threads

SPLITS = ("train", "test")
CHUNK_SIZE = 512
"""Samples per forward and backward pass when a batch is larger (``chunk_size``'s default): measured
on LeNet (benchmarks/memory.py and networks.py), larger chunks cost more time per sample and memory."""
CHUNK_NOISE_STRIDE = 2**32
SPLIT_MIN_WORK = {"gradient": 80_000_000, "hessian": 30_000_000}
"""Multiply-adds of one part's forward pass (samples per part times ``_multiply_adds`` per sample) at
least for the automatic batch split (``batch_split=None``) to cut a chunk, by evaluation: gradients
(obj with grad, objgrad, objgrad_samples, ghprod) and Hessian products (hprod, sample_hprod), which
do more work per forward pass. The objective alone (``obj``) is not split automatically. What
decides is the work each thread gets between its hand-offs of the interpreter lock.

Measured with benchmarks/batch_split.py and the same comparison for obj and ghprod, float32, 2
threads on 2 cores, per-op time / split time (above 1: the split faster), on LeNet
(``models.lenet_knet``, 2,293,000 multiply-adds per sample) and LeNet-5 (``models.lenet5``,
281,640), load average 0.5-1.2:

    network, batch (millions per part)   obj    objgrad   hprod   ghprod
    LeNet 32 (37)                        0.71    0.84     1.07     0.85
    LeNet 64 (73)                        0.82    1.01     1.13     1.12
    LeNet 128 (147)                      0.84    1.25     1.29     1.28
    LeNet-5 128 (18)                     0.84    0.82     1.01     0.80
    LeNet-5 256 (36)                     0.95    1.09     1.26     1.14
    LeNet-5 512 (72)                     1.47    1.26     1.19     1.21

and, for objgrad and hprod on LeNet over three earlier runs (load 0.4-2.4), 0.74-1.64 and 1.06-1.84
at batch 32, 0.87-2.08 and 1.11-1.21 at 64, 1.19-3.05 and 1.17-2.75 at 128. The thresholds keep the
split where it won every time.
"""
CLOSED_FORM_SPLIT_MIN_WORK = {"gradient": 100_000_000, "hessian": 50_000_000}
"""``SPLIT_MIN_WORK`` for a network evaluated in closed form (``fused``, :mod:`minidnn.conv_front`),
which has less overhead per call to share out. Measured the same way (split vs whole, 2 threads,
load 0.7-1.3):

    network, batch (millions per part)   obj    objgrad   hprod   ghprod
    LeNet 32 (37)                        0.72    0.66     0.81     0.63
    LeNet 64 (73)                        0.69    0.72     1.03     0.93
    LeNet 128 (147)                      0.85    1.08     1.34     1.37
    LeNet-5 128 (18)                     0.77    0.75     0.83     0.79
    LeNet-5 256 (36)                     0.74    0.92     1.15     0.96
    LeNet-5 512 (72)                     0.75    1.10     1.24     1.27
"""
LossFunction = Callable[[Tensor, Any], Tensor]


class NeuralNetModel(NLPModel):
    """The analogue of KnetNLPModel (see the module docstring for the objective).

    ``batch_split``: None (the default) cuts each chunk into ``threads`` parts evaluated at once,
    one thread each, for the derivatives of a convolutional network with at least
    ``SPLIT_MIN_WORK`` multiply-adds per part; True whenever ``threads`` >= 2; False never (see the
    module docstring).
    """

    def __init__(
        self,
        network: Network,
        train: Dataset,
        test: Dataset | None = None,
        *,
        loss: str | LossFunction = "softmax_cross_entropy",
        batch_size: int = 100,
        eval_batch_size: int | None = None,
        chunk_size: int = CHUNK_SIZE,
        shuffle: bool = True,
        seed: int = 0,
        backend: str = "numpy",
        dtype: str = "float32",
        full_batch: bool = False,
        l2: float = 0.0,
        name: str | None = None,
        comm: Any = None,
        threads: int | None = None,
        fused: bool = True,
        batch_split: bool | None = None,
    ):
        ranks = None if comm is None else distributed.Ranks(comm, "NeuralNetModel")
        if not isinstance(network, Network):
            hint = ": build one with minidnn.Network(*layers)" if isinstance(network, Layer) else ""
            raise TypeError(
                f"NeuralNetModel: network must be a minidnn.Network, got {type(network).__name__}{hint}"
            )
        self.loss_name = _loss_name(loss)
        self._loss = _loss_function(loss)
        self._named_loss = isinstance(loss, str)
        self.task = _task(train, test, loss)
        if self.task == "regression":
            self._encode = _regression_targets
        else:
            self._encode = ENCODINGS.get(loss, _labels) if isinstance(loss, str) else _labels
        if not (isinstance(l2, int | float) and math.isfinite(l2) and l2 >= 0):
            raise ValueError(f"NeuralNetModel: l2 must be a finite number >= 0, got {l2!r}")
        threads = check_threads("NeuralNetModel: threads", threads)
        if not isinstance(fused, bool):
            raise ValueError(f"NeuralNetModel: fused must be True or False, got {fused!r}")
        splittable = _splittable(network, batch_split, threads, _backend.get(backend).name)
        self.classes = _check_data(network, train, "train")
        if test is not None and _check_data(network, test, "test") != self.classes:
            raise ValueError("NeuralNetModel: train and test data disagree on the network's output size")
        self._batches = Minibatches(train, batch_size, shuffle=shuffle, seed=seed)
        self.eval_batch_size = _eval_batch_size(eval_batch_size, batch_size)
        self.chunk_size = _positive_int("chunk_size", chunk_size)
        _backend.get(backend).dtype(dtype)
        network = network.copy(backend, dtype)
        super().__init__(
            network.vector(), name=name or f"{self.loss_name} on {train.name}", backend=backend, dtype=dtype
        )
        self.network = network
        self._chain = DenseChain.of(network, loss) if fused and isinstance(loss, str) else None
        self.train_data, self.test_data = train, test
        self.full_batch = bool(full_batch)
        self.l2 = float(l2)
        self._l2_spare: Any = None
        self._chain_spare_vectors: list[Any] = []
        self._version = 0
        self._full_epochs = 0
        self._batch: tuple[int, float, Tensor, Any] | None = None
        self._part: tuple[tuple[int, int, int], float, Tensor, Any] | None = None
        self._kept_linearisation: tuple[tuple[Any, ...], Any, tuple[Tensor, ...]] | None = None
        self._random_batch: tuple[Any, Any] | None = None
        self.comm = comm
        self._ranks: distributed.Ranks | None = None
        if ranks is not None:
            self._join(ranks, network.seed)
        self.threads = threads
        self.batch_split = batch_split
        self._splittable = splittable
        self._work_per_sample = _multiply_adds(network.root, (1, *train.x.shape[1:]))
        self._part_threads = PartThreads(self.meta.backend)
        if not isinstance(loss, str):
            self._try_loss()

    @property
    def fused(self) -> bool:
        """True when f and its derivatives come from the dense chain's closed forms
        (:mod:`minidnn.dense_chain`) rather than from the graph."""
        return self._chain is not None

    # -- minibatch control ------------------------------------------------------------------------------
    @property
    def batch_version(self) -> int:
        """Changes whenever the current batch changes."""
        return self._version

    @property
    def batch_size(self) -> int:
        return len(self.train_data) if self.full_batch else self._batches.batch_size

    @property
    def batch_samples(self) -> int:
        """Samples in the current batch (the last batch of an epoch may hold fewer than batch_size)."""
        if self.full_batch:
            return len(self.train_data)
        if self._random_batch is not None:
            return len(self._random_batch[1])
        return len(self._batches.indices())

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
        if self._ranks is not None and not self.full_batch:
            self._ranks.require_samples(m, "the batch size")
        self._batches.set_batch_size(m)
        self._random_batch = None
        self._version += 1

    def batch_state(self) -> dict[str, Any]:
        """The position in the training data: the epoch count in full batch, else the minibatches'
        cursor, batch size and random-batch generator (``Minibatches.state``); JSON-ready."""
        return {"full_epochs": self._full_epochs, "minibatches": self._batches.state()}

    def restore_batch_state(self, state: dict[str, Any]) -> None:
        """Goes back to a position from :meth:`batch_state` (a drawn random batch is not kept); a
        DatasetError or ValueError naming the entry that does not fit, before anything changes."""
        if not isinstance(state, dict):
            raise ValueError(f"a batch state must be a dict, got {type(state).__name__}")
        full_epochs = state.get("full_epochs")
        if isinstance(full_epochs, bool) or not isinstance(full_epochs, int) or full_epochs < 0:
            raise ValueError(f"a batch state's 'full_epochs' must be an integer >= 0, got {full_epochs!r}")
        self._batches.restore(state.get("minibatches"))
        self._full_epochs = full_epochs
        self._random_batch = None
        self._version += 1

    # -- the objective ------------------------------------------------------------------------------------
    def _obj(self, x: Any) -> float:
        self.network.load(x)
        if self._chain is not None:
            return self._scalar(self._summed(self._chain_sum("value", None)[0], None, vector=False)[0], x)
        with no_grad():
            total = self._loss_sum(lambda loss: None, kind="value")[0]
        return self._scalar(self._summed(total, None, vector=False)[0], x)

    def _grad(self, x: Any) -> Any:
        return self._loss_and_gradient(x)[1]

    def _objgrad(self, x: Any) -> tuple[float, Any]:
        total, g = self._loss_and_gradient(x)
        return self._scalar(total, x), g

    def _loss_and_gradient(self, x: Any, part: tuple[int, int] | None = None) -> tuple[Any, Any]:
        """The loss on the device (no transfer) and the gradient, from one forward and backward pass."""
        self.network.load(x)
        if self._chain is not None:
            total, g = self._summed(*self._chain_sum("value_and_gradient", part))
            self._add_l2(g, x)
            return total, g
        parameters = self.network.parameters()

        def gradient(loss: Tensor) -> Any:
            return self.network.gradient_vector(_grad_of(loss, parameters))

        total, g = self._summed(*self._loss_sum(gradient, part))
        self._add_l2(g, x)
        return total, g

    def _hprod(self, x: Any, v: Any, part: tuple[int, int] | None = None) -> Any:
        self.network.load(x)
        if self._chain is not None:
            return self._chain_product("hessian_product", x, v, part)
        xp = self.meta.backend.xp
        parameters = self.network.parameters()

        def gradient_tangent(loss: Tensor) -> Any:
            grads = _grad_of(loss, parameters)
            tangents = [xp.zeros_like(g.data) if g.tangent is None else g.tangent for g in grads]
            return self.network.gradient_vector([Tensor._make(t, None, None) for t in tangents])

        self.network.set_tangent(v)
        try:
            flat = self._loss_sum(gradient_tangent, part, "hessian")[1]
        finally:
            self.network.set_tangent(None)
        hv = self._summed(None, flat)[1]
        self._add_l2(hv, v)
        return hv

    # -- products and gradients on parts of the batch -----------------------------------------------------
    def ghprod(self, x: Any, v: Any, out: Any = None, *, fraction: float = 1.0) -> Any:
        """The generalized Gauss-Newton product (Jᵀ H_L J + l2 I) v at x, on the current batch or on
        the first ⌈fraction m⌉ of its m samples (see the module docstring); counts one neval_ghprod."""
        part = self._fraction_part("ghprod", fraction)
        self.check_vector("x", x)
        self.check_vector("v", v)
        self.check_out(out)
        gv = _into(out, self._ghprod(x, v, part))
        self.counters.neval_ghprod += 1
        return gv

    def sample_hprod(self, x: Any, v: Any, fraction: float, out: Any = None) -> Any:
        """The exact Hessian-vector product of the mean loss (plus l2) over the first ⌈fraction m⌉ of
        the m samples of the current batch; counts one neval_hprod (``hprod`` when fraction is 1)."""
        part = self._fraction_part("sample_hprod", fraction)
        if part is None:
            return self.hprod(x, v, out)
        self.check_vector("x", x)
        self.check_vector("v", v)
        self.check_out(out)
        hv = _into(out, self._hprod(x, v, part))
        self.counters.neval_hprod += 1
        return hv

    def objgrad_samples(self, x: Any, start: int, stop: int, out: Any = None) -> tuple[float, Any]:
        """(f, ∇f) of the mean loss over samples [start, stop) of the current batch, plus the l2 term;
        counts one objective and one gradient evaluation."""
        count = self.batch_samples
        if not (_is_index(start) and _is_index(stop) and 0 <= start < stop <= count):
            raise ValueError(
                f"{self.meta.name}: objgrad_samples needs integers 0 <= start < stop <= {count} "
                f"(samples in the current batch), got start={start!r}, stop={stop!r}"
            )
        self.check_vector("x", x)
        self.check_out(out)
        total, g = self._loss_and_gradient(x, (start, stop))
        f = self._scalar(total, x)
        g = _into(out, g)
        self.counters.neval_obj += 1
        self.counters.neval_grad += 1
        return f, g

    def _fraction_part(self, caller: str, fraction: float) -> tuple[int, int] | None:
        """Samples [0, ⌈fraction m⌉) of the current batch, or None for all of them."""
        if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction <= 1:
            raise ValueError(f"{self.meta.name}: {caller} needs a fraction in (0, 1], got {fraction!r}")
        count = self.batch_samples
        size = max(1, math.ceil(fraction * count))
        if size >= count:
            return None
        return (0, size)

    @in_evaluation_settings
    def _ghprod(self, x: Any, v: Any, part: tuple[int, int] | None) -> Any:
        """Jᵀ H_L J v summed over the chunks and their parts (one forward-mode and one reverse pass
        each, through the kept linearisation where there is one), plus l2 v."""
        self.network.load(x)
        if self._chain is not None:
            return self._chain_product("gauss_newton_product", x, v, part)
        self.network.train()
        one_chunk = self._in_one_chunk(part)
        gv = None
        for step, (weight, inputs, targets) in enumerate(self._chunks(part)):
            self.network.fix_noise(self._noise_step(step))
            parts = self._parts_of(weight, inputs, targets, "gradient")
            key = (self._version, part, len(parts))
            kept = self._kept_outputs(x, key) if one_chunk else None
            self.network.set_tangent(v)
            try:
                with no_grad():
                    jvs = self._run_parts([functools.partial(self._output_tangent, p[1]) for p in parts])
            finally:
                self.network.set_tangent(None)
            shares = self._run_parts(
                [
                    functools.partial(self._gauss_newton_share, *p, jv, None if kept is None else kept[k])
                    for k, (p, jv) in enumerate(zip(parts, jvs))
                ]
            )
            if one_chunk and kept is None:
                self._keep_outputs(x, key, [outputs for _, outputs in shares])
            gv = _sum_into(gv, [g for g, _ in shares])
        gv = self._summed(None, gv)[1]
        if gv is None:
            gv = self.meta.backend.xp.zeros_like(v)
        self._add_l2(gv, v)
        return gv

    def _output_tangent(self, inputs: Tensor) -> Any:
        """J v: the tangent of the network's outputs on ``inputs`` (the parameters carry v)."""
        return self.network(inputs, check=False).tangent

    def _gauss_newton_share(
        self, weight: float, inputs: Tensor, targets: Any, jv: Any, kept: Tensor | None
    ) -> tuple[Any, Tensor]:
        """(weight Jᵀ H_L J v on these samples as a flat vector, the outputs whose graph gave it): the
        reverse pass runs through ``kept`` when given, else through a new forward pass."""
        outputs = self.network(inputs, check=False) if kept is None else kept
        u = self._loss_hessian_product(outputs.data, targets, jv) * weight
        grads = _grad_of(outputs, self.network.parameters(), grad_outputs=u)
        return self.network.gradient_vector(grads), outputs

    def _in_one_chunk(self, part: tuple[int, int] | None) -> bool:
        """True when this process evaluates the current batch (or ``part`` of it) in one chunk (the
        chunks themselves stream from ``_chunks``, one on the device at a time)."""
        return self._samples_here(part) <= self._chunk_limit

    def _samples_here(self, part: tuple[int, int] | None = None) -> int:
        """Samples this process evaluates of the current batch (or of ``part`` of it)."""
        if part is not None:
            count = part[1] - part[0]
        else:
            count = len(self.train_data) if self.full_batch else self.batch_samples
        start, stop = self._share(count)
        return stop - start

    @property
    def _chunk_limit(self) -> int:
        """Samples per chunk at most: ``eval_batch_size`` in full batch, else ``chunk_size``."""
        return self.eval_batch_size if self.full_batch else self.chunk_size

    def _kept_outputs(self, x: Any, key: tuple[Any, ...]) -> tuple[Tensor, ...] | None:
        """The outputs kept, one per part, when they were computed at x on the samples ``key`` names
        (batch version, part of the batch, number of parts; in closed form, the thread whose buffers
        hold the values, and no outputs), else None (a stale one is dropped)."""
        be, kept = self.meta.backend, self._kept_linearisation
        if kept is not None and kept[0] == key and be.to_float(be.xp.all(kept[1] == x)) != 0.0:
            return kept[2]
        self._kept_linearisation = None
        return None

    def _keep_outputs(self, x: Any, key: tuple[Any, ...], outputs: list[Tensor]) -> None:
        """Keeps the network's outputs at x on a one-chunk batch, with their graph, for the next
        products at the same x and samples: CG on the Gauss-Newton matrix makes many products at one
        point, and each then needs only the forward-mode pass and the reverse pass through this graph.
        In closed form ``outputs`` is empty: the values stay in the chain's buffers. Any other
        evaluation drops it (``_loss_sum``, ``_chain_sum``), so it holds memory only during such a run."""
        self._kept_linearisation = (key, self.meta.backend.xp.asarray(x, copy=True), tuple(outputs))

    def _loss_hessian_product(self, z: Any, targets: Any, w: Any) -> Any:
        """H_L w: the Hessian of the chunk's mean loss with respect to the outputs z, times w."""
        xp = self.meta.backend.xp
        if w is None:
            return xp.zeros_like(z)
        if self._named_loss:
            return LOSS_HESSIANS[self.loss_name](xp, z, targets, w)
        outputs = Tensor(z, requires_grad=True, tangent=w)
        (gz,) = _grad_of(self._loss(outputs, targets), [outputs])
        return xp.zeros_like(z) if gz.tangent is None else gz.tangent

    @in_evaluation_settings
    def _loss_sum(
        self, share_of: Callable[[Tensor], Any], part: tuple[int, int] | None = None, kind: str = "gradient"
    ) -> tuple[Any, Any]:
        """(the mean loss, the sum of ``share_of(share)``) over the current batch (or all chunks, or
        samples [start, stop) of them with ``part``), each share a chunk's or a part's weighted loss;
        the sum is None when ``share_of`` gives None (or no sample is here), the loss too without a
        sample. ``kind`` ("value", "gradient", "hessian") sets the automatic split's threshold."""
        self._kept_linearisation = None
        self.network.train()
        total = vector = None
        for step, (weight, inputs, targets) in enumerate(self._chunks(part)):
            self.network.fix_noise(self._noise_step(step))
            parts = self._parts_of(weight, inputs, targets, kind)
            shares = self._run_parts([functools.partial(self._loss_share, *p, share_of) for p in parts])
            for value, _ in shares:
                total = value if total is None else total + value
            vector = _sum_into(vector, [flat for _, flat in shares if flat is not None])
        return total, vector

    def _loss_share(
        self, weight: float, inputs: Tensor, targets: Any, share_of: Callable[[Tensor], Any]
    ) -> tuple[Any, Any]:
        """(weight · the mean loss on these samples, ``share_of`` that weighted loss)."""
        loss = self._loss(self.network(inputs, check=False), targets)
        share = loss if weight == 1.0 else loss * weight
        return share.data, share_of(share)

    # -- the batch split: the parts of a chunk evaluated at once, one thread each -----------------------
    @property
    def split_parts(self) -> int:
        """The number of parts, one thread each, that a chunk of the current batch is cut into for a
        gradient (1: not split; a last chunk smaller than the others may be cut into fewer)."""
        return self._parts(min(self._samples_here(), self._chunk_limit))

    def _parts(self, count: int, kind: str = "gradient") -> int:
        """Parts for a chunk of ``count`` samples in an evaluation of ``kind`` ("value", "gradient" or
        "hessian"; see ``batch_split`` in the module docstring)."""
        threads = self.threads or 1
        dense_chain = self._chain is not None and self._chain.front is None
        if self.batch_split is False or threads < 2 or count < 2 or dense_chain:
            return 1
        minimum = (SPLIT_MIN_WORK if self._chain is None else CLOSED_FORM_SPLIT_MIN_WORK).get(kind)
        enough = minimum is not None and count // threads * self._work_per_sample >= minimum
        if self.batch_split is None and not (self._splittable and enough):
            return 1
        return min(threads, count)

    def _parts_of(
        self, weight: float, inputs: Tensor, targets: Any, kind: str
    ) -> list[tuple[float, Tensor, Any]]:
        """(weight, inputs, targets) of each part of a chunk: contiguous views, weights in proportion."""
        count = targets.shape[0]
        parts = self._parts(count, kind)
        if parts == 1:
            return [(weight, inputs, targets)]
        bounds = [count * k // parts for k in range(parts + 1)]
        return [
            (weight * (stop - start) / count, Tensor(inputs.data[start:stop]), targets[start:stop])
            for start, stop in zip(bounds[:-1], bounds[1:])
        ]

    def _run_parts(self, calls: list[Callable[[], Any]]) -> list[Any]:
        """The calls' results in part order: one call on this thread, several at once (``PartThreads``)."""
        if len(calls) == 1:
            return [calls[0]()]
        return self._part_threads.run(calls)

    @in_evaluation_settings
    def _chain_sum(
        self, kind: str, part: tuple[int, int] | None, v: Any = None, values: bool = True
    ) -> tuple[Any, Any]:
        """The chunks' shares through the dense chain, ``kind`` one of its evaluations: (loss or None,
        flat vector or None), as ``_summed`` takes them. A chunk's parts (the batch split of a chain
        with a convolutional front) run at once, each into a vector of its own, summed in order.
        ``values=False``: a Gauss-Newton product that reuses the values of the previous one."""
        self._kept_linearisation = None
        evaluate, total, vector = getattr(self._chain, kind), None, None
        if not values:
            evaluate = functools.partial(evaluate, values=False)
        split_kind = {"value": "value", "value_and_gradient": "gradient"}.get(kind, "hessian")
        for weight, inputs, targets in self._chunks(part):
            pieces = self._parts_of(weight, inputs, targets, split_kind)
            if kind == "value":
                calls = [functools.partial(evaluate, p.data, t, w) for w, p, t in pieces]
                for share in self._run_parts(calls):
                    total = _plus(total, share)
                continue
            outs = self._chain_vectors(len(pieces), first=vector is None)
            extra = () if v is None else (v,)
            calls = [
                functools.partial(evaluate, p.data, t, w, *extra, out) for (w, p, t), out in zip(pieces, outs)
            ]
            for share in self._run_parts(calls):
                total = _plus(total, share)
            vector = _sum_into(vector, outs)
        return total, vector

    def _chain_vectors(self, count: int, first: bool) -> list[Any]:
        """``count`` vectors for the shares of a chunk's parts: a new one first in a batch (the sum),
        then vectors the model keeps (no allocation per call after the first)."""
        spares = self._chain_spare_vectors
        while len(spares) < count:
            spares.append(self.meta.backend.xp.zeros_like(self.meta.x0))
        if first:
            return [buffers.empty(self.meta.x0, (self.meta.nvar,)), *spares[: count - 1]]
        return spares[:count]

    def _chain_product(self, kind: str, x: Any, v: Any, part: tuple[int, int] | None) -> Any:
        """(∇²f or Jᵀ H_L J + l2 I) v through the dense chain; a Gauss-Newton product at the point and
        on the samples of the one before it, in one piece on the same thread, finds the values in the
        thread's buffers and computes only the R-derivatives (``_kept_outputs``)."""
        gauss_newton = kind == "gauss_newton_product"
        key = ("closed form", self._version, part, threading.get_ident())
        reused = gauss_newton and self._kept_outputs(x, key) is not None
        product = self._summed(None, self._chain_sum(kind, part, v, values=not reused)[1])[1]
        if gauss_newton and self._in_one_piece(part):
            self._keep_outputs(x, key, [])
        if product is None:
            product = self.meta.backend.xp.zeros_like(v)
        self._add_l2(product, v)
        return product

    def _in_one_piece(self, part: tuple[int, int] | None) -> bool:
        """True when a Gauss-Newton product on ``part`` is one chunk evaluated in one part."""
        return self._in_one_chunk(part) and self._parts(self._samples_here(part), "hessian") == 1

    def _add_l2(self, out: Any, vector: Any) -> None:
        """out += l2·vector, in place, through a spare vector the model keeps (no allocation per call)."""
        if not self.l2:
            return
        if self._l2_spare is None or self._l2_spare.dtype != vector.dtype:
            self._l2_spare = self.meta.backend.xp.zeros_like(vector)
        self._l2_spare[...] = vector
        self._l2_spare *= self.l2
        out += self._l2_spare

    def _scalar(self, total: Any, x: Any) -> float:
        if self.l2:
            total = total + (0.5 * self.l2) * (x @ x)
        return self.meta.backend.to_float(total)

    def _chunks(self, part: tuple[int, int] | None = None):
        """(weight, inputs, targets) for the current batch, or for every chunk of the training set;
        with ``part`` = (start, stop), for those samples only (weights then sum to 1 over the part)."""
        if not self.full_batch:
            weight, inputs, targets = self._current() if part is None else self._current_part(*part)
            count = targets.shape[0]
            if not weight:
                return
            if count <= self.chunk_size:
                yield weight, inputs, targets
                return
            for start in range(0, count, self.chunk_size):
                stop = min(start + self.chunk_size, count)
                yield weight * (stop - start) / count, Tensor(inputs.data[start:stop]), targets[start:stop]
            return
        low, high = (0, len(self.train_data)) if part is None else part
        first, last = self._share(high - low)
        for start in range(low + first, low + last, self.eval_batch_size):
            stop = min(start + self.eval_batch_size, low + last)
            inputs, labels = self._to_device(self.train_data.x[start:stop], self.train_data.y[start:stop])
            yield (stop - start) / (high - low), inputs, self._targets(labels)

    def _current(self) -> tuple[float, Tensor, Any]:
        """(weight, inputs, targets) of this rank's share of the current batch (all of it on one rank)."""
        if self._batch is None or self._batch[0] != self._version:
            x, y = self._batch_arrays()
            start, stop = self._share(len(y))
            inputs, labels = self._to_device(x[start:stop], y[start:stop])
            self._batch = (self._version, (stop - start) / len(y), inputs, self._targets(labels))
        return self._batch[1:]

    def _current_part(self, low: int, high: int) -> tuple[float, Tensor, Any]:
        """(weight, inputs, targets) of this rank's share of samples [low, high) of the current batch."""
        key = (self._version, low, high)
        if self._part is None or self._part[0] != key:
            x, y = self._batch_arrays()
            start, stop = self._share(high - low)
            inputs, labels = self._to_device(x[low + start : low + stop], y[low + start : low + stop])
            self._part = (key, (stop - start) / (high - low), inputs, self._targets(labels))
        return self._part[1:]

    def _batch_arrays(self) -> tuple[numpy.ndarray, numpy.ndarray]:
        """The current batch (x, y) on the host."""
        return self._random_batch if self._random_batch is not None else self._batches.current()

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
    @property
    def has_accuracy(self) -> bool:
        """True for classification with test data: what solvers' per-epoch evaluation needs."""
        return self.task == "classification" and self.test_data is not None

    @in_model_threads
    def evaluate(self, x: Any, split: str = "test") -> tuple[float, float | None]:
        """(mean loss, accuracy) at ``x`` over the whole split, partial last chunk included, dropout off.

        ``x`` is required: the result never depends on the point evaluated last. The accuracy is
        ``None`` for regression targets.
        """
        data = self._split(split)
        self.check_vector("x", x)
        self.network.load(x)
        be, xp = self.meta.backend, self.meta.backend.xp
        loss_total, hits = be.zeros((), self.meta.x0.dtype), be.zeros((), xp.int64)
        first, last = self._share(len(data))
        self.network.eval()
        try:
            with no_grad():
                for start in range(first, last, self.eval_batch_size):
                    stop = min(start + self.eval_batch_size, last)
                    inputs, labels = self._to_device(data.x[start:stop], data.y[start:stop])
                    logits = self.network(inputs, check=False)
                    part = self._loss(logits, self._targets(labels)).data * ((stop - start) / len(data))
                    loss_total = loss_total + part
                    if self.task == "classification":
                        hits = hits + xp.sum(xp.astype(xp.argmax(logits.data, axis=1) == labels, xp.int64))
        finally:
            self.network.train()
        both = be.to_host(xp.stack([xp.astype(loss_total, xp.float64), xp.astype(hits, xp.float64)]))
        if self._ranks is not None:
            both = self._ranks.sum(both)
        accuracy = float(both[1]) / len(data) if self.task == "classification" else None
        return float(both[0]), accuracy

    def accuracy(self, x: Any, split: str = "test") -> float:
        """The fraction of the split classified right at ``x`` (argmax of the outputs), dropout off."""
        if self.task == "regression":
            raise ValueError(
                f"{self.meta.name}: accuracy needs class labels; for regression targets use "
                "evaluate(x, split)[0], the mean loss"
            )
        return self.evaluate(x, split)[1]

    def _split(self, split: str) -> Dataset:
        if split not in SPLITS:
            raise ValueError(f"{self.meta.name}: split must be one of {SPLITS}, got {split!r}")
        data = self.train_data if split == "train" else self.test_data
        if data is None:
            raise ValueError(f"{self.meta.name}: no test data was given to the model")
        return data

    # -- data parallelism (see minidnn.nlpmodels.distributed) ------------------------------------------------
    def _join(self, ranks: distributed.Ranks, network_seed: int) -> None:
        """Checks that every rank has samples and the same settings, then takes rank 0's x0."""
        ranks.require_samples(len(self.train_data), "the number of training samples")
        if not self.full_batch:
            ranks.require_samples(self._batches.batch_size, "the batch size")
        if self.meta.backend.name != "numpy":
            raise ValueError(
                f"NeuralNetModel: comm needs backend 'numpy' (the ranks exchange host buffers), "
                f"got {self.meta.backend.name!r}"
            )
        ranks.require_same(self._settings(network_seed))
        x0 = ranks.broadcast(self.meta.x0)
        x0.flags.writeable = False
        self.meta = dataclasses.replace(self.meta, x0=x0)
        self._ranks = ranks

    def _settings(self, network_seed: int) -> dict[str, Any]:
        """What every rank must agree on: the network, the loss, the batches, the data (fingerprints)."""
        return {
            "network": repr(self.network.root),
            "layout": repr(tuple(zip(self.network.layout.names, self.network.layout.shapes))),
            "network seed": network_seed,
            "loss": self.loss_name,
            "batch_size": self._batches.batch_size,
            "eval_batch_size": self.eval_batch_size,
            "chunk_size": self.chunk_size,
            "shuffle": self._batches.shuffle,
            "seed": self._batches.seed,
            "backend": self.meta.backend.name,
            "dtype": self.meta.dtype,
            "full_batch": self.full_batch,
            "l2": self.l2,
            "train data": distributed.fingerprint(self.train_data),
            "test data": distributed.fingerprint(self.test_data),
        }

    def agree_to_stop(self, flag: bool) -> bool:
        """True when ``flag`` is True on any rank (a collective: every rank calls it alike); ``flag``
        itself on one process. Solvers ask it before stopping on a time budget, read from each
        rank's own clock, so that every rank stops at the same iteration."""
        return bool(flag) if self._ranks is None else self._ranks.any(flag)

    def _share(self, count: int) -> tuple[int, int]:
        """[start, stop) of the ``count`` samples this rank evaluates (all of them on one process)."""
        return (0, count) if self._ranks is None else self._ranks.share(count)

    def _noise_step(self, chunk: int) -> int:
        """The dropout step of a chunk: the chunk's index in full batch; else the batch version for
        the first chunk of a batch and the version plus ``chunk`` · 2³² for the others (distinct steps
        while there are fewer than 2³² batches)."""
        step = chunk if self.full_batch else self._version + chunk * CHUNK_NOISE_STRIDE
        return step if self._ranks is None else self._ranks.noise_step(step)

    def _summed(self, total: Any, flat: Any, vector: bool = True) -> tuple[Any, Any]:
        """(loss, flat vector) summed over the ranks, from this rank's shares: ``total`` and ``flat``
        (from ``_loss_sum``; None: no sample here); ``vector`` False when the call has no vector.
        One process returns them as they are."""
        if self._ranks is None:
            return total, flat
        be = self.meta.backend
        buffer = be.zeros((1 + self.meta.nvar if vector else 1,), self.meta.x0.dtype)
        if total is not None:
            buffer[0] = total
        if flat is not None:
            buffer[1:] = flat
        summed = be.to_device(self._ranks.sum(be.to_host(buffer)))
        return summed[0, ...], summed[1:] if vector else None


def _sum_into(acc: Any, vectors: list[Any]) -> Any:
    """acc + the vectors, summed in their order into ``acc`` (in place), or into the first when
    ``acc`` is None; None when there is nothing to sum."""
    for g in vectors:
        if acc is None:
            acc = g
        else:
            acc += g
    return acc


def _plus(total: Any, share: Any) -> Any:
    """A running sum that starts at None."""
    return share if total is None else total + share


def _is_index(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


# -- H_L w for the named losses: the Hessian of the mean loss over a chunk with respect to its outputs z
# (N, C), times w (N, C). Each is positive semi-definite (the losses are convex in z).
def _sigmoid(xp: Any, z: Any) -> Any:
    """1 / (1 + exp(-z)) without overflow."""
    return 0.5 * (1.0 + xp.tanh(0.5 * z))


def _softmax_cross_entropy_hessian(xp: Any, z: Any, labels: Any, w: Any) -> Any:
    """Per sample (diag(p) - p pᵀ) w / N, p = softmax(z_i) (the loss is a mean over the N samples)."""
    e = xp.exp(z - xp.max(z, axis=1, keepdims=True))
    p = e / xp.sum(e, axis=1, keepdims=True)
    pw = p * w
    return (pw - p * xp.sum(pw, axis=1, keepdims=True)) / z.shape[0]


def _mse_hessian(xp: Any, z: Any, targets: Any, w: Any) -> Any:
    """2 w / (N C): the mean over all elements of (z - t)²."""
    return w * (2.0 / z.size)


def _binary_cross_entropy_hessian(xp: Any, z: Any, targets: Any, w: Any) -> Any:
    """σ(z)(1 - σ(z)) w / (N C), elementwise: the mean of softplus(z) - t z."""
    s = _sigmoid(xp, z)
    return s * (1.0 - s) * w / z.size


def _logistic_hessian(xp: Any, z: Any, signs: Any, w: Any) -> Any:
    """σ(yz)(1 - σ(yz)) w / (N C), elementwise (y² = 1): the mean of softplus(-y z)."""
    s = _sigmoid(xp, signs * z)
    return s * (1.0 - s) * w / z.size


LOSS_HESSIANS = {
    "softmax_cross_entropy": _softmax_cross_entropy_hessian,
    "mse": _mse_hessian,
    "binary_cross_entropy": _binary_cross_entropy_hessian,
    "logistic": _logistic_hessian,
}


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


def _regression_targets(be: _backend.Backend, targets: Any, width: int, dtype: str) -> Any:
    """Float targets as an (N, K) array of the model's dtype, the shape of the outputs."""
    xp = be.xp
    return xp.astype(xp.reshape(targets, (-1, width)), be.dtype(dtype))


def _task(train: Dataset, test: Dataset | None, loss: Any) -> str:
    """``"classification"`` or ``"regression"``, the same for both splits, with a loss that fits it."""
    task = getattr(train, "task", "classification")
    if test is not None and getattr(test, "task", "classification") != task:
        raise ValueError(f"NeuralNetModel: the train data are for {task}, the test data are not")
    if task == "regression" and isinstance(loss, str) and loss != "mse":
        raise ValueError(
            f"NeuralNetModel: loss {loss!r} needs class labels; regression targets take 'mse' "
            "or a callable loss"
        )
    return task


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
    if getattr(data, "task", "classification") == "regression":
        width = 1 if data.y.ndim == 1 else data.y.shape[1]
        if width != classes:
            raise ValueError(
                f"NeuralNetModel: {split} targets have {width} values per sample but the network "
                f"outputs {classes}"
            )
    elif len(data.classes) != classes or (len(data.y) and int(data.y.max()) >= classes):
        raise ValueError(
            f"NeuralNetModel: {split} labels span {len(data.classes)} classes "
            f"but the network outputs {classes}"
        )
    if not numpy.isfinite(data.x).all():
        raise ValueError(f"NeuralNetModel: {split} images of shape {data.x.shape} contain NaN or Inf")
    return classes


def _splittable(network: Network, batch_split: Any, threads: int | None, backend: str) -> bool:
    """Whether the automatic rule may split a batch for ``network``: on NumPy, with a Conv2d layer
    and no random layer. A ValueError naming what is wrong when ``batch_split`` is not True, False
    or None, or is True and cannot work."""
    if not (batch_split is None or isinstance(batch_split, bool)):
        raise ValueError(f"NeuralNetModel: batch_split must be True, False or None, got {batch_split!r}")
    named = list(network.root.named_layers())
    random = [f"{layer!r} (layer {path or 'root'})" for path, layer in named if _is_random(layer)]
    if batch_split:
        if threads is None or threads < 2:
            raise ValueError(
                f"NeuralNetModel: batch_split=True needs threads >= 2 (one thread per part), "
                f"got threads={threads}"
            )
        if backend != "numpy":
            raise ValueError(f"NeuralNetModel: batch_split=True needs backend 'numpy', got {backend!r}")
        if random:
            raise ValueError(
                f"NeuralNetModel: batch_split=True cannot split a network with random layers: "
                f"{', '.join(random)} keeps its noise state on the layer, shared by the threads"
            )
    return backend == "numpy" and not random and any(isinstance(layer, Conv2d) for _, layer in named)


def _multiply_adds(layer: Layer, shape: tuple[int, ...]) -> int:
    """Multiply-adds of one sample's forward pass through ``layer`` from input ``shape`` (a batch of
    one): those of its Dense and Conv2d layers, the others counted as free."""
    total = 0
    for leaf in applied_layers(layer):
        out = leaf.output_shape(shape)
        if isinstance(leaf, Dense):
            total += leaf.in_features * leaf.out_features
        elif isinstance(leaf, Conv2d):
            total += math.prod(out[1:]) * leaf.in_channels * math.prod(leaf.kernel_size)
        shape = out
    return total


def _is_random(layer: Layer) -> bool:
    """True for a layer that draws noise (it overrides ``Layer.fix_noise``, as Dropout does)."""
    return type(layer).fix_noise is not Layer.fix_noise


def _eval_batch_size(eval_batch_size: int | None, batch_size: int) -> int:
    if eval_batch_size is None:
        return max(batch_size, 1000)
    return _positive_int("eval_batch_size", eval_batch_size)


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"NeuralNetModel: {name} must be a positive integer, got {value!r}")
    return value
