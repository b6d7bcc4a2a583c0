"""The evaluation counters count the calls that returned: a call that raises leaves them as they were."""

import numpy as np
import pytest
from minidnn.datasets import from_arrays
from minidnn.nlpmodels import LBFGSModel, NeuralNetModel, problems
from minidnn.nlpmodels.problems.rosenbrock import ChainedRosenbrock

from minidnn import models


def network_model():
    rng = np.random.default_rng(0)
    data = from_arrays(rng.random((12, 4)), rng.integers(0, 3, 12), classes=3)
    return NeuralNetModel(models.mlp([4, 5, 3]), data, batch_size=6)


MODELS = {"network": network_model, "rosenbrock": lambda: problems.rosenbrock(4)}


def counts(nlp):
    return nlp.counters.as_dict()


def read_only(n, dtype):
    out = np.zeros(n, dtype=dtype)
    out.flags.writeable = False
    return out


def calls(nlp):
    """(name, call) pairs that each raise a ValueError before or while evaluating."""
    n, dtype = nlp.meta.nvar, nlp.meta.x0.dtype
    x = np.array(nlp.meta.x0)
    return [
        ("grad, read-only out", lambda: nlp.grad(x, out=read_only(n, dtype))),
        ("objgrad, read-only out", lambda: nlp.objgrad(x, out=read_only(n, dtype))),
        ("hprod, read-only out", lambda: nlp.hprod(x, x, out=read_only(n, dtype))),
        ("obj, wrong shape", lambda: nlp.obj(x[:-1])),
        ("grad, wrong dtype", lambda: nlp.grad(x.astype(np.float16))),
        ("grad, out of wrong shape", lambda: nlp.grad(x, out=np.zeros(n + 1, dtype))),
        ("hprod, v of wrong shape", lambda: nlp.hprod(x, x[:2])),
        ("hess_op product, wrong shape", lambda: nlp.hess_op(x) @ np.zeros(n + 1, dtype)),
    ]


@pytest.mark.parametrize("kind", MODELS)
def test_a_call_that_raises_counts_nothing(kind):
    nlp = MODELS[kind]()
    before = counts(nlp)
    for name, call in calls(nlp):
        with pytest.raises(ValueError):
            call()
        assert counts(nlp) == before, name


def test_a_read_only_out_is_named():
    nlp = problems.rosenbrock(2)
    with pytest.raises(ValueError, match="out is a read-only array; pass a writable one or out=None"):
        nlp.grad(np.array(nlp.meta.x0), out=read_only(2, np.float64))


@pytest.mark.parametrize("kind", MODELS)
def test_each_call_that_returns_counts_once(kind):
    nlp = MODELS[kind]()
    x = np.array(nlp.meta.x0)
    nlp.obj(x)
    nlp.grad(x, out=np.empty_like(x))
    nlp.objgrad(x)
    nlp.hprod(x, x)
    assert counts(nlp) == {"neval_obj": 2, "neval_grad": 2, "neval_hprod": 1, "neval_ghprod": 0}


class Failing(ChainedRosenbrock):
    """Rosenbrock whose gradient fails inside the evaluation, after the argument checks passed."""

    def _grad(self, x):
        raise FloatingPointError("the evaluation failed")


def test_an_evaluation_that_fails_inside_counts_nothing():
    nlp = Failing(2)
    for call in (lambda x: nlp.grad(x), lambda x: nlp.objgrad(x), lambda x: LBFGSModel(nlp).grad(x)):
        with pytest.raises(FloatingPointError):
            call(np.array(nlp.meta.x0))
    assert counts(nlp) == {"neval_obj": 0, "neval_grad": 0, "neval_hprod": 0, "neval_ghprod": 0}
