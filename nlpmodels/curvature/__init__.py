"""Curvature of any NLPModel with ``hprod``: the Hessian's spectrum at a point, from products alone.

``eigenvalues(nlp, x, k=1, *, vectors=False, seed=0)``
    the k largest eigenvalues (descending) by Lanczos with full reorthogonalisation;
``power_iteration(nlp, x, *, seed=0)``
    the dominant eigenpair, the simple reference;
``trace(nlp, x, *, probes=100, seed=0)``
    Hutchinson's estimate with Rademacher probes, and its standard error;
``density(nlp, x, *, steps=100, probes=1, seed=0)``
    the spectral density by stochastic Lanczos quadrature, Gaussian-broadened, on a grid;
``CurvatureMonitor(every=K)``
    a solver callback recording the top eigenvalues and the trace in the run's history.

Everything runs on the model's backend and device: vectors never leave it, and the few scalars
(Lanczos coefficients, quadratic forms) cross to the host in batches through the backend's explicit
boundary. The Hessian is that of the model's objective on its current data (the current minibatch,
or the whole training set for a model built with ``full_batch=True``); each product counts as one
``neval_hprod``. Every random draw comes from the generator seeded with ``seed``.
"""

from minidnn.nlpmodels.curvature.eigen import eigenvalues
from minidnn.nlpmodels.curvature.hutchinson import TraceEstimate, trace
from minidnn.nlpmodels.curvature.monitor import CurvatureMonitor
from minidnn.nlpmodels.curvature.power import Eigenpair, power_iteration
from minidnn.nlpmodels.curvature.slq import SpectralDensity, density

__all__ = ["CurvatureMonitor", "Eigenpair", "SpectralDensity", "TraceEstimate"]
__all__ += ["density", "eigenvalues", "power_iteration", "trace"]
