"""Time ``datasets.load("mnist", "train")`` from the local gzip files (target: under 1 s).

Usage: python benchmarks/datasets_load.py [DATA_FOLDER] [--repeat N] [--json PATH] [--tiny]

DATA_FOLDER defaults to ``$MINIDNN_DATA`` (the library's data root); it must hold ``mnist/`` with the
four IDX gzip files (a data set whose folder is absent is reported as skipped). Each run reads and
decompresses the files and builds the float32 dataset; the best and median of the runs are kept.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

from timing import finish, parser, setup

from minidnn import datasets

SETS = (("mnist", "train"), ("mnist", "test"), ("fashion-mnist", "train"))


def time_load(root: Path, name: str, split: str, repeat: int) -> list[float]:
    """Wall-clock seconds of ``repeat`` loads of one split."""
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        datasets.load(name, split, root=root, download=False)
        seconds.append(time.perf_counter() - start)
    return seconds


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(__doc__)
    p.add_argument("root", nargs="?", type=Path, default=os.environ.get("MINIDNN_DATA"))
    p.add_argument("--repeat", type=int, default=7)
    args = p.parse_args(argv)
    settings = setup(args)
    repeat = 1 if args.tiny else args.repeat
    settings |= {"root": str(args.root) if args.root else None, "repeat": repeat}
    rows = []
    for name, split in SETS[:1] if args.tiny else SETS:
        if args.root is None or not (Path(args.root) / name).is_dir():
            rows.append({"data set": name, "split": split, "skipped": f"no {name}/ in the data folder"})
            print(f"{name:13s} {split:5s}  skipped: no {name}/ in {args.root}")
            continue
        seconds = time_load(Path(args.root), name, split, repeat)
        size = len(datasets.load(name, split, root=args.root, download=False))
        rows.append(
            {
                "data set": name,
                "split": split,
                "samples": size,
                "best_s": min(seconds),
                "median_s": statistics.median(seconds),
                "load": os.getloadavg()[0],
            }
        )
        best, median = min(seconds), statistics.median(seconds)
        print(f"{name:13s} {split:5s}  n={size:6d}  best {best:.3f} s  median {median:.3f} s")
    return finish("datasets_load", settings, rows, args)


if __name__ == "__main__":
    main()
