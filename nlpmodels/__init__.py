"""nlpmodels: unconstrained problems in one flat vector, with exact derivatives.

The NLPModel contract (obj, grad, objgrad, hprod, hess_op, meta, counters), the neural-network model,
quasi-Newton models, classic test problems and a SciPy adapter.
"""

from nlpmodels import problems
from nlpmodels.lbfgs import LBFGSModel
from nlpmodels.lsr1 import LSR1Model
from nlpmodels.meta import Counters, NLPModelMeta
from nlpmodels.model import NLPModel
from nlpmodels.neural_net import NeuralNetModel
from nlpmodels.operator import DeviceLinearOperator
from nlpmodels.quasi_newton import QuasiNewtonModel
from nlpmodels.scipy_adapter import to_scipy

__all__ = ["Counters", "DeviceLinearOperator", "NLPModel", "NLPModelMeta"]
__all__ += ["LBFGSModel", "LSR1Model", "NeuralNetModel", "QuasiNewtonModel", "problems", "to_scipy"]
