"""``minidnn evaluate --checkpoint FILE``: the loss and accuracy of a saved run on one split.

The network is rebuilt from the checkpoint's settings, its layout checked against the file's, and
the saved vector loaded; only the requested split is read. ``--data-dir`` and ``--backend`` override
the checkpoint's (the data may have moved; a run trained on a GPU can be checked on a CPU). A run
that kept an average of its iterates (``--option average=β``) is evaluated at that average, as
``train`` reported it; the saved vector is the last iterate, which a resumed run continues from.

Under ``mpiexec -n N`` the evaluation is data-parallel (:mod:`.parallel`): rank 0 reads the
checkpoint, every rank evaluates its share of the split, and rank 0 prints the result.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from minidnn.cli import checkpoint as checkpoints
from minidnn.cli import parallel, problem, progress
from minidnn.cli.errors import OK


def run(args: argparse.Namespace, job: parallel.Job) -> int:
    """Runs ``minidnn evaluate``; returns the exit code."""
    path = Path(args.checkpoint)
    saved = job.on_root(lambda: checkpoints.load(path))
    overrides = {"data_dir": args.data_dir, "backend": args.backend, "download": args.download}
    settings = dataclasses.replace(
        saved.settings, **{key: value for key, value in overrides.items() if value is not None}
    )
    data = job.on_every_rank(lambda: problem.load_split(settings, args.split))
    network = problem.build_network(settings, data)
    checkpoints.check_layout(path, saved, network)
    nlp = problem.build_model(settings, network, data, data, job.comm)
    vector, point = checkpoints.reported_vector(path, saved)
    x = nlp.meta.backend.to_device(vector, dtype=settings.dtype)
    loss, accuracy = nlp.evaluate(x, args.split)
    if not job.root:
        return OK
    state = saved.state
    print("minidnn evaluate", flush=True)
    progress.block(
        [
            ("checkpoint", str(path)),
            ("model", f"{problem.describe_network(settings, network)} on {settings.dataset}: "
                      f"{network.nvar:,} parameters"),
            ("trained", f"{settings.solver}, {state.get('iterations', '?')} iterations, "
                        f"{state.get('epoch', '?')} epochs, status {state.get('status', '?')}"),
            ("point", point),
            ("split", f"{args.split}: {len(data):,} images"),
            ("loss", f"{loss:.6f}"),
            ("accuracy", f"{accuracy:.4f} ({round(accuracy * len(data)):,} of {len(data):,} right)"),
        ]
    )  # fmt: skip
    return OK
