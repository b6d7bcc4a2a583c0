"""The data, network and model of a run, built from its settings.

Networks by preset (``minidnn.models.PRESETS``): ``mlp`` takes the data's image size as input,
then the ``hidden`` sizes, then one output per class; ``lenet5`` takes ``activation`` and ``pool``;
the other presets are built from the seed alone. Every fault (a missing file, a network that does
not fit the images, an unavailable backend) becomes a :class:`CommandError` with the reason.
"""

from __future__ import annotations

import math
from typing import Any

from minidnn import backend as _backend
from minidnn import datasets, models
from minidnn.cli.errors import CommandError
from minidnn.cli.settings import RunSettings
from minidnn.datasets import loader, registry
from minidnn.network import Network
from minidnn.nlpmodels import NeuralNetModel


def load_splits(settings: RunSettings, splits: tuple[str, ...] = ("train", "test")) -> list[datasets.Dataset]:
    """The ``splits`` of the run's data set; a CommandError saying where, that lists at once every
    file of those splits that is missing when downloads are off."""
    loaded, errors = [], []
    for split in splits:
        try:
            loaded.append(
                datasets.load(settings.dataset, split, root=settings.data_dir, download=settings.download)
            )
        except datasets.DatasetError as err:
            errors.append((split, err))
    if not errors:
        return loaded
    where = settings.data_dir or "$MINIDNN_DATA or the user cache folder"
    hint = f"Give the folder that holds {settings.dataset}/ with --data-dir DIR (or set MINIDNN_DATA)"
    if not settings.download:
        hint += ", or leave out --no-download to fetch the files"
    missing = [] if settings.download else _missing_files(settings, splits)
    listed = f"\nmissing files: {', '.join(missing)}" if len(missing) > 1 else ""
    split, err = errors[0]
    raise CommandError(
        f"cannot load the {settings.dataset} {split} split (data folder: {where}): "
        f"{_command_line_words(str(err))}{listed}\n{hint}."
    )


def load_split(settings: RunSettings, split: str) -> datasets.Dataset:
    """One split of the run's data set (see :func:`load_splits`)."""
    return load_splits(settings, (split,))[0]


def _missing_files(settings: RunSettings, splits: tuple[str, ...]) -> list[str]:
    """The files of ``splits`` found in neither ``<root>/<dataset>/`` nor ``<root>/`` (gzip or not)."""
    spec = registry.SPECS.get(settings.dataset)
    if not isinstance(spec, registry.IdxSpec):
        return []
    root = loader.data_root(settings.data_dir)
    folders = (root / spec.name, root)
    wanted = [remote.name for split in splits for remote in spec.splits[split]]
    return [
        str(root / spec.name / name)
        for name in wanted
        if not any((folder / n).is_file() for folder in folders for n in (name, name.removesuffix(".gz")))
    ]


def _command_line_words(message: str) -> str:
    """A data-set message in the command line's words: ``--no-download`` for ``download=False``."""
    return message.replace("and download=False", "and --no-download was given").replace(
        "; or call load with download=True", ""
    )


def build_network(settings: RunSettings, data: datasets.Dataset) -> Network:
    """The preset network of ``settings.model`` for images and classes like those of ``data``."""
    name, seed = settings.model, settings.seed
    try:
        if name == "mlp":
            sizes = (math.prod(data.image_shape), *settings.hidden, data.num_classes)
            return models.mlp(sizes, activation=settings.activation, seed=seed)
        if name == "lenet5":
            return models.lenet5(seed=seed, activation=settings.activation, pool=settings.pool)
        return models.PRESETS[name](seed=seed)
    except (KeyError, ValueError) as err:
        raise CommandError(f"cannot build model {name!r}: {err}") from None


def describe_network(settings: RunSettings, network: Network) -> str:
    """A one-line name of the network, e.g. ``mlp 64-64-10 (relu)``."""
    if settings.model == "mlp":
        sizes = [network.layout.shapes[0][1]] + [shape[0] for shape in network.layout.shapes[::2]]
        return f"mlp {'-'.join(map(str, sizes))} ({settings.activation})"
    if settings.model == "lenet5":
        return f"lenet5 ({settings.activation}, {settings.pool} pooling)"
    return settings.model


def build_model(
    settings: RunSettings,
    network: Network,
    train: datasets.Dataset,
    test: datasets.Dataset,
    comm: Any = None,
) -> NeuralNetModel:
    """The NeuralNetModel of ``network`` on the data, data-parallel over ``comm`` when given (an
    mpi4py communicator: a collective); a CommandError when they do not fit."""
    try:
        return NeuralNetModel(
            network,
            train,
            test,
            batch_size=settings.batch_size,
            shuffle=True,
            seed=settings.seed,
            backend=settings.backend,
            dtype=settings.dtype,
            full_batch=settings.full_batch,
            l2=settings.l2,
            threads=settings.threads or None,
            comm=comm,
        )
    except _backend.BackendUnavailable as err:
        hint = ' (install the gpu extra: pip install "minidnn[gpu]")' if settings.backend == "cupy" else ""
        raise CommandError(f"{err}{hint}") from None
    except (TypeError, ValueError) as err:
        if comm is not None:
            raise CommandError(
                f"cannot run model {settings.model} on the {settings.dataset} data over "
                f"{comm.Get_size()} MPI ranks: {err}"
            ) from None
        raise CommandError(
            f"model {settings.model} does not fit the {settings.dataset} data "
            f"(images {'x'.join(map(str, train.image_shape))}): {err}"
        ) from None
