"""Sliding-window geometry and memory layout, shared by convolution and pooling.

A window op sees its input x (N, C, H, W) zero- (or -inf-) padded by P on each side and visits the
windows of KH x KW elements that start every S elements: output position (p, q) reads the rows
p*SH + i - PH and columns q*SW + j - PW for the kernel offsets 0 <= i < KH, 0 <= j < KW, and

    OH = (H + 2 PH - KH) // SH + 1,        OW = (W + 2 PW - KW) // SW + 1        (as in PyTorch).

Layout: window ops compute on *batch-innermost* arrays, memory ordered (C, H, W, N). A loop over
the KH*KW offsets then moves runs of OW*N contiguous elements per row instead of OW, and the column
matrix of a convolution, (C*KH*KW, OH*OW*N), comes out of one copy whose product with the weights
is again batch-innermost, ready for the next layer. Results are handed back as logical NCHW
tensors (a transposed view of such an array); every consumer sees NCHW shapes and indices, only
the strides differ. Padding makes a new batch-innermost buffer; unpadded pooling reads its input
in place, whatever its memory order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from minidnn import backend as _backend
from minidnn.ops import buffers

Pair = tuple[int, int]

# Axis orders between logical NCHW and batch-innermost (C, H, W, N) memory.
TO_BATCH_INNERMOST = (1, 2, 3, 0)
FROM_BATCH_INNERMOST = (3, 0, 1, 2)


@dataclass(frozen=True)
class Window:
    """Kernel size, stride and padding, each a (height, width) pair."""

    kernel: Pair
    stride: Pair
    padding: Pair

    def output_size(self, h: int, w: int) -> Pair:
        """(OH, OW) for an input of height h and width w."""
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding
        return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1

    def offset_slices(self, i: int, j: int, out: Pair) -> tuple[slice, slice]:
        """Rows and columns of the padded input read at kernel offset (i, j) by all OH x OW windows."""
        (sh, sw), (oh, ow) = self.stride, out
        return slice(i, i + sh * (oh - 1) + 1, sh), slice(j, j + sw * (ow - 1) + 1, sw)

    def offsets(self) -> list[tuple[int, int]]:
        """The kernel offsets (i, j) in row-major order."""
        kh, kw = self.kernel
        return [(i, j) for i in range(kh) for j in range(kw)]


def batch_innermost(x: Any, padding: Pair, fill: float, c_order: bool) -> Any:
    """x (N, C, H, W) as a (C, H + 2PH, W + 2PW, N) array, padded with ``fill``.

    With padding, a new C-ordered buffer. Without, a view of x (whatever its memory order) unless
    ``c_order`` asks for C order, which copies x unless it already has batch-innermost memory.
    """
    xp = _backend.of(x).xp
    xt = xp.permute_dims(x, TO_BATCH_INNERMOST)
    ph, pw = padding
    if ph == 0 and pw == 0:
        return buffers.c_order(xt) if c_order else xt
    c, h, w, n = xt.shape
    buf = buffers.full(x, (c, h + 2 * ph, w + 2 * pw, n), fill)
    buf[:, ph : ph + h, pw : pw + w, :] = xt
    return buf


def crop_to_nchw(buf: Any, padding: Pair) -> Any:
    """The logical (N, C, H, W) view of a padded batch-innermost buffer, padding cropped off."""
    ph, pw = padding
    _, hp, wp, _ = buf.shape
    inner = buf[:, ph : hp - ph, pw : wp - pw, :]
    return _backend.of(buf).xp.permute_dims(inner, FROM_BATCH_INNERMOST)


def int_pair(op: str, name: str, value: Any, minimum: int, context: str) -> Pair:
    """``value`` (an int or a pair of ints) as a pair, each at least ``minimum``.

    ``context`` names the shapes involved; it ends every error message.
    """
    items = (value, value) if isinstance(value, int) and not isinstance(value, bool) else value
    try:
        pair = tuple(items)
    except TypeError:
        pair = ()
    if len(pair) != 2 or any(not isinstance(v, int) or isinstance(v, bool) or v < minimum for v in pair):
        raise ValueError(
            f"{op}: {name} must be an int or a pair of ints >= {minimum}, got {value!r} ({context})"
        )
    return pair[0], pair[1]


def check_4d(op: str, name: str, shape: tuple[int, ...]) -> None:
    """A ValueError unless ``shape`` has four axes (N, C, H, W)."""
    if len(shape) != 4:
        raise ValueError(f"{op}: {name} must be 4-D (N, C, H, W), got shape {shape}")


def check_fits(op: str, window: Window, shape: tuple[int, ...], context: str) -> None:
    """A ValueError unless the kernel fits in the padded input (at least one window per axis)."""
    (kh, kw), (ph, pw) = window.kernel, window.padding
    h, w = shape[2] + 2 * ph, shape[3] + 2 * pw
    if kh > h or kw > w:
        raise ValueError(
            f"{op}: kernel {kh}x{kw} is larger than the padded input {h}x{w} (padding {ph}x{pw}; {context})"
        )


def check_floating(op: str, x: Any) -> None:
    """A ValueError unless the tensor ``x`` has a real floating dtype."""
    if not _backend.of(x.data).xp.isdtype(x.dtype, "real floating"):
        raise ValueError(f"{op}: x must have a floating dtype, got {x.dtype} (x shape {x.shape})")
