"""nlpmodels: unconstrained problems in one flat vector, with exact derivatives.

The NLPModel contract (obj, grad, objgrad, hprod, hess_op, meta, counters), the neural-network model,
limited-memory quasi-Newton operators and the models built on them, the minibatch interface solvers
drive, classic test problems and a SciPy adapter.
"""

from minidnn.nlpmodels import curvature, problems
from minidnn.nlpmodels.function_model import FunctionModel
from minidnn.nlpmodels.inverse_lbfgs_operator import InverseLBFGSOperator
from minidnn.nlpmodels.lbfgs import LBFGSModel
from minidnn.nlpmodels.lbfgs_operator import LBFGSOperator
from minidnn.nlpmodels.lsr1 import LSR1Model
from minidnn.nlpmodels.lsr1_operator import LSR1Operator
from minidnn.nlpmodels.meta import Counters, NLPModelMeta
from minidnn.nlpmodels.minibatch import AccuracyModel, MinibatchModel
from minidnn.nlpmodels.model import NLPModel
from minidnn.nlpmodels.neural_net import NeuralNetModel
from minidnn.nlpmodels.operator import DeviceLinearOperator
from minidnn.nlpmodels.quasi_newton import QuasiNewtonModel
from minidnn.nlpmodels.quasi_newton_operator import QuasiNewtonOperator
from minidnn.nlpmodels.scipy_adapter import to_scipy

__all__ = ["Counters", "DeviceLinearOperator", "NLPModel", "NLPModelMeta"]
__all__ += ["InverseLBFGSOperator", "LBFGSOperator", "LSR1Operator", "QuasiNewtonOperator"]
__all__ += ["LBFGSModel", "LSR1Model", "NeuralNetModel", "QuasiNewtonModel", "problems", "to_scipy"]
__all__ += ["AccuracyModel", "MinibatchModel"]
__all__ += ["FunctionModel", "curvature"]
