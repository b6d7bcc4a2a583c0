"""Strong scaling over MPI ranks: full-batch LeNet (``models.lenet_knet()``, 431,080 parameters) objgrad
and hprod on a fixed set of training samples, from 1 rank to more, one BLAS thread per rank.

For each rank count P the script launches ``mpiexec -n P`` on itself (``OMP_NUM_THREADS`` and
``OPENBLAS_NUM_THREADS`` set to 1) and records, per call: the wall time of ``objgrad`` and of
``hprod`` (median and best of ``--calls`` calls after one warm-up, each call started after a
barrier), and the communication alone: the same fixed-order sum of n + 1 float32 values that a call
makes, timed apart, after a barrier. Speedup is T(1)/T(P), efficiency T(1)/(P T(P)). The load
average of the machine is recorded before and after each launch: on a shared machine the figures
mean little without it.

Data: MNIST's training set from ``$MINIDNN_DATA`` (no download), the first ``--samples`` images;
without it, the shipped 8x8 digits, each pixel repeated 3x3 and padded to 28x28 (the same cost per
sample). ``--samples 0`` (the default) picks the largest multiple of 100 samples whose 1-rank
objgrad takes about ``--seconds`` seconds.

    python benchmarks/mpi_scaling.py [--ranks 1,2] [--samples N] [--seconds S] [--calls K] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from minidnn.datasets import DatasetError, from_arrays
from minidnn.nlpmodels import NeuralNetModel, distributed
from timing import machine
from timing import parser as common_parser

from minidnn import datasets, models

HERE = Path(__file__).resolve()
CALIBRATION_SAMPLES = 200


def training_data(samples: int):
    """(the first ``samples`` training images as a Dataset, a description of where they come from)."""
    try:
        data, source = datasets.load("mnist", download=False), "MNIST training set"
    except (DatasetError, OSError):
        digits = datasets.load("digits")
        repeated = np.kron(digits.x, np.ones((1, 1, 3, 3), np.float32))
        images = np.pad(repeated, ((0, 0), (0, 0), (2, 2), (2, 2)))
        data = from_arrays(images, digits.y, classes=digits.classes, name="digits-28x28")
        source = "digits, 8x8 pixels repeated 3x3 and padded to 28x28 (MNIST not found in $MINIDNN_DATA)"
    count = min(samples, len(data))
    part = from_arrays(data.x[:count], data.y[:count], classes=data.classes, name=data.name)
    return part, f"{source}, first {count} of {len(data)}"


def timed(comm, call, calls: int) -> list[float]:
    """Wall times of ``calls`` calls after one warm-up, each started after a barrier (rank 0's clock)."""
    call()
    times = []
    for _ in range(calls):
        comm.Barrier()
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def worker(samples: int, seconds: float, calls: int) -> None:
    """One rank of a launch; rank 0 prints its figures as one JSON line."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    if samples == 0:
        samples = calibrated_samples(comm, seconds)
    train, source = training_data(samples)
    nlp = NeuralNetModel(models.lenet_knet(), train, full_batch=True, eval_batch_size=500, comm=comm)
    x = nlp.meta.x0
    v = np.cos(np.arange(nlp.meta.nvar)).astype(np.float32)
    objgrad = timed(comm, lambda: nlp.objgrad(x), calls)
    hprod = timed(comm, lambda: nlp.hprod(x, v), calls)
    ranks = distributed.Ranks(comm, "mpi_scaling")
    buffer = np.ones(nlp.meta.nvar + 1, np.float32)
    reduction = timed(comm, lambda: ranks.sum(buffer), max(calls, 10))
    if comm.Get_rank() == 0:
        figures = {
            "ranks": comm.Get_size(),
            "samples": len(train),
            "data": source,
            "nvar": nlp.meta.nvar,
            "objgrad_s": summary(objgrad),
            "hprod_s": summary(hprod),
            "reduction_s": summary(reduction),
        }
        print(json.dumps(figures))


def calibrated_samples(comm, seconds: float) -> int:
    """The multiple of 100 samples whose objgrad takes about ``seconds`` on this rank count."""
    train, _ = training_data(CALIBRATION_SAMPLES)
    nlp = NeuralNetModel(models.lenet_knet(), train, full_batch=True, comm=comm)
    per_sample = min(timed(comm, lambda: nlp.objgrad(nlp.meta.x0), 2)) * comm.Get_size() / len(train)
    return max(100, int(seconds / per_sample) // 100 * 100)


def summary(times: list[float]) -> dict[str, float]:
    return {"median": statistics.median(times), "best": min(times)}


def launch(ranks: int, samples: int, seconds: float, calls: int, timeout: float) -> dict:
    """One ``mpiexec -n ranks`` run of this script's worker, with the load average around it."""
    mpiexec = Path(sys.executable).parent / "mpiexec"
    command = [str(mpiexec if mpiexec.is_file() else "mpiexec"), "-n", str(ranks), sys.executable]
    command += [str(HERE), "--worker", "--samples", str(samples), "--seconds", str(seconds)]
    command += ["--calls", str(calls)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    load_before = os.getloadavg()[0]
    job = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    if job.returncode != 0:
        raise RuntimeError(f"mpiexec -n {ranks} failed ({job.returncode}):\n{job.stderr[-3000:]}")
    figures = json.loads(job.stdout.strip().splitlines()[-1])
    figures["load_average_1min"] = {"before": load_before, "after": os.getloadavg()[0]}
    return figures


def main(argv: list[str] | None = None) -> dict:
    """Runs the launches, prints a table, returns (and with ``--json`` writes) the figures."""
    parser = common_parser(__doc__)
    parser.add_argument("--ranks", default="1,2", help="rank counts, comma-separated, starting at 1")
    parser.add_argument("--samples", type=int, default=0, help="training samples (0: calibrate)")
    parser.add_argument("--seconds", type=float, default=3.0, help="target 1-rank objgrad time")
    parser.add_argument("--calls", type=int, default=3, help="timed calls per figure")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per launch")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tiny:
        args.samples, args.calls = 100, 1
    if args.worker:
        worker(args.samples, args.seconds, args.calls)
        return {}
    counts = [int(p) for p in args.ranks.split(",")]
    if counts[0] != 1:
        raise ValueError(f"--ranks must start at 1 (the reference), got {args.ranks!r}")
    runs = [launch(1, args.samples, args.seconds, args.calls, args.timeout)]
    samples = runs[0]["samples"]
    runs += [launch(p, samples, args.seconds, args.calls, args.timeout) for p in counts[1:]]
    for run in runs:
        for call in ("objgrad", "hprod"):
            one, this = runs[0][f"{call}_s"]["median"], run[f"{call}_s"]["median"]
            run[f"{call}_speedup"] = one / this
            run[f"{call}_efficiency"] = one / (run["ranks"] * this)
    result = {
        "benchmark": "mpi_scaling",
        "model": "lenet_knet, full batch, float32",
        "data": runs[0]["data"],
        "machine": machine(),
        "per_sample_s": {c: runs[0][f"{c}_s"]["median"] / samples for c in ("objgrad", "hprod")},
        "runs": runs,
        "settings": {"tiny": bool(args.tiny), "threads": 1, "ranks": counts, "samples": samples},
        "results": runs,
    }
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return result


def print_table(result: dict) -> None:
    print(f"{result['model']}; {result['data']}\n{result['machine']}")
    print("ranks  call      median s    best s  speedup  efficiency  reduction ms  load before/after")
    for run in result["runs"]:
        load = run["load_average_1min"]
        for call in ("objgrad", "hprod"):
            times = run[f"{call}_s"]
            print(
                f"{run['ranks']:5d}  {call:8s} {times['median']:9.3f} {times['best']:9.3f} "
                f"{run[f'{call}_speedup']:8.2f} {run[f'{call}_efficiency']:11.2f} "
                f"{run['reduction_s']['median'] * 1e3:13.2f}  {load['before']:5.2f} / {load['after']:5.2f}"
            )


if __name__ == "__main__":
    main()
