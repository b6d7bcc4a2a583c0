"""What the evaluations of a NeuralNetModel run under: the network's workspace and the model's threads.

The workspace (:mod:`minidnn.workspace`) makes the large temporaries of the forward, backward and
tangent passes of f, its gradient and its Hessian-vector products come from buffers kept between
calls: after the first call for a batch size, a call maps no new memory. Evaluations over a whole
split (``evaluate``, ``accuracy``) run once in a while on larger chunks and keep nothing.

The thread count (``NeuralNetModel(..., threads=n)``) holds every BLAS and OpenMP library to n
threads during each of these calls and restores the previous counts after it
(:mod:`minidnn.thread_limits`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from minidnn.thread_limits import threads


def in_evaluation_settings(method: Callable[..., Any]) -> Callable[..., Any]:
    """The method, run inside ``model.network.workspace`` and ``threads(model.threads)``."""

    @functools.wraps(method)
    def run(model: Any, *args: Any, **kwargs: Any) -> Any:
        if model.threads is None:
            with model.network.workspace:
                return method(model, *args, **kwargs)
        with model.network.workspace, threads(model.threads):
            return method(model, *args, **kwargs)

    return run


def in_model_threads(method: Callable[..., Any]) -> Callable[..., Any]:
    """The method, run inside ``threads(model.threads)``."""

    @functools.wraps(method)
    def run(model: Any, *args: Any, **kwargs: Any) -> Any:
        with threads(model.threads):
            return method(model, *args, **kwargs)

    return run
