"""Every speed benchmark in one go, each in its own process, then a summary of the key ratios.

Sections: network throughput (gradient, HVP, the tiny-model call floor) and the HVP/gradient ratio
beside PyTorch CPU, what NeuralNetModel adds to the bare network, convolution and pooling beside
PyTorch, solver cost per iteration (model vs solver share, beside torch.optim), data loading, and
iterations against SciPy's L-BFGS-B and trust-ncg. PyTorch and SciPy comparisons appear when they
import in the interpreter that runs this script. Each script runs in a fresh process, so one
script's threads and caches do not skew the next.

    python benchmarks/run_all.py [--only NAME,...] [--timeout S]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from timing import machine, torch_or_none

HERE = Path(__file__).resolve().parent


def _containing(*words: str) -> Callable[[list[str]], list[str]]:
    """A summary that keeps the lines holding any of ``words``."""
    return lambda lines: [line for line in lines if any(word in line for word in words)]


def _scipy_ratios(lines: list[str]) -> list[str]:
    """The median iteration ratio of each pair of the SciPy table (ours / SciPy's)."""
    titles = next((line for line in lines if line.startswith("problem")), None)
    rows = [line for line in lines if line.count(" | ") >= 2 and not line.startswith("problem")]
    if titles is None or not rows:
        return []
    pairs = [" ".join(part.split()[:2]) for part in titles.split("|")[1:]]
    summary = []
    for k, pair in enumerate(pairs, start=1):
        ratios = [float(row.split("|")[k].split()[-1]) for row in rows]
        summary.append(
            f"{pair}: median iteration ratio {statistics.median(ratios):.2f} over {len(ratios)} problems"
        )
    return summary


SCRIPTS: dict[str, tuple[str, Callable[[list[str]], list[str]]]] = {
    "networks": ("network throughput, HVP, tiny-model call floor", _containing("ratio", "HVP / gradient")),
    "hvp_ratio": ("HVP cost against the gradient", _containing("x gradient")),
    "model_overhead": ("NeuralNetModel over the bare network", _containing("overhead")),
    "conv_ops": ("convolution and pooling", _containing("minidnn/torch")),
    "solver_cost": ("solver cost per iteration", _containing("summary")),
    "datasets_load": ("data loading", _containing("best", "skipped")),
    "solvers_vs_scipy": ("iterations against SciPy", _scipy_ratios),
}
"""Script name: (what it measures, how to pick its summary lines)."""


def run(name: str, timeout: float, extra: list[str]) -> tuple[list[str], float]:
    """Runs ``benchmarks/<name>.py``, echoing its output as it comes; returns its lines and seconds."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(HERE / f"{name}.py"), *extra],
        cwd=HERE.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        for line in process.stdout:
            print(line, end="", flush=True)
            lines.append(line.rstrip("\n"))
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        lines.append(f"(stopped after {timeout:g} s)")
    if process.returncode:
        lines.append(f"(exit code {process.returncode})")
    return lines, time.perf_counter() - start


def versions() -> str:
    """Which comparisons are possible here."""
    torch = torch_or_none()
    try:
        import scipy

        scipy_text = f"SciPy {scipy.__version__}"
    except ImportError:
        scipy_text = "SciPy absent"
    torch_text = (
        f"PyTorch {torch.__version__} (CPU, 2 threads)" if torch else "PyTorch absent (no PyTorch ratios)"
    )
    return f"{torch_text}; {scipy_text}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(SCRIPTS)}")
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds allowed per script (default 900)"
    )
    parser.add_argument(
        "--default-allocator",
        action="store_true",
        help="run every script under glibc's default allocator instead of retaining freed memory",
    )
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",")] if args.only else list(SCRIPTS)
    unknown = [name for name in chosen if name not in SCRIPTS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; valid: {', '.join(SCRIPTS)}")
    command = f"{sys.executable} benchmarks/run_all.py" + (f" --only {args.only}" if args.only else "")
    command += " --default-allocator" if args.default_allocator else ""
    print(machine())
    print(versions())
    print(f"reproduce: cd {HERE.parent} && {command}")
    summaries = {}
    for name in chosen:
        what, pick = SCRIPTS[name]
        print(f"\n=== {name}: {what} (benchmarks/{name}.py)", flush=True)
        if not (HERE / f"{name}.py").is_file():
            print("absent in this checkout")
            continue
        lines, seconds = run(name, args.timeout, ["--default-allocator"] if args.default_allocator else [])
        summaries[name] = (pick(lines) or ["(no summary lines)"], seconds)
    print("\n=== summary (minidnn beside PyTorch CPU and SciPy where they import)")
    for name, (lines, seconds) in summaries.items():
        print(f"{name} ({seconds:.0f} s):")
        for line in lines:
            print("    " + " ".join(line.split()))
    print(f"reproduce: cd {HERE.parent} && {command}")


if __name__ == "__main__":
    main()
