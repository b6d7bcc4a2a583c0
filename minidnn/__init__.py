"""minidnn: neural networks on NumPy or CuPy with exact first and second derivatives.

``minidnn.Tensor`` wraps a backend array; the functions of ``minidnn.ops`` build a graph;
``minidnn.grad`` differentiates it (reverse mode, differentiable again with ``create_graph=True``),
and ``minidnn.hvp`` / ``minidnn.jvp`` give Hessian-vector and Jacobian-vector products.
``minidnn.Network`` holds layers and all their parameters in one flat vector.
``minidnn.load_checkpoint(path)`` reads a checkpoint written by ``minidnn train`` back: the trained
network, its flat vector, the run's settings, state and history.
"""

from minidnn import backend, gradcheck, init, layers, losses, models, ops
from minidnn.checkpoint import load_checkpoint
from minidnn.derivatives import hvp, jvp
from minidnn.engine import grad
from minidnn.function import Function
from minidnn.mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from minidnn.network import Network
from minidnn.tensor import Tensor

__version__ = "0.1.0"

__all__ = [
    "Function",
    "Network",
    "Tensor",
    "backend",
    "gradcheck",
    "init",
    "layers",
    "losses",
    "models",
    "enable_grad",
    "grad",
    "hvp",
    "is_grad_enabled",
    "jvp",
    "load_checkpoint",
    "no_grad",
    "ops",
    "set_grad_enabled",
]
