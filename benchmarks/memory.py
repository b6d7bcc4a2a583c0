"""Peak resident memory of LeNet (431,080 parameters) gradients and HVPs, beside PyTorch CPU.

Each figure comes from its own process (peak resident set size: ``VmHWM`` of /proc/self/status on
Linux, where ``ru_maxrss`` would count the parent's peak inherited through fork and exec, else
``ru_maxrss``): the network and one batch are set up, then three calls run. Reported: the peak, and the
peak less the resident memory after setup (what the calls themselves add; PyTorch's import alone is
larger than NumPy's, so the growth is the fairer comparison). Batch 128 and 1024, float32. Memory
does not depend on the machine's load.

    python benchmarks/memory.py [--json PATH] [--tiny] [--batches 128,1024]
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from timing import finish, parser, setup, torch_or_none

QUANTITIES = ("objgrad", "hprod")


def resident_kib() -> int:
    """Peak resident memory of this process so far, in KiB (see the module docstring)."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


def minidnn_call(quantity: str, batch: int) -> Any:
    from minidnn.datasets import from_arrays
    from minidnn.nlpmodels import NeuralNetModel

    from minidnn import models

    rng = np.random.default_rng(0)
    data = from_arrays(
        rng.random((batch, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, batch), classes=10
    )
    nlp = NeuralNetModel(models.lenet_knet(), data, batch_size=batch, shuffle=False)
    w = nlp.meta.x0.copy()
    v = rng.standard_normal(nlp.meta.nvar).astype(np.float32)
    return (lambda: nlp.objgrad(w)) if quantity == "objgrad" else (lambda: nlp.hprod(w, v))


def torch_call(quantity: str, batch: int) -> Any:
    import torch
    from networks import torch_network

    torch.manual_seed(0)
    net = torch_network(torch, "LeNet")
    params = list(net.parameters())
    rng = np.random.default_rng(0)
    x, y = (
        torch.tensor(rng.random((batch, 1, 28, 28), dtype=np.float32)),
        torch.tensor(rng.integers(0, 10, batch)),
    )
    vs = [torch.randn_like(p) for p in params]

    def objgrad():
        loss = torch.nn.functional.cross_entropy(net(x), y)
        return float(loss), torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params)])

    def hprod():
        gs = torch.autograd.grad(torch.nn.functional.cross_entropy(net(x), y), params, create_graph=True)
        return torch.cat([h.reshape(-1) for h in torch.autograd.grad(gs, params, vs)])

    return objgrad if quantity == "objgrad" else hprod


def child(side: str, quantity: str, batch: int, threads: int) -> None:
    """Runs in its own process: sets up, measures, prints one JSON line."""
    if side == "torch":
        import torch

        torch.set_num_threads(threads)
        call = torch_call(quantity, batch)
    else:
        from minidnn import backend

        backend.set_threads(threads)
        call = minidnn_call(quantity, batch)
    setup_kib = resident_kib()
    for _ in range(3):
        call()
    print(json.dumps({"peak_kib": resident_kib(), "setup_kib": setup_kib}))


def measure(side: str, quantity: str, batch: int, threads: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", side, quantity, str(batch), str(threads)],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "peak_mib": figures["peak_kib"] / 1024,
        "added_mib": (figures["peak_kib"] - figures["setup_kib"]) / 1024,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(__doc__)
    p.add_argument("--batches", default="128,1024")
    args = p.parse_args(argv)
    settings = setup(args)
    torch = torch_or_none(args)
    batches = (2,) if args.tiny else tuple(int(b) for b in args.batches.split(","))
    settings |= {
        "network": "LeNet 431,080",
        "batches": batches,
        "torch": torch.__version__ if torch else None,
    }
    sides = ("minidnn", "torch") if torch else ("minidnn",)
    rows = []
    for batch in batches:
        for quantity in QUANTITIES:
            row: dict[str, Any] = {"batch": batch, "quantity": quantity}
            for side in sides:
                figures = measure(side, quantity, batch, args.threads)
                row |= {f"{side}_{key}": value for key, value in figures.items()}
            rows.append(row)
            text = f"LeNet batch {batch:5d} {quantity:8s}"
            for side in sides:
                text += (
                    f"   {side} peak {row[f'{side}_peak_mib']:7.1f} MiB (+{row[f'{side}_added_mib']:6.1f})"
                )
            print(text, flush=True)
    return finish("memory", settings, rows, args)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        side, quantity, batch, threads = sys.argv[2:6]
        child(side, quantity, int(batch), int(threads))
    else:
        main()
