"""What defines a training run: data, model, solver and its options, budget, output; and what a
comparison adds.

Each setting is declared once, as a field of :class:`RunSettings` (or :class:`CompareSettings`) with
its default, and, in its metadata (:func:`flag`), the command-line flag that sets it: help text,
argparse type or choices, group, and the commands that offer it. :mod:`minidnn.cli.arguments`
builds the parser from these fields, so a flag is never declared by hand. A flag left out of the
command line is absent from the parsed arguments (not ``None``), so :func:`resolve` can tell an
explicit value apart and fill the rest from a base (a checkpoint's settings on ``--resume``) or the
command's defaults (:data:`TRAIN_DEFAULTS`, :data:`COMPARE_DEFAULTS`). The settings are saved in
``metrics.json`` and in the checkpoint, and ``evaluate`` and ``--resume`` rebuild the model from them.

Budgets: ``epochs``, ``max_time`` (seconds of solver time, evaluations excluded) and ``max_iter``;
``None`` (0 on the command line) means no limit. At least one is required; ``forever`` (``--forever``)
says explicitly that the run has none (the defaults' budgets are dropped; giving one is an error) and
ends with Ctrl-C (the saved state can be resumed).
Solver options are ``options``; the command's own
defaults (:func:`minidnn.cli.methods.default_options`) are merged in, so the record is complete.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from minidnn import backend as _backend
from minidnn import datasets, models
from minidnn.cli import methods, values
from minidnn.cli.errors import CommandError

FIXED_ON_RESUME = ("dataset", "model", "hidden", "activation", "pool", "seed", "dtype")
"""Settings a resumed run keeps from its checkpoint (they define the network and its data order)."""

TRAIN, COMPARE = "train", "compare"

BACKENDS = tuple(name for name in _backend.NAMES if name != "array-api-strict")
"""The backends offered on the command line: array-api-strict is a stand-in for tests, not for users."""

BUDGETS = ("epochs", "max_time", "max_iter")
"""The budget settings; 0 on the command line is no limit, and at least one must limit a run."""


def flag(
    help: str,
    *,
    group: str,
    commands: tuple[str, ...] = (TRAIN, COMPARE),
    shown: str | dict[str, str] | None = None,
    **argparse_options: Any,
) -> dict[str, Any]:
    """The metadata of a setting's flag: its help, its argument group, the commands that offer it,
    the default as shown in the help (``shown``: text, or text per command; by default the value),
    and argparse's ``type``, ``choices``, ``metavar``, ``action``, ``const`` or ``option`` (the
    flag's own name, e.g. ``--no-download``)."""
    return {"flag": {"help": help, "group": group, "commands": commands, "shown": shown, **argparse_options}}


_DATA, _MODEL, _SOLVER, _BUDGET, _OUTPUT = "data", "model", "solver", "budget (0: no limit)", "output"


@dataclass
class RunSettings:
    """The settings of one run (the defaults are those of ``minidnn train`` with no arguments)."""

    dataset: str = field(default="digits", metadata=flag("data set", group=_DATA, choices=datasets.NAMES))
    data_dir: str | None = field(
        default=None,
        metadata=flag(
            "folder holding <dataset>/ or its files",
            group=_DATA,
            type=values.path,
            metavar="DIR",
            shown="$MINIDNN_DATA, else ~/.cache/minidnn",
        ),
    )
    download: bool = field(
        default=True,
        metadata=flag(
            "never download missing data files (an error says where to put them)",
            group=_DATA,
            option="--no-download",
            action="store_const",
            const=False,
            shown="",
        ),
    )
    model: str = field(
        default="mlp", metadata=flag("network preset", group=_MODEL, choices=tuple(models.PRESETS))
    )
    hidden: tuple[int, ...] = field(
        default=(64,),
        metadata=flag(
            "hidden layer sizes of the mlp, comma-separated (none: no hidden layer)",
            group=_MODEL,
            type=values.int_list,
            metavar="SIZES",
        ),
    )
    activation: str = field(
        default="relu",
        metadata=flag("activation of mlp and lenet5", group=_MODEL, choices=tuple(models.ACTIVATIONS)),
    )
    pool: str = field(
        default="max",
        metadata=flag(
            "pooling of lenet5",
            group=_MODEL,
            choices=tuple(models.POOLS),
            shown="max; --activation sigmoid --pool avg is the Julia tutorial's",
        ),
    )
    seed: int = field(
        default=0,
        metadata=flag(
            "seed of the initial weights and of the shuffles",
            group=_MODEL,
            type=values.nonnegative_int,
            metavar="N",
        ),
    )
    backend: str = field(default="numpy", metadata=flag("array backend", group=_MODEL, choices=BACKENDS))
    dtype: str = field(
        default="float32", metadata=flag("floating-point type", group=_MODEL, choices=_backend.DTYPE_NAMES)
    )
    threads: int = field(
        default=0,
        metadata=flag(
            "BLAS threads of NumPy and SciPy for the run (0: the libraries' own; 1 on a shared machine; "
            "2 or more also splits a convolutional network's large batches across threads)",
            group=_MODEL,
            type=values.nonnegative_int,
            metavar="N",
        ),
    )
    l2: float = field(
        default=0.0,
        metadata=flag(
            "weight decay: adds l2/2 ||x||^2 to the loss",
            group=_SOLVER,
            commands=(TRAIN,),
            type=values.nonnegative_float,
            metavar="L2",
        ),
    )
    solver: str = field(
        default="adam", metadata=flag("the solver", group=_SOLVER, commands=(TRAIN,), choices=methods.NAMES)
    )
    options: dict[str, Any] = field(default_factory=dict)
    batch_size: int = field(
        default=32,
        metadata=flag("samples per minibatch", group=_SOLVER, type=values.positive_int, metavar="N"),
    )
    full_batch: bool = field(
        default=False,
        metadata=flag(
            "use the whole training set as one batch (then an iteration is an epoch)",
            group=_SOLVER,
            commands=(TRAIN,),
            action="store_const",
            const=True,
            shown="",
        ),
    )
    epochs: int | None = field(
        default=30, metadata=flag("epochs", group=_BUDGET, type=values.nonnegative_int, metavar="N")
    )
    max_time: float | None = field(
        default=None,
        metadata=flag(
            "seconds of solver time, test evaluations excluded",
            group=_BUDGET,
            type=values.nonnegative_float,
            metavar="S",
        ),
    )
    max_iter: int | None = field(
        default=None, metadata=flag("iterations", group=_BUDGET, type=values.nonnegative_int, metavar="N")
    )
    forever: bool = field(
        default=False,
        metadata=flag(
            "run with no budget at all, until Ctrl-C (or the gradient test, when asked for)",
            group=_BUDGET,
            action="store_const",
            const=True,
            shown="",
        ),
    )
    out: str | None = field(
        default=None,
        metadata=flag(
            "output folder",
            group=_OUTPUT,
            type=values.path,
            metavar="DIR",
            shown={
                TRAIN: "runs/<time>-<dataset>-<model>-<solver>",
                COMPARE: "runs/<time>-compare-<dataset>-<model>",
            },
        ),
    )
    progress: float = field(
        default=5.0,
        metadata=flag(
            "also print a row every S seconds within long epochs (0: none; on a terminal a line "
            "updated in place instead)",
            group=_OUTPUT,
            commands=(TRAIN,),
            type=values.nonnegative_float,
            metavar="S",
        ),
    )
    curvature_every: int = field(
        default=0,
        metadata=flag(
            "every K iterations, record the largest Hessian eigenvalue and the trace (10 Hutchinson "
            "probes) on the current batch into metrics.json and curvature.png (0: never)",
            group=_OUTPUT,
            commands=(TRAIN,),
            type=values.nonnegative_int,
            metavar="K",
        ),
    )
    verbose: int = field(
        default=0,
        metadata=flag(
            "print the solver's own iteration table every K iterations instead of the rows",
            group=_OUTPUT,
            commands=(TRAIN,),
            type=values.nonnegative_int,
            metavar="K",
            shown="",
        ),
    )

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON-ready values (tuples become lists)."""
        return _jsonable(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSettings:
        """Settings read back from :meth:`to_dict`; a ValueError for a key of the wrong kind."""
        if not isinstance(data, dict) or "dataset" not in data or "model" not in data:
            raise ValueError("the settings lack the data set or the model")
        known = {f.name for f in dataclasses.fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        if "hidden" in values:
            values["hidden"] = tuple(int(size) for size in values["hidden"])
        if not isinstance(values.get("options", {}), dict):
            raise ValueError("the solver options are not a mapping")
        values["options"] = {key: _tuples(value) for key, value in values.get("options", {}).items()}
        return cls(**values)

    def solver_options(self) -> dict[str, Any]:
        """Keyword arguments for the solver: the budget, ``verbose`` and the options."""
        budget = {"max_epochs": self.epochs, "max_time": self.max_time, "max_iter": self.max_iter}
        return {**budget, "verbose": self.verbose, **self.options}


TRAIN_DEFAULTS = RunSettings()
COMPARE_DEFAULTS = RunSettings(dataset="mnist", model="lenet5", batch_size=100, epochs=None, max_time=30.0)
"""The KnetNLPModels LeNet tutorial on MNIST: LeNet-5, batch 100, 30 s per solver."""

COMPARE_SOLVERS = ("r2", "lbfgs", "trunk-lsr1", "trunk", "adam")


@dataclass(frozen=True)
class CompareSettings:
    """What ``minidnn compare`` adds to the settings of each run."""

    solvers: tuple[str, ...] = field(
        default=COMPARE_SOLVERS,
        metadata=flag(
            "comma-separated solver names",
            group=_SOLVER,
            commands=(COMPARE,),
            type=values.name_list(methods.NAMES, "solver"),
            metavar="LIST",
            shown=",".join(COMPARE_SOLVERS),
        ),
    )
    points: int = field(
        default=10,
        metadata=flag(
            "test accuracy is measured at N evenly spaced times of each run",
            group=_SOLVER,
            commands=(COMPARE,),
            type=values.positive_int,
            metavar="N",
        ),
    )


def resolve(
    given: Mapping[str, Any],
    options: Mapping[str, Any],
    base: RunSettings | None = None,
    defaults: RunSettings = TRAIN_DEFAULTS,
) -> RunSettings:
    """The settings ``given`` on the command line over ``base`` (or the command's ``defaults``), with
    the solver ``options`` given on the command line.

    On a resumed run (``base`` given) the settings of :data:`FIXED_ON_RESUME` must not change, and
    the solver options start from the checkpoint's only when the solver stays the same.
    """
    if base is not None:
        _check_fixed(base, given)
    settings = dataclasses.replace(base if base is not None else defaults, **given)
    for name in BUDGETS:
        if getattr(settings, name) == 0 or (settings.forever and name not in given):
            setattr(settings, name, None)  # 0 is no limit; --forever drops the budgets not given
    _check_budget(settings)
    inherited = base.options if base is not None and base.solver == settings.solver else {}
    settings.options = {
        **methods.default_options(settings.solver, settings.full_batch),
        **inherited,
        **options,
    }
    methods.check_options(settings.options)
    return settings


def _check_budget(settings: RunSettings) -> None:
    """At least one budget, unless ``--forever`` says that none is meant (then none may be given)."""
    given = [name for name in BUDGETS if getattr(settings, name) is not None]
    if not given and not settings.forever:
        raise CommandError(
            "no budget: --epochs, --max-time and --max-iter are all 0 (no limit), so the run would never "
            "end; give one of them, or --forever to run until Ctrl-C"
        )
    if given and settings.forever:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise CommandError(f"--forever contradicts the budget {flags}; give one or the other")


def _check_fixed(base: RunSettings, explicit: dict[str, Any]) -> None:
    for name in FIXED_ON_RESUME:
        if name in explicit and explicit[name] != getattr(base, name):
            flag = "--" + name.replace("_", "-")
            raise CommandError(
                f"{flag} {_show(explicit[name])} differs from the checkpoint's {_show(getattr(base, name))}; "
                f"a resumed run keeps the {', '.join(FIXED_ON_RESUME)} of its checkpoint"
            )


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    return value


def _tuples(value: Any) -> Any:
    """Lists read from JSON back to tuples (option values such as ``betas`` were tuples)."""
    return tuple(_tuples(item) for item in value) if isinstance(value, list) else value
