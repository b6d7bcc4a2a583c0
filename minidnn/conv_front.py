"""ConvFront: the convolution, activation and max-pooling stages before a dense chain, in closed form.

Stage k of a front maps its input X_k (N, C, H, W) to the next one,

    Z_k = conv(X_k, W_k) + b_k,    A_k = σ_k(Z_k),    X_{k+1} = maxpool(A_k),

the activation σ_k or the pooling absent in some stages; the last X is flattened for the dense
chain (:mod:`minidnn.dense_chain`). The convolution is one product on the column matrix of X
(im2col, :mod:`minidnn.ops.conv`), Z = W cols(X), W reshaped (O, C·KH·KW). Max pooling gathers each
window's first maximum in row-major order (PyTorch's rule on ties; :mod:`minidnn.ops.pooling`):
with M_j the mask of the windows whose first maximum sits at kernel offset j and A[j] the elements
read at that offset, X_{k+1} = Σ_j M_j ⊙ A[j]. Windows never overlap here (stride >= kernel, no
padding), so the masks partition the outputs and the adjoint writes each gradient in one place.

With g_k = ∂f/∂X_k, D = σ'(Z) and S = σ''(Z), the reverse pass is

    ∂f/∂A = Σ_j scatter_j(M_j ⊙ g_{k+1}),    dZ = ∂f/∂A ⊙ D,
    ∇W = dZ cols(X)ᵀ,    ∇b = dZ 1,    g_k = col2im(Wᵀ dZ),

and Pearlmutter's R-operator in the direction (V, c) (Pearlmutter 1994; the masks are constants, as
in the graph, and the convolution is bilinear in X and W):

    R(Z) = W cols(R(X)) + V cols(X) + c,    R(A) = D ⊙ R(Z),    R(X_{k+1}) = Σ_j M_j ⊙ R(A)[j],
    R(dZ) = R(∂f/∂A) ⊙ D + ∂f/∂A ⊙ S ⊙ R(Z)        (:func:`minidnn.activation_rules.through_activation`),
    R(∇W) = R(dZ) cols(X)ᵀ + dZ cols(R(X))ᵀ,    R(∇b) = R(dZ) 1,    R(g_k) = col2im(Wᵀ R(dZ) + Vᵀ dZ),

with R(X_0) = 0. The Gauss-Newton product runs the forward R pass, then the plain reverse pass.

Layout: every array is batch-innermost (as in :mod:`minidnn.ops.windows`) with a pair axis after the
channels, (C, T, H, W, N): T = 2 holds a value and its R-derivative in the forward pass, R(g) and g
in the reverse pass of a Hessian product (T = 1 otherwise). A pair then shares one product over 2P
columns, P = OH·OW·N: W [cols(X) | cols(R(X))] gives Z and W cols(R(X)) at once, and
[R(dZ) | dZ] [cols(X) | cols(R(X))]ᵀ is R(∇W) whole. Each stage writes straight into the next
stage's input, a buffer padded with zeros for that stage's convolution; the buffers are the dense
chain's (per thread and batch size).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from minidnn.activation_rules import ACTIVATIONS, Activation, through_activation
from minidnn.layers import Conv2d, Layer, MaxPool2d, ReLU
from minidnn.network import Network


@dataclass(frozen=True)
class ConvStage:
    """A Conv2d layer, whose weight is parameter ``index`` of the layout (its bias the next one, if
    it has one), then an activation (None: the identity) and a max pooling (None: none), the pooling
    first with ``pool_first``."""

    conv: Conv2d
    index: int
    activation: Activation | None
    pool: MaxPool2d | None
    pool_first: bool

    @property
    def steps(self) -> tuple[str, ...]:
        """ "activation" and "pool", those present, in the order they run."""
        order = ("pool", "activation") if self.pool_first else ("activation", "pool")
        return tuple(step for step in order if getattr(self, step) is not None)


@dataclass(frozen=True)
class Geometry:
    """The sizes of one stage for a given input: input channels and padded input (height, width);
    output channels, convolution output and pooled output (height, width)."""

    channels: int
    padded: tuple[int, int]
    out_channels: int
    out: tuple[int, int]
    pooled: tuple[int, int]


def front_stages(leaves: list[Layer], index: int = 0) -> tuple[list[ConvStage], list[Layer], int] | None:
    """The conv stages at the head of ``leaves`` (the layers a forward pass applies), the layers
    after them, and the parameter index after theirs; None where a stage does not fit the front.

    A stage is a Conv2d followed by an activation of :data:`ACTIVATIONS`, a MaxPool2d with stride
    >= kernel and no padding, or both in either order. ReLU then max pooling run as max pooling then
    ReLU: max(0, ·) commutes with the window's maximum, the first maximum of the windows whose
    maximum is positive is the same, and every other window's gradient is 0 either way (ReLU's slope
    is 0 there), so the values and derivatives are the same, from a quarter of the ReLU's work.
    """
    stages: list[ConvStage] = []
    position = 0
    while position < len(leaves) and type(leaves[position]) is Conv2d:
        conv, position = leaves[position], position + 1
        activation = pool = None
        pool_first = False
        for _ in range(2):
            kind = type(leaves[position]) if position < len(leaves) else None
            if kind in ACTIVATIONS and activation is None:
                activation, relu = ACTIVATIONS[kind], kind is ReLU
            elif kind is MaxPool2d and pool is None:
                pool, pool_first = leaves[position], activation is None
                if pool.padding != (0, 0) or any(s < k for s, k in zip(pool.stride, pool.kernel_size)):
                    return None
            else:
                break
            position += 1
        if activation is None and pool is None:
            return None
        if activation is not None and pool is not None and relu:
            pool_first = True
        stages.append(ConvStage(conv, index, activation, pool, pool_first))
        index += 2 if conv.has_bias else 1
    return stages, leaves[position:], index


class ConvFront:
    """The front's passes (see the module docstring) on buffers taken from ``scratch.take``."""

    def __init__(self, network: Network, stages: list[ConvStage]):
        self.backend = network.backend
        self.xp = network.backend.xp
        self.dtype = network.dtype
        self.stages = stages
        self._geometries: dict[tuple[int, ...], list[Geometry]] = {}

    # -- forward -------------------------------------------------------------------------------
    def forward(
        self, s: Any, inputs: Any, directions: list[Any] | None, slopes: bool, values: bool = True
    ) -> Any:
        """The flattened output (T·N, F): values over R-derivatives with ``directions`` (T = 2);
        D_k kept with ``slopes``, the pooling masks too. With ``values=False`` (T = 2 only) the values,
        D_k, the masks and the values' column matrices are those the last such pass left in the
        buffers, and only the R-derivatives are computed."""
        t = 1 if directions is None else 2
        geometries = self.geometry(tuple(inputs.shape[1:]))
        s.geometries = geometries
        first = geometries[0]
        x = self._input(s, inputs, first) if values else self._padded(s, ("X", 0, 1), first, 1)
        for k in range(len(self.stages)):
            t_in = 1 if k == 0 else t
            cols = self._im2col(s, k, x[:, :t_in], t_in, kept=0 if values else 1)
            z = self._convolve(s, k, cols, t_in, t, directions, values)
            x = self._steps(s, k, z, t, slopes, values)
        return self._flatten(s, x, t, kept=0 if values else 1)

    def _input(self, s: Any, inputs: Any, g: Geometry) -> Any:
        """X_0 as (C, 1, H + 2PH, W + 2PW, N), zero borders."""
        x = self._padded(s, ("X", 0, 1), g, 1)
        self._interior(x, 0)[:, 0] = self.xp.permute_dims(inputs, (1, 2, 3, 0))
        return x

    def _im2col(self, s: Any, k: int, x: Any, t: int, kept: int = 0) -> Any:
        """cols[(c, i, j), t, (p, q, n)] = X[c, t, p·SH + i, q·SW + j, n], as (C·KH·KW, T, P); the
        first ``kept`` of the T slices are left as the buffer holds them."""
        conv, g, xp = self.stages[k].conv, s.geometries[k], self.xp
        n = x.shape[-1]
        (kh, kw), (oh, ow) = conv.kernel_size, g.out
        cols = s.take(("cols", k, t), (g.channels, kh, kw, t, oh, ow, n), self.dtype)
        if kept < t:
            windows = self.backend.sliding_windows(
                xp.permute_dims(x[:, kept:], (0, 1, 4, 2, 3)), conv.kernel_size, conv.stride
            )
            cols[:, :, :, kept:] = xp.permute_dims(windows, (0, 5, 6, 1, 3, 4, 2))
        return xp.reshape(cols, (g.channels * kh * kw, t, oh * ow * n))

    def _convolve(
        self, s: Any, k: int, cols: Any, t_in: int, t: int, directions: list[Any] | None, values: bool = True
    ) -> Any:
        """Z = W cols(X) + b (unless ``values`` is False: Z is kept) over R(Z) = [V | W] [cols(X) ;
        cols(R(X))] + c, as (O, T, P): the R-derivative is one product over the stacked columns (the
        weights interleaved to match)."""
        xp, stage, g = self.xp, self.stages[k], s.geometries[k]
        o, p = g.out_channels, cols.shape[-1]
        z = s.take(("Z", k, t), (o, t, p), self.dtype)
        weight = xp.reshape(stage.conv.weight.data, (o, -1))
        if values:
            xp.matmul(weight, cols[:, 0], out=z[:, 0])
            if stage.conv.has_bias:
                self._add_bias(z[:, 0], stage.conv.bias.data)
        if directions is None:
            return z
        v = xp.reshape(directions[stage.index], (o, -1))
        if t_in == 1:
            xp.matmul(v, cols[:, 0], out=z[:, 1])
        else:
            pair = s.take(("VW", k), (o, v.shape[1], 2), self.dtype)
            pair[:, :, 0], pair[:, :, 1] = v, weight
            xp.matmul(xp.reshape(pair, (o, -1)), xp.reshape(cols, (-1, p)), out=z[:, 1])
        if stage.conv.has_bias:
            self._add_bias(z[:, 1], directions[stage.index + 1])
        return z

    def _add_bias(self, z: Any, bias: Any) -> None:
        """z (O, P) += bias (O,) on every column, in place."""
        self.xp.add(z, self.xp.reshape(bias, (-1, 1)), out=z)

    def _steps(self, s: Any, k: int, z: Any, t: int, slopes: bool, values: bool = True) -> Any:
        """The activation and the pooling of stage k on Z (O, T, P), in order, the last one written
        into the next stage's padded input, which is returned (the front's output after the last)."""
        g = s.geometries[k]
        current = self.xp.reshape(z, (g.out_channels, t, *g.out, -1))
        steps = self.stages[k].steps
        for position, step in enumerate(steps):
            if position == len(steps) - 1:
                out = self._interior(self._next_input(s, k, t), k + 1)
            else:
                shape = current.shape if step == "activation" else (g.out_channels, t, *g.pooled, s.n)
                out = s.take((step, k, t), shape, self.dtype)
            if step == "activation":
                self._activate(s, k, current, out, t, slopes, values)
            else:
                self._pool(s, k, current, out, t, slopes, values)
            current = out
        return self._next_input(s, k, t)

    def _activate(self, s: Any, k: int, z: Any, a: Any, t: int, slopes: bool, values: bool = True) -> None:
        """A over R(A) = σ(Z) over D ⊙ R(Z) into ``a`` (R(A) alone, from the kept D, without
        ``values``), D kept with ``slopes`` (and Z, A for the reverse pass)."""
        xp, activation = self.xp, self.stages[k].activation
        if values:
            activation.apply(xp, z[:, 0], a[:, 0])
        if slopes:
            d = s.take(("D", k), z[:, 0].shape, self.dtype)
            if values:
                activation.slope(xp, z[:, 0], a[:, 0], d)
            if t == 2:
                xp.multiply(d, z[:, 1], out=a[:, 1])
            s.named["activation", k] = (z, a)

    def _pool(self, s: Any, k: int, a: Any, best: Any, t: int, slopes: bool, values: bool = True) -> None:
        """The windows' maxima of A into ``best``; with ``slopes`` the first-maximum masks too, and
        for T = 2 R(A) gathered at them (from the kept masks, without ``values``)."""
        xp = self.xp
        parts = self._window_views(s, k, a)
        if not values:
            self._gather_r(s, k, parts, self._mask_list(s, k), best)
            return
        if len(parts) == 1:
            best[:, 0] = parts[0][:, 0]
        else:
            xp.maximum(parts[0][:, 0], parts[1][:, 0], out=best[:, 0])
            for part in parts[2:]:
                xp.maximum(best[:, 0], part[:, 0], out=best[:, 0])
        if not slopes:
            return
        masks = self._masks(s, k, parts, best[:, 0])
        if t == 2:
            self._gather_r(s, k, parts, masks, best)

    def _gather_r(self, s: Any, k: int, parts: list[Any], masks: list[Any], best: Any) -> None:
        """R(X_{k+1}) = Σ_j M_j ⊙ R(A)[j] into ``best[:, 1]``."""
        xp = self.xp
        r_best, term = best[:, 1], s.take(("masked", k), best[:, 1].shape, self.dtype)
        xp.multiply(parts[0][:, 1], masks[0], out=r_best)
        for part, mask in zip(parts[1:], masks[1:]):
            xp.multiply(part[:, 1], mask, out=term)
            xp.add(r_best, term, out=r_best)

    def _masks(self, s: Any, k: int, parts: list[Any], best: Any) -> list[Any]:
        """M_j as 0 and 1: 1 where offset j holds the window's first maximum; the last mask is every
        window no earlier offset took, so that the masks partition the windows (NaN included)."""
        xp = self.xp
        masks = [s.take(("M", k, j), best.shape, self.dtype) for j in range(len(parts))]
        if len(parts) == 1:
            masks[0][...] = 1
            return masks
        taken = s.take(("taken", k), best.shape, self.dtype)
        xp.equal(parts[0][:, 0], best, out=masks[0])
        taken[...] = masks[0]
        for part, mask in zip(parts[1:-1], masks[1:-1]):
            xp.equal(part[:, 0], best, out=mask)
            xp.greater(mask, taken, out=mask)
            xp.add(taken, mask, out=taken)
        xp.subtract(1, taken, out=masks[-1])
        return masks

    def _flatten(self, s: Any, x: Any, t: int, kept: int = 0) -> Any:
        """The last output (C, T, H, W, N) as the dense chain's input (T·N, C·H·W), in PyTorch's
        flattening order (c, h, w); the first ``kept`` of the T blocks are left as they are."""
        xp = self.xp
        c, _, h, w, n = x.shape
        flat = s.take(("flat", t), (t * n, c * h * w), self.dtype)
        xp.reshape(flat, (t, n, c, h, w))[kept:] = xp.permute_dims(x[:, kept:], (1, 4, 0, 2, 3))
        return flat

    # -- reverse -------------------------------------------------------------------------------
    def gradient_buffer(self, s: Any, t: int) -> Any:
        """Where the dense chain writes ∂f/∂(flattened output): (T·N, F), R(g) over g for T = 2."""
        c, _, h, w, n = self._output_shape(s, t)
        return s.take(("gflat", t), (t * n, c * h * w), self.dtype)

    def reverse(self, s: Any, views: list[Any], directions: list[Any] | None, t_forward: int) -> None:
        """∇W_k, ∇b_k (or their R-derivatives, with ``directions``) into ``views`` from the gradient
        buffer, the forward pass having run with ``t_forward`` pairs."""
        t = 1 if directions is None else 2
        g = self._unflatten(s, t)
        for k in range(len(self.stages) - 1, -1, -1):
            for step in reversed(self.stages[k].steps):
                if step == "pool":
                    g = self._unpool(s, k, g, t)
                else:
                    self._through_activation(s, k, g, t)
            dz = self._as_columns(s, k, g, t)
            self._parameter_gradients(s, k, dz, views, t, t_forward)
            if k > 0:
                g = self._col2im(s, k, dz, directions, t)

    def _unflatten(self, s: Any, t: int) -> Any:
        """The gradient buffer (T·N, C·H·W) as (C, T, H, W, N), copied into the layout."""
        xp = self.xp
        flat = s.kept(("gflat", t))
        c, _, h, w, n = self._output_shape(s, t)
        g = s.take(("gout", t), (c, t, h, w, n), self.dtype)
        g[...] = xp.permute_dims(xp.reshape(flat, (t, n, c, h, w)), (2, 0, 3, 4, 1))
        return g

    def _unpool(self, s: Any, k: int, g: Any, t: int) -> Any:
        """The gradient (over its R) before the pooling, (O, T, OH, OW, N): each pooled gradient
        written where its window's first maximum was, the rest 0."""
        xp, geometry = self.xp, s.geometries[k]
        o = geometry.out_channels
        before = s.take(("unpooled", k, t), (o, t, *geometry.out, s.n), self.dtype, zeros=True)
        for part, mask in zip(self._window_views(s, k, before), self._mask_list(s, k)):
            xp.multiply(g, xp.reshape(mask, (o, 1, *mask.shape[1:])), out=part)
        return before

    def _through_activation(self, s: Any, k: int, g: Any, t: int) -> None:
        """dZ = g ⊙ D (and R(dZ) = R(g) ⊙ D + g ⊙ S ⊙ R(Z) for T = 2) in place of g."""
        xp, activation = self.xp, self.stages[k].activation
        d = s.kept(("D", k))
        if t == 1:
            xp.multiply(g[:, 0], d, out=g[:, 0])
            return
        z, a = s.kept(("activation", k))
        term = s.take(("S", k), d.shape, self.dtype)
        through_activation(xp, activation, z[:, 0], z[:, 1], a[:, 0], d, term, g[:, 0], g[:, 1])

    def _as_columns(self, s: Any, k: int, dz: Any, t: int) -> Any:
        """dZ (O, T, OH, OW, N) as (O, T, P), copied when it is a padded buffer's interior."""
        xp, o = self.xp, dz.shape[0]
        if not dz.flags.c_contiguous:
            kept = s.take(("dZ", k, t), dz.shape, self.dtype)
            kept[...] = dz
            dz = kept
        return xp.reshape(dz, (o, t, -1))

    def _parameter_gradients(self, s: Any, k: int, dz: Any, views: list[Any], t: int, t_forward: int) -> None:
        """∇W = dZ cols(X)ᵀ and ∇b = dZ 1; for T = 2, R(∇W) = [R(dZ) | dZ] [cols(X) | cols(R(X))]ᵀ
        (the second term absent at the first stage) and R(∇b) = R(dZ) 1."""
        xp, stage = self.xp, self.stages[k]
        t_in = 1 if k == 0 else t_forward
        o, p = dz.shape[0], dz.shape[-1]
        cols = xp.reshape(s.kept(("cols", k, t_in)), (-1, t_in, p))
        weight_view = xp.reshape(views[stage.index], (o, -1))
        if t == 2 and t_in == 2:
            both = xp.reshape(cols, (cols.shape[0], 2 * p))
            xp.matmul(xp.reshape(dz, (o, 2 * p)), both.T, out=weight_view)
        else:
            xp.matmul(dz[:, 0], cols[:, 0].T, out=weight_view)
        if stage.conv.has_bias:
            dz[:, 0].sum(axis=1, out=views[stage.index + 1])

    def _col2im(self, s: Any, k: int, dz: Any, directions: list[Any] | None, t: int) -> Any:
        """R(g_k) over g_k = col2im([Wᵀ | Vᵀ] [R(dZ) ; dZ]) over col2im(Wᵀ dZ) (g_k alone for T = 1):
        the interior of a padded (C, T, H + 2PH, W + 2PW, N) buffer, summed one kernel offset at a
        time."""
        xp, stage, geometry = self.xp, self.stages[k], s.geometries[k]
        conv, o, p = stage.conv, dz.shape[0], dz.shape[-1]
        (kh, kw), (oh, ow) = conv.kernel_size, geometry.out
        n = p // (oh * ow)
        cols = s.take(("gcols", k, t), (geometry.channels, kh, kw, t, oh, ow, n), self.dtype)
        by_pair = xp.reshape(cols, (-1, t, p))
        weight = xp.reshape(conv.weight.data, (o, -1))
        xp.matmul(weight.T, dz[:, -1], out=by_pair[:, -1])
        if t == 2:
            pair = s.take(("WV", k), (weight.shape[1], o, 2), self.dtype)
            pair[:, :, 0], pair[:, :, 1] = weight.T, xp.reshape(directions[stage.index], (o, -1)).T
            xp.matmul(xp.reshape(pair, (-1, 2 * o)), xp.reshape(dz, (2 * o, p)), out=by_pair[:, 0])
        g = self._padded(s, ("GX", k, t), geometry, t)
        g[...] = 0
        for i in range(kh):
            for j in range(kw):
                rows, columns = _offset(conv.stride, (i, j), geometry.out)
                target = g[:, :, rows, columns, :]
                xp.add(target, cols[:, i, j], out=target)
        return self._interior(g, k)

    # -- buffers and geometry --------------------------------------------------------------------
    def geometry(self, image: tuple[int, ...]) -> list[Geometry]:
        """Each stage's sizes for inputs of shape (C, H, W) (checked by the model beforehand)."""
        kept = self._geometries.get(image)
        if kept is None:
            kept = self._geometries[image] = _geometries(self.stages, image)
        return kept

    def _padded(self, s: Any, name: tuple[Any, ...], g: Geometry, t: int) -> Any:
        """The stage's (C, T, H + 2PH, W + 2PW, N) input buffer, its borders zero."""
        return s.take(name, (g.channels, t, *g.padded, s.n), self.dtype, zeros=True)

    def _next_input(self, s: Any, k: int, t: int) -> Any:
        """Stage k+1's padded input buffer, or the front's output after the last stage."""
        if k + 1 < len(self.stages):
            return self._padded(s, ("X", k + 1, t), s.geometries[k + 1], t)
        g = s.geometries[k]
        return s.take(("X", k + 1, t), (g.out_channels, t, *g.pooled, s.n), self.dtype)

    def _interior(self, x: Any, k: int) -> Any:
        """The unpadded part of stage k's input buffer (all of it past the last stage)."""
        if k >= len(self.stages):
            return x
        ph, pw = self.stages[k].conv.padding
        return x[:, :, ph : x.shape[2] - ph, pw : x.shape[3] - pw, :]

    def _output_shape(self, s: Any, t: int) -> tuple[int, ...]:
        """The front's output (C, T, H, W, N)."""
        g = s.geometries[-1]
        return (g.out_channels, t, *g.pooled, s.n)

    def _window_views(self, s: Any, k: int, a: Any) -> list[Any]:
        """Per pooling offset j, the (O, T, PH, PW, N) view of a (O, T, OH, OW, N) array read by the
        windows at that offset."""
        pool, pooled = self.stages[k].pool, s.geometries[k].pooled
        (kh, kw) = pool.kernel_size
        views = []
        for i in range(kh):
            for j in range(kw):
                rows, columns = _offset(pool.stride, (i, j), pooled)
                views.append(a[:, :, rows, columns, :])
        return views

    def _mask_list(self, s: Any, k: int) -> list[Any]:
        kh, kw = self.stages[k].pool.kernel_size
        return [s.kept(("M", k, j)) for j in range(kh * kw)]


def _offset(stride: tuple[int, int], offset: tuple[int, int], out: tuple[int, int]) -> tuple[slice, slice]:
    """Rows and columns read at kernel offset (i, j) by OH x OW windows that start every stride."""
    (sh, sw), (i, j), (oh, ow) = stride, offset, out
    return slice(i, i + sh * (oh - 1) + 1, sh), slice(j, j + sw * (ow - 1) + 1, sw)


def _geometries(stages: list[ConvStage], image: tuple[int, ...]) -> list[Geometry]:
    """The stages' sizes for an input image (C, H, W): OH = (H + 2PH - KH) // SH + 1, and after a
    pooling PH' = (OH - KH') // SH' + 1 (as in PyTorch)."""
    c, h, w = image
    geometries = []
    for stage in stages:
        conv = stage.conv
        (ph, pw), (kh, kw), (sh, sw) = conv.padding, conv.kernel_size, conv.stride
        out = ((h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1)
        pooled = out
        if stage.pool is not None:
            (qh, qw), (th, tw) = stage.pool.kernel_size, stage.pool.stride
            pooled = ((out[0] - qh) // th + 1, (out[1] - qw) // tw + 1)
        geometries.append(Geometry(c, (h + 2 * ph, w + 2 * pw), conv.out_channels, out, pooled))
        c, (h, w) = conv.out_channels, pooled
    return geometries
