"""DenseChain: a network of dense layers and elementwise activations, differentiated in closed form.

A network that is a chain of stages, each a Dense layer followed by an elementwise activation (ReLU,
Tanh, Sigmoid, Softplus) or by none (a Flatten may come first; Identity layers are skipped),
computes, with A_0 the flattened inputs,

    Z_l = A_{l-1} W_lᵀ + b_l,    A_l = σ_l(Z_l),    l = 1..L,    outputs A_L,

and for such a network the derivatives of a named loss (softmax cross-entropy, mse) have short
closed forms. With g_l = ∂f/∂A_l, D_l = σ_l'(Z_l) and S_l = σ_l''(Z_l), the reverse pass is

    dZ_l = g_l ⊙ D_l,   ∇W_l = dZ_lᵀ A_{l-1},   ∇b_l = 1ᵀ dZ_l,   g_{l-1} = dZ_l W_l,

and the exact Hessian-vector product in the direction (V_l, c_l) is Pearlmutter's R-operator
(Pearlmutter 1994, "Fast exact multiplication by the Hessian"), R(·) the directional derivative:

    R(Z_l) = R(A_{l-1}) W_lᵀ + A_{l-1} V_lᵀ + c_l,   R(A_l) = D_l ⊙ R(Z_l),   R(A_0) = 0,
    R(g_L) = H_L R(A_L)                              (H_L the loss's Hessian in the outputs),
    R(dZ_l) = R(g_l) ⊙ D_l + g_l ⊙ S_l ⊙ R(Z_l),
    R(∇W_l) = R(dZ_l)ᵀ A_{l-1} + dZ_lᵀ R(A_{l-1}),   R(∇b_l) = 1ᵀ R(dZ_l),
    R(g_{l-1}) = R(dZ_l) W_l + dZ_l V_l.

The generalized Gauss-Newton product Jᵀ H_L J v is the reverse pass seeded with g_L = H_L R(A_L)
(Schraudolph 2002): the forward R pass, then the linear reverse pass above.

These are the values the graph computes through minidnn's operations (tests compare the two for
every activation and loss), each in one pass with no graph: the passes write into buffers kept per
thread and per batch size (the ``SIZES_KEPT`` sizes used last), and the results into the caller's
flat vector, laid out as the network's parameters. ReLU's derivative is the step [z > 0] and its
second derivative 0, as in the graph. ``DenseChain.of`` gives ``None`` for any other network or loss
and for a backend without ``out=`` (the Array API stand-in): the caller then uses the graph.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from minidnn.activation_rules import ACTIVATIONS, Activation, through_activation
from minidnn.conv_front import ConvFront, ConvStage, front_stages
from minidnn.layers import Conv2d, Dense, Flatten, Identity
from minidnn.layers.sequential import applied_layers
from minidnn.network import Network

LOSSES = ("softmax_cross_entropy", "mse")
SIZES_KEPT = 2
"""Batch sizes whose buffers a thread keeps (say a full batch and an epoch's shorter last one)."""


# -- the losses: scale·f, its slope ∂(scale·f)/∂z and scale·H_L w for outputs z (N, C) ------------------
class _SoftmaxCrossEntropy:
    """f = 1/N Σ_i logsumexp(z_i) - z_{i,y_i};  ∂f/∂z = (p - Y)/N;  H_L w = (p ⊙ w - p ⟨p, w⟩_row)/N,
    p = softmax(z) by rows (shifted by the row maximum: finite for any logits), Y the one-hot labels."""

    def value(self, xp: Any, z: Any, labels: Any, scale: float, s: _Scratch, slope: Any) -> Any:
        n, c = z.shape
        shift = z.max(axis=1, keepdims=True)
        p = s.take("p", (n, c), z.dtype)
        xp.subtract(z, shift, out=p)
        xp.exp(p, out=p)
        total = p.sum(axis=1, keepdims=True)
        onehot = s.take("onehot", (n, c), z.dtype)
        if s.labels is not labels:
            xp.equal(labels.reshape(n, 1), xp.arange(c), out=onehot)
            s.labels = labels
        xp.divide(p, total, out=p)
        xp.log(total, out=total)
        xp.add(total, shift, out=total)
        value = (total.sum() - xp.vdot(onehot, z)) * (scale / n)
        if slope is not None:
            xp.subtract(p, onehot, out=slope)
            xp.multiply(slope, scale / n, out=slope)
        return value

    def hessian_product(
        self, xp: Any, z: Any, labels: Any, w: Any, scale: float, s: _Scratch, out: Any
    ) -> None:
        """Needs p from ``value`` on the same z."""
        p = s.take("p", z.shape, z.dtype)
        xp.multiply(p, w, out=out)
        inner = out.sum(axis=1, keepdims=True)
        pw = s.take("p inner", z.shape, z.dtype)
        xp.multiply(p, inner, out=pw)
        xp.subtract(out, pw, out=out)
        xp.multiply(out, scale / z.shape[0], out=out)


class _MeanSquaredError:
    """f = 1/(N C) Σ (z - t)²;  ∂f/∂z = 2 (z - t)/(N C);  H_L w = 2 w/(N C)."""

    def value(self, xp: Any, z: Any, targets: Any, scale: float, s: _Scratch, slope: Any) -> Any:
        d = s.take("residual", z.shape, z.dtype)
        xp.subtract(z, targets, out=d)
        value = xp.vdot(d, d) * (scale / z.size)
        if slope is not None:
            xp.multiply(d, 2 * scale / z.size, out=slope)
        return value

    def hessian_product(
        self, xp: Any, z: Any, targets: Any, w: Any, scale: float, s: _Scratch, out: Any
    ) -> None:
        xp.multiply(w, 2 * scale / z.size, out=out)


LOSS_RULES = {"softmax_cross_entropy": _SoftmaxCrossEntropy(), "mse": _MeanSquaredError()}


class _Scratch:
    """The buffers of one batch size in one thread, made on first use and reused after: per stage
    (``stage``) or by name for the loss (``take``)."""

    def __init__(self, chain: DenseChain, n: int) -> None:
        self.chain = chain
        self.n = n
        self.stages: dict[str, list[Any]] = {}
        self.named: dict[str, Any] = {}
        self.labels: Any = None

    def stage(self, kind: str) -> list[Any]:
        arrays = self.stages.get(kind)
        if arrays is None:
            arrays = self.stages[kind] = self.chain._allocate(kind, self)
        return arrays

    def take(self, name: Any, shape: tuple[int, ...], dtype: Any, zeros: bool = False) -> Any:
        """The buffer ``name``, made (filled with zeros with ``zeros``) on first use."""
        array = self.named.get(name)
        if array is None:
            make = self.chain.xp.zeros if zeros else self.chain.xp.empty
            array = self.named[name] = make(shape, dtype=dtype)
        return array

    def kept(self, name: Any) -> Any:
        """The buffer ``name`` made earlier in this evaluation."""
        return self.named[name]


@dataclass(frozen=True)
class Stage:
    """One Dense layer, whose weight is parameter ``index`` of the layout (its bias the next one, if
    it has one), and the activation after it (None: the identity)."""

    dense: Dense
    index: int
    activation: Activation | None


class DenseChain:
    """scale·f, scale·∇f, scale·∇²f v and scale·Jᵀ H_L J v of a named loss on one batch of a chain
    network, ``scale`` the batch's weight in the objective (see the module docstring).

    Each evaluation reads the network's current parameters (``Network.load``); the flat results are
    written into ``out``, a vector of the network's size, dtype and backend.
    """

    def __init__(self, network: Network, stages: list[Stage], loss: str, front: ConvFront | None = None):
        self.network = network
        self.stages = stages
        self.front = front
        self.loss_name = loss
        self.xp = network.backend.xp
        self._loss = LOSS_RULES[loss]
        self._local = threading.local()

    @classmethod
    def of(cls, network: Network, loss: str) -> DenseChain | None:
        """The chain of ``network`` for the loss named ``loss``, or None where either is not one."""
        if loss not in LOSSES or network.backend.name not in ("numpy", "cupy"):
            return None
        found = _stages(network)
        if found is None:
            return None
        front_stages, stages = found
        front = ConvFront(network, front_stages) if front_stages else None
        return cls(network, stages, loss, front)

    # -- the four evaluations ---------------------------------------------------------------------
    def value(self, inputs: Any, targets: Any, scale: float) -> Any:
        """scale·f on the batch, a scalar on the device."""
        s, _, _ = self._start(inputs, None, slopes=False)
        return self._loss.value(self.xp, self._outputs(s), targets, scale, s, None)

    def value_and_gradient(self, inputs: Any, targets: Any, scale: float, out: Any) -> Any:
        """scale·f, with scale·∇f written into ``out``."""
        s, a0, _ = self._start(inputs, None, slopes=True)
        value = self._loss.value(self.xp, self._outputs(s), targets, scale, s, self._slope(s))
        self._reverse(s, a0, out, pairs=1)
        return value

    def hessian_product(self, inputs: Any, targets: Any, scale: float, v: Any, out: Any) -> None:
        """scale·∇²f v written into ``out`` (Pearlmutter's R-operator)."""
        s, a0, directions = self._start(inputs, v, slopes=True)
        outputs = self._outputs(s)
        self._loss.value(self.xp, outputs, targets, scale, s, self._slope(s))
        r_slope = s.stage("G")[-1][: s.n]
        self._loss.hessian_product(self.xp, outputs, targets, self._r_outputs(s), scale, s, r_slope)
        self._reverse_r(s, a0, directions, out)

    def gauss_newton_product(
        self, inputs: Any, targets: Any, scale: float, v: Any, out: Any, values: bool = True
    ) -> None:
        """scale·Jᵀ H_L J v written into ``out``: the reverse pass seeded with H_L J v. With
        ``values=False`` the caller vouches that this thread's last evaluation of the chain was a
        Gauss-Newton product on the same inputs and parameters: its values (Z, A, D, the pooling
        masks, the column matrices, the loss's p) are still in the buffers, and only the R-derivatives
        are computed (CG makes many products at one point)."""
        s, a0, _ = self._start(inputs, v, slopes=True, values=values)
        outputs = self._outputs(s)
        if values:
            self._loss.value(self.xp, outputs, targets, scale, s, None)
        self._loss.hessian_product(self.xp, outputs, targets, self._r_outputs(s), scale, s, self._slope(s))
        self._reverse(s, a0, out, pairs=2)

    def _start(
        self, inputs: Any, v: Any, slopes: bool, values: bool = True
    ) -> tuple[_Scratch, Any, list[Any] | None]:
        """The forward pass (with R-derivatives in the direction ``v`` unless None; the values too
        unless ``values`` is False): this thread's buffers for the batch, A_0 and the direction's
        per-parameter views."""
        s = self._scratch(inputs)
        directions = None if v is None else self._views(v)
        a0 = self._inputs(s, inputs, directions, slopes, values)
        self._forward(s, a0, directions, slopes, values)
        return s, a0, directions

    # -- passes ----------------------------------------------------------------------------------
    # Buffers of stage i (``_allocate``), two of them with rows [0, n) over rows [n, 2n), so that a
    # pair of products can be one product over 2n rows (the reverse pass of a Hessian product):
    #   Z  Z_i over R(Z_i)      A  A_i over R(A_i) (Z itself where σ_i is the identity)
    #   G  R(g_i) over g_i, each turned into R(dZ_i) over dZ_i by the reverse pass
    #   D  D_i = σ_i'(Z_i)      S, AV, GV  products summed into the others
    # The inputs A_0 have n rows, or 2n (A_0 over R(A_0)) from a convolutional front with directions.
    def _inputs(
        self, s: _Scratch, inputs: Any, directions: list[Any] | None, slopes: bool, values: bool = True
    ) -> Any:
        """A_0: the inputs as (N, features), or the front's output."""
        if self.front is None:
            return inputs.reshape(s.n, -1)
        return self.front.forward(s, inputs, directions, slopes, values)

    def _forward(
        self, s: _Scratch, a0: Any, directions: list[Any] | None, slopes: bool, values: bool = True
    ) -> None:
        """Z_i, A_i (and D_i with ``slopes``) for every stage, unless ``values`` is False (they are
        kept from the last pass); with ``directions``, R(Z_i) and R(A_i) too. A_{i-1} W_iᵀ and
        R(A_{i-1}) W_iᵀ are two products, so that R(Z_i) is the same to the bit with or without
        ``values``."""
        xp, n = self.xp, s.n
        zs, activations = s.stage("Z"), s.stage("A")
        slopes_out = s.stage("D") if slopes else None
        previous = a0
        for i, stage in enumerate(self.stages):
            weight, bias, z = stage.dense.weight.data, stage.dense.bias, zs[i]
            rows = n if directions is None else previous.shape[0]
            if values:
                xp.matmul(previous[:n], weight.T, out=z[:n])
                if bias is not None:
                    xp.add(z[:n], bias.data, out=z[:n])
            if rows > n:
                xp.matmul(previous[n:rows], weight.T, out=z[n:rows])
            if directions is not None:
                self._forward_direction(s, i, previous[:n], z, directions, rows > n)
            a = activations[i]
            if stage.activation is not None:
                if values:
                    stage.activation.apply(xp, z[:n], a[:n])
                    if slopes_out is not None:
                        stage.activation.slope(xp, z[:n], a[:n], slopes_out[i])
                if slopes_out is not None and directions is not None:
                    xp.multiply(slopes_out[i], z[n:], out=a[n:])
            previous = a

    def _forward_direction(
        self, s: _Scratch, i: int, a: Any, z: Any, directions: list[Any], summed: bool
    ) -> None:
        """R(Z_i) = R(A_{i-1}) W_iᵀ (in z's lower rows already when ``summed``) + A_{i-1} V_iᵀ + c_i."""
        xp, n, stage = self.xp, s.n, self.stages[i]
        v_weight = directions[stage.index]
        if not summed:
            xp.matmul(a, v_weight.T, out=z[n:])
        else:
            product = s.stage("AV")[i]
            xp.matmul(a, v_weight.T, out=product)
            xp.add(z[n:], product, out=z[n:])
        if stage.dense.bias is not None:
            xp.add(z[n:], directions[stage.index + 1], out=z[n:])

    def _reverse(self, s: _Scratch, a0: Any, out: Any, pairs: int) -> None:
        """The reverse pass from g_L (lower rows of the last G buffer) into the flat vector ``out``;
        ``pairs`` 2 where the forward pass ran with directions (the front's buffers)."""
        xp, n, views = self.xp, s.n, self._views(out)
        gradients, activations, slopes = s.stage("G"), s.stage("A"), s.stage("D")
        for i in range(len(self.stages) - 1, -1, -1):
            stage = self.stages[i]
            g = gradients[i][n:]
            if stage.activation is not None:
                xp.multiply(g, slopes[i], out=g)
            xp.matmul(g.T, a0[:n] if i == 0 else activations[i - 1][:n], out=views[stage.index])
            if stage.dense.bias is not None:
                g.sum(axis=0, out=views[stage.index + 1])
            if i > 0 or self.front is not None:
                below = gradients[i - 1][n:] if i > 0 else self.front.gradient_buffer(s, 1)
                xp.matmul(g, stage.dense.weight.data, out=below)
        if self.front is not None:
            self.front.reverse(s, views, None, pairs)

    def _reverse_r(self, s: _Scratch, a0: Any, directions: list[Any], out: Any) -> None:
        """The R pass of the reverse pass, from R(g_L) over g_L in the last G buffer, into ``out``."""
        xp, n, views = self.xp, s.n, self._views(out)
        gradients, activations = s.stage("G"), s.stage("A")
        for i in range(len(self.stages) - 1, -1, -1):
            stage, both = self.stages[i], gradients[i]
            r_g, g = both[:n], both[n:]
            if stage.activation is not None:
                self._through_activation(s, i, r_g, g)
            below_activation = a0 if i == 0 else activations[i - 1]
            if below_activation.shape[0] == n:
                xp.matmul(r_g.T, below_activation, out=views[stage.index])
            else:
                xp.matmul(both.T, below_activation, out=views[stage.index])
            if stage.dense.bias is not None:
                r_g.sum(axis=0, out=views[stage.index + 1])
            if i > 0 or self.front is not None:
                below = gradients[i - 1] if i > 0 else self.front.gradient_buffer(s, 2)
                product = s.stage("GV")[i]
                xp.matmul(both, stage.dense.weight.data, out=below)
                xp.matmul(g, directions[stage.index], out=product)
                xp.add(below[:n], product, out=below[:n])
        if self.front is not None:
            self.front.reverse(s, views, directions, 2)

    def _through_activation(self, s: _Scratch, i: int, r_g: Any, g: Any) -> None:
        """R(dZ_i) = R(g_i) ⊙ D_i + g_i ⊙ S_i ⊙ R(Z_i) and dZ_i = g_i ⊙ D_i, in place."""
        n, activation = s.n, self.stages[i].activation
        z, a = s.stage("Z")[i], s.stage("A")[i]
        term = s.stage("S")[i] if activation.curvature is not None else None
        through_activation(self.xp, activation, z[:n], z[n:], a[:n], s.stage("D")[i], term, r_g, g)

    # -- buffers and views ------------------------------------------------------------------------
    def _scratch(self, inputs: Any) -> _Scratch:
        """This thread's buffers for the batch size of ``inputs``."""
        n = inputs.shape[0]
        kept = self._local.__dict__.setdefault("sizes", {})
        s = kept.pop(n, None)
        if s is None:
            if len(kept) >= SIZES_KEPT:
                del kept[next(iter(kept))]
            s = _Scratch(self, n)
        kept[n] = s
        return s

    def _allocate(self, kind: str, s: _Scratch) -> list[Any]:
        """Stage ``kind``'s buffers for ``s`` (see ``_forward``)."""
        xp, dtype, n = self.xp, self.network.dtype, s.n
        if kind == "A":
            zs = s.stage("Z")
            return [z if st.activation is None else xp.empty_like(z) for st, z in zip(self.stages, zs)]
        rows = 2 * n if kind in ("Z", "G") else n
        return [
            xp.empty((rows, st.dense.in_features if kind == "GV" else st.dense.out_features), dtype=dtype)
            for st in self.stages
        ]

    def _outputs(self, s: _Scratch) -> Any:
        return s.stage("A")[-1][: s.n]

    def _r_outputs(self, s: _Scratch) -> Any:
        return s.stage("A")[-1][s.n :]

    def _slope(self, s: _Scratch) -> Any:
        """Where the loss writes g_L: the lower rows of the last G buffer."""
        return s.stage("G")[-1][s.n :]

    def _views(self, vector: Any) -> list[Any]:
        return self.network.layout.views(self.network.backend, vector)


def _stages(network: Network) -> tuple[list[ConvStage], list[Stage]] | None:
    """The network's front stages and dense stages when it is a chain (see the module docstring),
    else None."""
    leaves = [layer for layer in applied_layers(network.root) if type(layer) is not Identity]
    weighted = [layer for layer in leaves if type(layer) in (Dense, Conv2d)]
    if len({id(layer) for layer in weighted}) != len(weighted):
        return None
    found = front_stages(leaves)
    if found is None:
        return None
    front, leaves, index = found
    if leaves and type(leaves[0]) is Flatten:
        leaves = leaves[1:]
    elif front:
        return None
    stages: list[Stage] = []
    for layer in leaves:
        if type(layer) is Dense:
            stages.append(Stage(layer, index, None))
            index += 2 if layer.has_bias else 1
        elif type(layer) in ACTIVATIONS and stages and stages[-1].activation is None:
            stages[-1] = Stage(stages[-1].dense, stages[-1].index, ACTIVATIONS[type(layer)])
        else:
            return None
    return (front, stages) if stages else None
