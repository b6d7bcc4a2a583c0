"""nlpmodels: unconstrained problems in one flat vector, with exact derivatives.

The NLPModel contract (obj, grad, objgrad, hprod, hess_op, meta, counters), the neural-network model,
quasi-Newton models, classic test problems and a SciPy adapter.
"""

from nlpmodels.meta import Counters, NLPModelMeta
from nlpmodels.model import NLPModel
from nlpmodels.operator import DeviceLinearOperator

__all__ = ["Counters", "DeviceLinearOperator", "NLPModel", "NLPModelMeta"]
