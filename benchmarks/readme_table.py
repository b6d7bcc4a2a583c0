"""The README's speed tables, generated from the JSON file that ``run_all.py`` writes (never by hand).

Markdown on standard output: gradient and HVP speed beside PyTorch CPU per batch size (PyTorch time
/ minidnn time: above 1, minidnn is faster; minidnn's milliseconds where PyTorch was absent), the
tiny-model call floor, one epoch of Adam, peak memory, and the batch split against per-op
threading, each with the machine, the thread count and the load average seen while measuring.

    python benchmarks/readme_table.py results.json [--json PATH]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def _cell(row: dict[str, Any]) -> str:
    if row.get("ratio") is not None:
        return f"{row['ratio']:.2f}x"
    return f"{row['minidnn_s'] * 1e3:.2f} ms"


def _loads(rows: list[dict[str, Any]]) -> str:
    loads = [load for row in rows for load in row.get("load", [])]
    return f"{min(loads):.1f}-{max(loads):.1f}" if loads else "n/a"


def _setting(result: dict[str, Any]) -> str:
    settings, host = result.get("settings", {}), result.get("machine", {})
    torch = settings.get("torch")
    threads = settings.get("threads", "?")
    return (
        f"{host.get('cores', '?')} cores, numpy {host.get('numpy', '?')}"
        f"{f', PyTorch {torch}' if torch else ', PyTorch absent'}, BLAS threads: {threads}, "
        f"allocator: {settings.get('allocator', '?')}"
    )


def networks_table(result: dict[str, Any]) -> str:
    rows = [row for row in result["results"] if row["batch"] != 1 or not row["network"].startswith("tiny")]
    batches = sorted({row["batch"] for row in rows})
    absent = all(row.get("ratio") is None for row in rows)
    what = "minidnn time per call" if absent else "PyTorch time / minidnn time (above 1: minidnn faster)"
    lines = [
        f"Gradient (`objgrad`) and Hessian-vector product (`hprod`), float32: {what}.",
        "",
        "| | " + " | ".join(f"batch {b}" for b in batches) + " |",
        "|---|" + "---:|" * len(batches),
    ]
    for network in dict.fromkeys(row["network"] for row in rows):
        for quantity in ("gradient", "hvp"):
            cells = {
                row["batch"]: _cell(row)
                for row in rows
                if row["network"] == network and row["quantity"] == quantity
            }
            label = f"{network} {'gradient' if quantity == 'gradient' else 'HVP'}"
            lines.append(f"| {label} | " + " | ".join(cells.get(b, "") for b in batches) + " |")
    tiny = [row for row in result["results"] if row["network"].startswith("tiny")]
    for row in tiny:
        text = f"{row['network']}, batch 1, objgrad: minidnn {row['minidnn_s'] * 1e6:.0f} us"
        if row.get("torch_s") is not None:
            text += f", PyTorch gradient {row['torch_s'] * 1e6:.0f} us"
        lines += ["", text + "."]
    lines += ["", f"Measured on {_setting(result)}; load average {_loads(result['results'])}."]
    return "\n".join(lines)


def memory_table(result: dict[str, Any]) -> str:
    rows = result["results"]
    sides = [side for side in ("minidnn", "torch") if f"{side}_peak_mib" in rows[0]]
    lines = [
        "Peak resident memory, LeNet, MiB (in parentheses: what the calls add to the memory after setup).",
        "",
        "| | " + " | ".join("PyTorch" if s == "torch" else s for s in sides) + " |",
        "|---|" + "---:|" * len(sides),
    ]
    for row in rows:
        cells = [f"{row[f'{s}_peak_mib']:.0f} (+{row[f'{s}_added_mib']:.0f})" for s in sides]
        lines.append(f"| {row['quantity']}, batch {row['batch']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def batch_split_table(result: dict[str, Any]) -> str:
    rows = result["results"]
    parts = result.get("settings", {}).get("parts", "?")
    lines = [
        f"Both cores beyond the products: per-op threading ({parts} BLAS threads) against the batch split "
        f"into {parts} chunks on as many threads, and serial (milliseconds per call).",
        "",
        "| | per-op | split | serial | per-op / split |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        times = " | ".join(f"{row[f'{way}_s'] * 1e3:.1f}" for way in ("per-op", "split", "serial"))
        label = f"{row['network']} {row['quantity']}, batch {row['batch']}"
        lines.append(f"| {label} | {times} | {row['split_speedup_over_per_op']:.2f}x |")
    lines += ["", f"Load average {_loads(rows)}."]
    return "\n".join(lines)


def adam_epoch_table(result: dict[str, Any]) -> str:
    r, settings = result["results"], result.get("settings", {})
    text = (
        f"One epoch of Adam, MLP 784-300-100-10, batch {settings.get('batch', '?')}, "
        f"{settings.get('data', '?')}: minidnn {r['median_s']['minidnn']:.2f} s"
    )
    if r.get("ratio") is not None:
        text += f", a `torch.optim.Adam` loop {r['median_s']['torch']:.2f} s ({r['ratio']:.2f}x)"
    loads = r.get("load", [])
    load = f"{min(loads):.1f}-{max(loads):.1f}" if loads else "n/a"
    return text + f"; median of {settings.get('rounds', '?')} interleaved epochs, load average {load}."


TABLES = {
    "networks": networks_table,
    "adam_epoch": adam_epoch_table,
    "memory": memory_table,
    "batch_split": batch_split_table,
}
"""Benchmark name: the function that makes its table from its result."""


def tables(gathered: dict[str, Any]) -> str:
    """The Markdown tables of every benchmark present in ``gathered`` (``run_all.py``'s dict)."""
    parts = []
    for name, make in TABLES.items():
        result = gathered.get("benchmarks", {}).get(name)
        if result is None:
            continue
        if "error" in result or not result.get("results"):
            parts.append(f"({name}: no result: {result.get('error', 'empty')})")
            continue
        parts.append(make(result))
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", type=Path, help="the JSON file written by run_all.py --json")
    p.add_argument("--json", type=Path, help="also write {'markdown': ...} to this file")
    args = p.parse_args(argv)
    markdown = tables(json.loads(args.results.read_text()))
    print(markdown)
    out = {"benchmark": "readme_table", "source": str(args.results), "markdown": markdown}
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return out


if __name__ == "__main__":
    main()
