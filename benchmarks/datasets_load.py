"""Time ``datasets.load("mnist", "train")`` from the local gzip files (target: under 1 s).

Usage: python benchmarks/datasets_load.py [DATA_FOLDER] [--repeat N]

DATA_FOLDER defaults to ``$MINIDNN_DATA`` (the library's data root); it must hold ``mnist/`` with the
four IDX gzip files. Each run reads and decompresses the files and builds the float32 dataset;
the best and median of the runs are printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from minidnn import datasets


def time_load(root: Path, name: str, split: str, repeat: int) -> list[float]:
    """Wall-clock seconds of ``repeat`` loads of one split."""
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        datasets.load(name, split, root=root, download=False)
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get("MINIDNN_DATA")
    parser.add_argument("root", nargs="?" if default else None, type=Path, default=default)
    parser.add_argument("--repeat", type=int, default=7)
    args, _ = parser.parse_known_args()
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"{platform.machine()}, data in {args.root}"
    )
    for name, split in (("mnist", "train"), ("mnist", "test"), ("fashion-mnist", "train")):
        if not (args.root / name).is_dir():
            print(f"{name:13s} {split:5s}  skipped: {args.root / name} is absent")
            continue
        seconds = time_load(args.root, name, split, args.repeat)
        data = datasets.load(name, split, root=args.root, download=False)
        print(
            f"{name:13s} {split:5s}  n={len(data):6d}  best {min(seconds):.3f} s  "
            f"median {statistics.median(seconds):.3f} s  ({args.repeat} runs)"
        )


if __name__ == "__main__":
    main()
