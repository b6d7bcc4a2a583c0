"""The command line: ``python -m minidnn train | evaluate | compare`` (also the console script
``minidnn``).

This subpackage is the application on top of all four packages, and the one exception to their
layering: it imports ``datasets``, ``minidnn``, ``nlpmodels`` and ``solvers``. It lives inside
``minidnn`` only because ``python -m minidnn`` is the command's public name; nothing else in
``minidnn`` imports it, and ``minidnn/__init__.py`` does not load it.

One concept per module: :mod:`.arguments` (the parser), :mod:`.settings` (what defines a run),
:mod:`.methods` (solver names and the command's defaults), :mod:`.problem` (data, network, model),
:mod:`.train`, :mod:`.evaluate`, :mod:`.compare` (the subcommands), :mod:`.checkpoint`,
:mod:`.metrics`, :mod:`.plots`, :mod:`.history` (the files), :mod:`.progress` (what is printed),
:mod:`.output` (the sink every printed line goes through), :mod:`.outdir` (the folder and its lock),
:mod:`.atomic`, :mod:`.jsonio`, :mod:`.interrupts`, :mod:`.values`, :mod:`.errors`, :mod:`.parallel`
(one process or the ranks of an MPI job).

Exit codes (:mod:`.errors`): 0 done, 1 unexpected failure, 2 bad input (unknown names, bad options,
missing data, unwritable output folder, a folder another run is writing to, a full disk), 130
interrupted by Ctrl-C or SIGTERM (``kill``, a scheduler's time limit), after saving the run so far.
A closed stdout (``minidnn train | head``) does not change the exit code: the run goes on and saves
its files (:mod:`.output`).

Under an MPI launcher (``mpiexec -n N minidnn train ...``) the command runs data-parallel on the N
ranks (:mod:`.parallel`): every rank returns the same exit code; only rank 0 prints and writes.
``compare`` is refused there.
"""

from __future__ import annotations

import sys

from minidnn.cli import output, parallel
from minidnn.cli.errors import INTERRUPTED, USAGE, CommandError

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Runs the command with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        job = parallel.start()
    except CommandError as err:
        if parallel.launched()[0] == 0:  # every process of the launch fails alike: one message
            print(f"minidnn: error: {err}", file=sys.stderr, flush=True)
        return err.code
    with output.guarded(silent=not job.root), job.signals():
        return _main(argv, job)


def _main(argv: list[str], job: parallel.Job) -> int:
    try:
        job.require_same_command(argv)
        return _dispatch(argv, job)
    except CommandError as err:
        print(f"minidnn: error: {err}", file=sys.stderr, flush=True)
        return err.code
    except KeyboardInterrupt:
        print("minidnn: interrupted", file=sys.stderr, flush=True)
        return INTERRUPTED


def _dispatch(argv: list[str], job: parallel.Job) -> int:
    from minidnn.cli import arguments

    parser = arguments.build()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        print("\nstart with: minidnn train", file=sys.stderr)
        return USAGE
    if args.command == "train":
        from minidnn.cli import train

        return train.run(args, argv, job)
    if args.command == "evaluate":
        from minidnn.cli import evaluate

        return evaluate.run(args, job)
    if job.size > 1:
        raise CommandError(
            f"compare runs on one process, not on {job.size} MPI ranks: run it without mpiexec, or "
            f"train each solver data-parallel with mpiexec -n {job.size} minidnn train --solver NAME"
        )
    from minidnn.cli import compare

    return compare.run(args, argv)
