"""The command line: ``minidnn train | evaluate | compare`` and their flags.

Every list of choices comes from the registries (``datasets.NAMES``, ``minidnn.models.PRESETS``,
the solvers of :mod:`minidnn.cli.methods`, ``minidnn.backend.NAMES`` and ``DTYPE_NAMES``), so an
unknown name is answered with the valid ones. ``train``'s flags default to ``None`` so that a
resumed run can tell which ones were given (:func:`minidnn.cli.settings.resolve`); the defaults are
those of :class:`~minidnn.cli.settings.RunSettings`, shown in the help.
"""

from __future__ import annotations

import argparse

import minidnn
from minidnn import backend, datasets, models
from minidnn.cli import methods, values
from minidnn.cli.settings import RunSettings

DEFAULTS = RunSettings()
COMPARE_SOLVERS = ("r2", "lbfgs", "trunk-lsr1", "trunk", "adam")

_EPILOG = """\
solvers: the stochastic ones (sgd momentum nesterov adagrad rmsprop adam) take one step per
minibatch; the deterministic ones (r2 lbfgs trunk lsr1) move to the next minibatch after every
iteration (resample=iteration). trunk uses the network's exact Hessian-vector products;
trunk-lsr1 (= lsr1) is trunk on an L-SR1 model, as in the KnetNLPModels tutorial; both cap their
inner CG at cg_max_iter=20. On minibatches the gradient test is off (atol=0, rtol=0): the budget
ends the run. Other solver options: --option KEY=VALUE (e.g. --option mem=10 or --option atol=1e-5).
"""


def build() -> argparse.ArgumentParser:
    """The parser of the whole command."""
    parser = argparse.ArgumentParser(
        prog="minidnn",
        description="Train neural networks with smooth optimization solvers (NumPy or CuPy).",
    )
    parser.add_argument("--version", action="version", version=f"minidnn {minidnn.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="{train,evaluate,compare}")
    _train(commands)
    _evaluate(commands)
    _compare(commands)
    return parser


def _train(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "train",
        help="train a network; with no arguments: an MLP on the shipped digits with Adam",
        description="Train a network with one solver. With no arguments: an MLP 64-64-10 on the\n"
        "shipped 8x8 digits, Adam, batch 32, 30 epochs (a few seconds).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _data_flags(p, default_dataset=None, shown=DEFAULTS.dataset)
    _model_flags(p, default_model=None, shown=DEFAULTS.model)
    g = p.add_argument_group("solver")
    g.add_argument("--solver", choices=methods.NAMES, help=f"the solver (default {DEFAULTS.solver})")
    _option_flags(g)
    g.add_argument(
        "--batch-size",
        type=values.positive_int,
        help=f"samples per minibatch (default {DEFAULTS.batch_size})",
    )
    g.add_argument(
        "--full-batch",
        action="store_const",
        const=True,
        help="use the whole training set as one batch (then an iteration is an epoch)",
    )
    g.add_argument(
        "--l2",
        type=values.nonnegative_float,
        metavar="L2",
        help="weight decay: adds l2/2 ||x||^2 to the loss",
    )
    b = p.add_argument_group("budget (0: no limit)")
    b.add_argument(
        "--epochs", type=values.nonnegative_int, metavar="N", help=f"epochs (default {DEFAULTS.epochs})"
    )
    b.add_argument(
        "--max-time",
        type=values.nonnegative_float,
        metavar="S",
        help="seconds of solver time, test evaluations excluded (default: no limit)",
    )
    b.add_argument(
        "--max-iter", type=values.nonnegative_int, metavar="N", help="iterations (default: no limit)"
    )
    o = p.add_argument_group("output")
    o.add_argument(
        "--out", metavar="DIR", help="output folder (default: runs/<time>-<dataset>-<model>-<solver>)"
    )
    o.add_argument(
        "--progress",
        type=values.nonnegative_float,
        metavar="S",
        help=f"also print a row every S seconds within long epochs (default {DEFAULTS.progress:g})",
    )
    o.add_argument(
        "--verbose",
        type=values.nonnegative_int,
        metavar="K",
        help="print the solver's own iteration table every K iterations instead of the rows",
    )
    p.add_argument("--resume", metavar="FILE", help="continue the run saved in this checkpoint.npz")
    p.set_defaults(option=[])


def _evaluate(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "evaluate",
        help="loss and accuracy of a saved checkpoint on a split",
        description="Rebuild the network of a checkpoint and report its loss and accuracy on a split.",
    )
    p.add_argument("--checkpoint", required=True, metavar="FILE", help="a checkpoint.npz written by train")
    p.add_argument("--split", choices=("test", "train"), default="test", help="the split (default test)")
    p.add_argument(
        "--data-dir", metavar="DIR", help="folder holding the data set (default: the checkpoint's)"
    )
    p.add_argument(
        "--no-download",
        dest="download",
        action="store_const",
        const=False,
        help="never download missing data files",
    )
    p.add_argument("--backend", choices=backend.NAMES, help="array backend (default: the checkpoint's)")


def _compare(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "compare",
        help="train one model with several solvers under the same time budget",
        description="Train the same model (same initial weights, same batches) with several solvers,\n"
        "each under the same solver-time budget; print a table and plot test accuracy against time.\n"
        "The default reproduces the KnetNLPModels LeNet tutorial on MNIST (LeNet-5, batch 100,\n"
        "30 s each) and adds trunk with exact Hessian-vector products and adam.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _data_flags(p, default_dataset="mnist", shown="mnist")
    _model_flags(p, default_model="lenet5", shown="lenet5")
    g = p.add_argument_group("solvers")
    g.add_argument(
        "--solvers",
        type=_solver_list,
        default=COMPARE_SOLVERS,
        metavar="LIST",
        help=f"comma-separated solver names (default {','.join(COMPARE_SOLVERS)})",
    )
    g.add_argument(
        "--option",
        type=values.key_value,
        action="append",
        default=[],
        metavar="[SOLVER.]KEY=VALUE",
        help="a solver option for all solvers, or for one with a SOLVER. prefix (repeatable)",
    )
    g.add_argument(
        "--batch-size",
        type=values.positive_int,
        default=100,
        metavar="N",
        help="samples per minibatch (default 100)",
    )
    g.add_argument(
        "--max-time",
        type=values.nonnegative_float,
        default=30.0,
        metavar="S",
        help="seconds of solver time per solver, evaluations excluded (default 30)",
    )
    g.add_argument(
        "--epochs",
        type=values.nonnegative_int,
        default=0,
        metavar="N",
        help="epochs per solver (default 0: no limit)",
    )
    g.add_argument(
        "--points",
        type=values.positive_int,
        default=10,
        metavar="N",
        help="test accuracy is measured at N evenly spaced times of each run (default 10)",
    )
    p.add_argument(
        "--out", metavar="DIR", help="output folder (default: runs/<time>-compare-<dataset>-<model>)"
    )


def _data_flags(p: argparse.ArgumentParser, default_dataset: str | None, shown: str) -> None:
    g = p.add_argument_group("data")
    g.add_argument(
        "--dataset", choices=datasets.NAMES, default=default_dataset, help=f"data set (default {shown})"
    )
    g.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder holding <dataset>/ or its files (default: $MINIDNN_DATA, else ~/.cache/minidnn)",
    )
    g.add_argument(
        "--no-download",
        dest="download",
        action="store_const",
        const=False,
        help="never download missing data files (an error says where to put them)",
    )


def _model_flags(p: argparse.ArgumentParser, default_model: str | None, shown: str) -> None:
    g = p.add_argument_group("model")
    g.add_argument(
        "--model",
        choices=tuple(models.PRESETS),
        default=default_model,
        help=f"network preset (default {shown})",
    )
    g.add_argument(
        "--hidden",
        type=values.int_list,
        metavar="SIZES",
        help="hidden layer sizes of the mlp, comma-separated (default 64)",
    )
    g.add_argument(
        "--activation", choices=tuple(models.ACTIVATIONS), help="activation of mlp and lenet5 (default relu)"
    )
    g.add_argument(
        "--pool",
        choices=tuple(models.POOLS),
        help="pooling of lenet5 (default max; --activation sigmoid --pool avg is the Julia tutorial's)",
    )
    g.add_argument("--seed", type=int, help="seed of the initial weights and of the shuffles (default 0)")
    g.add_argument("--backend", choices=backend.NAMES, help="array backend (default numpy)")
    g.add_argument("--dtype", choices=backend.DTYPE_NAMES, help="floating-point type (default float32)")


def _option_flags(g: argparse._ArgumentGroup) -> None:
    g.add_argument("--lr", type=float, help="learning rate of a stochastic solver (same as --option lr=...)")
    g.add_argument(
        "--option",
        type=values.key_value,
        action="append",
        metavar="KEY=VALUE",
        help="a solver option, e.g. mem=10 or betas=0.9,0.99 (repeatable)",
    )


def _solver_list(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in methods.NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown solver(s) {', '.join(unknown) or '(none given)'}; "
            f"valid solvers: {', '.join(methods.NAMES)}"
        )
    return names
