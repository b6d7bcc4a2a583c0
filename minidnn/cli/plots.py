"""The figures: ``curves.png`` of a run and ``compare.png`` of a comparison.

matplotlib is optional (the ``plot`` extra); it is imported only here, with the non-interactive Agg
backend. Without it the functions return ``None`` and the command prints :data:`NOTE`. Figures are
written atomically like every other file.

``curves.png``: the objective and the test accuracy, against solver time (left) and against epochs
(right). The objective is measured on each iterate's minibatch; against epochs it is averaged over
each epoch's iterations and drawn at the end of that epoch; against time it is averaged over runs of
consecutive iterations (at most :data:`POINTS` points), as minibatch values are noisy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from minidnn.cli import atomic

POINTS = 200
NOTE = "no plot: matplotlib is not installed (install the plot extra: pip install -e '.[plot]')"


def pyplot() -> Any | None:
    """matplotlib.pyplot on the Agg backend, or ``None`` when matplotlib is absent."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
    except ImportError:
        return None
    return plt


def run_curves(path: Path, history: Mapping[str, Sequence[Any]], title: str) -> Path | None:
    """Draws ``curves.png`` from a history (columns as in ``solvers.History``); None without matplotlib."""
    plt = pyplot()
    if plt is None:
        return None
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), constrained_layout=True)
    times, fs = _smoothed(*_finite(history["time"], history["f"]))
    axes[0][0].plot(times, fs, lw=0.8)
    epochs, means = _epoch_means(history["epoch"], history["f"])
    axes[0][1].plot(epochs, means, marker="o", ms=3)
    for ax in axes[0]:
        ax.set_ylabel("objective f (minibatch, averaged)")
        if fs and min(fs) > 0:
            ax.set_yscale("log")
    acc_times, acc = _finite(history["time"], history["accuracy"])
    axes[1][0].plot(acc_times, acc, marker="o", ms=3)
    acc_epochs, acc2 = _finite(history["epoch"], history["accuracy"])
    axes[1][1].plot(acc_epochs, acc2, marker="o", ms=3)
    for ax in axes[1]:
        ax.set_ylabel("test accuracy")
    for ax in axes[:, 0]:
        ax.set_xlabel("solver time (s)")
    for ax in axes[:, 1]:
        ax.set_xlabel("epochs")
    axes[0][1].set_title("mean objective over each epoch", fontsize=9)
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    return _save(plt, fig, path)


def curvature_curves(
    path: Path, history: Mapping[str, Sequence[Any]], spectrum: Any, title: str
) -> Path | None:
    """Draws ``curvature.png``: the top Hessian eigenvalue and the trace against solver time, and the
    spectral density at the end when there is one; None without matplotlib."""
    plt = pyplot()
    if plt is None:
        return None
    panels = 3 if spectrum is not None else 2
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 3.8), constrained_layout=True)
    top = [values[0] if values else None for values in history["eigenvalues"]]
    for ax, ys, label in ((axes[0], top, "largest eigenvalue"), (axes[1], history["trace"], "trace")):
        xs, vs = _finite(history["time"], ys)
        ax.plot(xs, vs, marker="o", ms=3)
        ax.set_xlabel("solver time (s)")
        ax.set_ylabel(f"Hessian {label} (current batch)")
    if spectrum is not None:
        axes[2].semilogy(list(spectrum.grid), [max(float(d), 1e-12) for d in spectrum.density], lw=0.8)
        axes[2].set_xlabel("eigenvalue")
        axes[2].set_ylabel("spectral density at the end")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    return _save(plt, fig, path)


def compare_curves(
    path: Path,
    accuracy: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    objective: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    title: str,
) -> Path | None:
    """Draws ``compare.png``: test accuracy (left) and objective (right) against solver time, one
    line per solver; each mapping holds (times, values) per solver. None without matplotlib."""
    plt = pyplot()
    if plt is None:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
    for name, (times, values) in accuracy.items():
        left.plot(*_finite(times, values), marker="o", ms=3, label=name)
    for name, (times, values) in objective.items():
        right.plot(*_smoothed(*_finite(times, values)), lw=0.8, label=name)
    left.set_ylabel("test accuracy")
    right.set_ylabel("objective f (minibatch, averaged)")
    right.set_yscale("log")
    for ax in (left, right):
        ax.set_xlabel("solver time (s)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    return _save(plt, fig, path)


def _save(plt: Any, fig: Any, path: Path) -> Path:
    try:
        return atomic.write(path, lambda f: fig.savefig(f, format="png", dpi=100))
    finally:
        plt.close(fig)


def _finite(xs: Sequence[Any], ys: Sequence[Any]) -> tuple[list[float], list[float]]:
    """The pairs (x, y) where both are finite numbers."""
    pairs = [(x, y) for x, y in zip(xs, ys) if _is_number(x) and _is_number(y)]
    return [float(x) for x, _ in pairs], [float(y) for _, y in pairs]


def _smoothed(xs: list[float], ys: list[float], points: int = POINTS) -> tuple[list[float], list[float]]:
    """Means of x and of y over consecutive runs of rows, at most ``points`` runs."""
    size = max(1, math.ceil(len(xs) / points))
    runs = range(0, len(xs), size)
    return (
        [sum(xs[i : i + size]) / len(xs[i : i + size]) for i in runs],
        [sum(ys[i : i + size]) / len(ys[i : i + size]) for i in runs],
    )


def _epoch_means(epochs: Sequence[Any], fs: Sequence[Any]) -> tuple[list[float], list[float]]:
    """Mean f over the rows of each epoch index e, placed at e + 1 (the end of that epoch); a last
    epoch holding one row (the first iterate of an epoch not trained on yet) is left out."""
    sums: dict[int, list[float]] = {}
    for epoch, f in zip(epochs, fs):
        if _is_number(epoch) and _is_number(f):
            sums.setdefault(int(epoch), []).append(float(f))
    keys = sorted(sums)
    if len(keys) > 1 and len(sums[keys[-1]]) == 1:
        keys.pop()  # only the first iterate of an epoch not trained on yet
    return [k + 1.0 for k in keys], [sum(sums[k]) / len(sums[k]) for k in keys]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
