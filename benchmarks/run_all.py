"""Every benchmark in one go, each in its own process, gathered into one JSON file.

Each script runs in a fresh process (one script's threads, caches and allocator state do not skew
the next) with ``--json`` pointing at a file of its own; the results are gathered under their script
names with the machine and the command, written to ``--json PATH``, and summed up as the README's
speed tables (``readme_table.py``). The options ``--tiny``, ``--threads``, ``--no-torch`` and
``--retain-freed-memory`` are handed to every script. A script that fails or times out is recorded
with its error and the last lines of its output.

    python benchmarks/run_all.py --json results.json [--only networks,memory] [--timeout S] [--tiny]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from readme_table import tables
from timing import machine

HERE = Path(__file__).resolve().parent

SCRIPTS = {
    "networks": "gradient and HVP throughput per batch size, tiny-model call floor",
    "adam_epoch": "one epoch of Adam against a torch.optim loop",
    "memory": "peak resident memory of LeNet gradients and HVPs",
    "batch_split": "the batch split across threads against per-op threading",
    "conv_ops": "convolution and pooling",
    "hvp_ratio": "HVP cost against the gradient",
    "model_overhead": "NeuralNetModel over the bare network",
    "solver_cost": "solver cost per iteration",
    "datasets_load": "data loading",
    "solvers_vs_scipy": "iterations against SciPy",
    "quasi_newton_update": "an L-BFGS update against a two-loop product",
    "mpi_scaling": "strong scaling over MPI ranks (mpi extra)",
}
"""Script name: what it measures (the order they run in)."""


def run(name: str, options: list[str], timeout: float, folder: Path) -> dict[str, Any]:
    """Runs ``benchmarks/<name>.py``, echoing its output; its result dict, or its error."""
    out = folder / f"{name}.json"
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, str(HERE / f"{name}.py"), *options, "--json", str(out)],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"stopped after {timeout:g} s", "seconds": time.perf_counter() - start}
    print(done.stdout, end="", flush=True)
    if done.returncode or not out.is_file():
        tail = (done.stdout + done.stderr).strip().splitlines()[-20:]
        print("\n".join(tail), flush=True)
        return {
            "error": f"exit code {done.returncode}",
            "output": tail,
            "seconds": time.perf_counter() - start,
        }
    result = json.loads(out.read_text())
    result["seconds"] = time.perf_counter() - start
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", type=Path, help="write the gathered results to this file")
    p.add_argument("--only", help="comma-separated script names (default: all)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per script")
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--retain-freed-memory", action="store_true")
    args = p.parse_args(argv)
    names = args.only.split(",") if args.only else list(SCRIPTS)
    unknown = [name for name in names if name not in SCRIPTS]
    if unknown:
        p.error(f"unknown benchmark(s) {', '.join(unknown)}; valid: {', '.join(SCRIPTS)}")
    options = ["--threads", str(args.threads)]
    options += [flag for flag, on in (("--tiny", args.tiny), ("--no-torch", args.no_torch),
                                      ("--retain-freed-memory", args.retain_freed_memory)) if on]  # fmt: skip
    gathered: dict[str, Any] = {"machine": machine(), "options": options, "benchmarks": {}}
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            print(f"\n=== {name}: {SCRIPTS[name]} (benchmarks/{name}.py)", flush=True)
            gathered["benchmarks"][name] = run(name, options, args.timeout, Path(folder))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(gathered, indent=1) + "\n")
    print("\n=== summary\n" + tables(gathered), flush=True)
    return gathered


if __name__ == "__main__":
    main()
