"""What defines a training run: data, model, solver and its options, budget, output.

Every command-line flag of ``train`` defaults to ``None`` so that an explicit value can be told
apart; :func:`resolve` fills the rest from a base (a checkpoint's settings on ``--resume``) or from
:class:`RunSettings`' defaults. The settings are saved in ``metrics.json`` and in the checkpoint, and
``evaluate`` and ``--resume`` rebuild the model from them.

Budgets: ``epochs``, ``max_time`` (seconds of solver time, evaluations excluded) and ``max_iter``;
``None`` (0 on the command line) means no limit. Solver options are ``options``; the command's own
defaults (:func:`minidnn.cli.methods.default_options`) are merged in, so the record is complete.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from minidnn.cli import methods
from minidnn.cli.errors import CommandError

FIXED_ON_RESUME = ("dataset", "model", "hidden", "activation", "pool", "seed", "dtype")
"""Settings a resumed run keeps from its checkpoint (they define the network and its data order)."""


@dataclass
class RunSettings:
    """The settings of one run (the defaults are those of ``minidnn train`` with no arguments)."""

    dataset: str = "digits"
    data_dir: str | None = None
    download: bool = True
    model: str = "mlp"
    hidden: tuple[int, ...] = (64,)
    activation: str = "relu"
    pool: str = "max"
    seed: int = 0
    backend: str = "numpy"
    dtype: str = "float32"
    l2: float = 0.0
    solver: str = "adam"
    options: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 32
    full_batch: bool = False
    epochs: int | None = 30
    max_time: float | None = None
    max_iter: int | None = None
    out: str | None = None
    progress: float = 5.0
    verbose: int = 0

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


def resolve(args: argparse.Namespace, base: RunSettings | None = None) -> RunSettings:
    """The settings of ``args``: explicit flags over ``base`` (or the defaults).

    On a resumed run (``base`` given) the settings of :data:`FIXED_ON_RESUME` must not change, and
    the solver options start from the checkpoint's only when the solver stays the same.
    """
    start = base if base is not None else RunSettings()
    explicit = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(RunSettings)
        if f.name != "options" and getattr(args, f.name, None) is not None
    }
    if base is not None:
        _check_fixed(base, explicit)
    settings = dataclasses.replace(start, **explicit)
    for name in ("epochs", "max_iter", "max_time"):
        if getattr(settings, name) == 0:
            setattr(settings, name, None)
    inherited = base.options if base is not None and base.solver == settings.solver else {}
    settings.options = {
        **methods.default_options(settings.solver, settings.full_batch),
        **inherited,
        **({"lr": args.lr} if getattr(args, "lr", None) is not None else {}),
        **dict(getattr(args, "option", None) or ()),
    }
    methods.check_options(settings.options)
    return settings


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
