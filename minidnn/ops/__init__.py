"""The differentiable primitives, one family per module, and the functions that apply them."""

from minidnn.ops.arithmetic import add, div, mul, neg, pow, sub
from minidnn.ops.broadcast import broadcast_to, sum_to
from minidnn.ops.conv import conv2d
from minidnn.ops.elu import elu
from minidnn.ops.indexing import getitem, take_along_axis
from minidnn.ops.join import concat, stack
from minidnn.ops.linalg import matmul
from minidnn.ops.linear import linear
from minidnn.ops.pooling import avg_pool2d, max_pool2d
from minidnn.ops.reduction import mean, sum
from minidnn.ops.selection import compare, maximum, minimum, where
from minidnn.ops.shape import expand_dims, reshape, transpose
from minidnn.ops.softmax import log_softmax, logsumexp, softmax
from minidnn.ops.unary import abs, exp, log, relu, sigmoid, softplus, tanh

__all__ = [
    "abs",
    "add",
    "avg_pool2d",
    "broadcast_to",
    "compare",
    "concat",
    "conv2d",
    "div",
    "elu",
    "exp",
    "expand_dims",
    "getitem",
    "linear",
    "log",
    "log_softmax",
    "logsumexp",
    "matmul",
    "max_pool2d",
    "maximum",
    "mean",
    "minimum",
    "mul",
    "neg",
    "pow",
    "relu",
    "reshape",
    "sigmoid",
    "softmax",
    "softplus",
    "stack",
    "sub",
    "sum",
    "sum_to",
    "take_along_axis",
    "tanh",
    "transpose",
    "where",
]
