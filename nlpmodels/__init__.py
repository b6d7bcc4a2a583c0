"""nlpmodels: unconstrained problems in one flat vector, with exact derivatives.

The NLPModel contract (obj, grad, objgrad, hprod, hess_op, meta, counters), the neural-network model,
quasi-Newton models, classic test problems and a SciPy adapter.
"""

from minidnn.nlpmodels import curvature, problems
from minidnn.nlpmodels.function_model import FunctionModel
from minidnn.nlpmodels.lbfgs import LBFGSModel
from minidnn.nlpmodels.lsr1 import LSR1Model
from minidnn.nlpmodels.meta import Counters, NLPModelMeta
from minidnn.nlpmodels.model import NLPModel
from minidnn.nlpmodels.neural_net import NeuralNetModel
from minidnn.nlpmodels.operator import DeviceLinearOperator
from minidnn.nlpmodels.quasi_newton import QuasiNewtonModel
from minidnn.nlpmodels.scipy_adapter import to_scipy

__all__ = ["Counters", "DeviceLinearOperator", "NLPModel", "NLPModelMeta"]
__all__ += ["LBFGSModel", "LSR1Model", "NeuralNetModel", "QuasiNewtonModel", "problems", "to_scipy"]
__all__ += ["FunctionModel", "curvature"]
