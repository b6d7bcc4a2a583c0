"""The README's speed tables, generated from the JSON file that ``run_all.py`` writes (never by hand).

Markdown on standard output: gradient and HVP speed beside PyTorch CPU per batch size (PyTorch time
/ minidnn time: above 1, minidnn is faster; minidnn's milliseconds where PyTorch was absent), the
tiny-model call floor, one epoch of Adam, peak memory, and the batch split against per-op
threading, each with the machine, the thread count and the load average seen while measuring.

    python benchmarks/readme_table.py results.json [--json PATH] [--readme README.md]
        [--compare compare.json] [--compare-average compare.json]

With ``--readme``, the tables replace what stands between the README's two marker lines of the
speed region (``REGIONS`` below); ``benchmarks/results.json`` is the file the README's tables come
from, and a test checks that they are still what it generates. ``--compare`` adds the test accuracy
of each solver of a ``minidnn compare`` run at 5, 10 and 30 s (``docs/compare/compare.json`` for
the README's compare region), ``--compare-average`` that of a run with ``--option average=β``
(``docs/compare/average/compare.json``, the compare_average region).
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
        f"{settings.get('data', '?')}: minidnn {r['minidnn_s']:.2f} s"
    )
    if r.get("ratio") is not None:
        text += f", a `torch.optim.Adam` loop {r['torch_s']:.2f} s ({r['ratio']:.2f}x)"
    return text + (
        f"; median of {settings.get('rounds', '?')} interleaved epochs, load average {_loads([r])}."
    )


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


REGIONS = {
    "speed": "the speed tables, generated by benchmarks/readme_table.py from benchmarks/results.json",
    "compare": "the compare table, generated by benchmarks/readme_table.py from docs/compare/compare.json",
    "compare_average": "the compare table with averaged iterates, generated by benchmarks/readme_table.py "
    "from docs/compare/average/compare.json",
}
"""The README's generated regions: name -> what its opening marker line says."""

COMPARE_TIMES = (5.0, 10.0, 30.0)


def markers(region: str) -> tuple[str, str]:
    """The opening and closing marker lines of a README region."""
    return f"<!-- begin: {REGIONS[region]} -->", f"<!-- end: {region} -->"


def readme_region(text: str, region: str = "speed") -> tuple[int, int]:
    """(start, stop) of a generated region in the README's ``text``: between its marker lines."""
    begin, end = markers(region)
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise ValueError(f"the README has no region between {begin!r} and {end!r}")
    return start + len(begin) + 1, stop


def write_into_readme(path: Path, markdown: str, region: str = "speed") -> None:
    """Replaces a generated region of the README with ``markdown`` (the file is rewritten whole)."""
    text = path.read_text()
    start, stop = readme_region(text, region)
    path.write_text(text[:start] + markdown + "\n" + text[stop:])


def _accuracy_at(curve: dict[str, list[float]], t: float) -> str:
    """The test accuracy of the copy taken nearest to solver time ``t`` (and within 1 s of it)."""
    times, accuracies = curve["time"], curve["accuracy"]
    nearest = min(range(len(times)), key=lambda i: abs(times[i] - t))
    return f"{accuracies[nearest]:.4f}" if abs(times[nearest] - t) <= 1.0 else ""


def compare_table(record: dict[str, Any]) -> str:
    """Each solver's test accuracy at 5, 10 and 30 s of a ``minidnn compare`` record, with its
    iterations, epochs and the load it ran under."""
    settings = record["settings"]
    heads = " | ".join(f"{t:g} s" for t in COMPARE_TIMES)
    lines = [f"| solver | {heads} | iterations | epochs |", "|---|" + "---:|" * (len(COMPARE_TIMES) + 2)]
    for name, result in record["results"].items():
        cells = " | ".join(_accuracy_at(result["curve"], t) for t in COMPARE_TIMES)
        epochs = result["epochs"]
        epochs_cell = f"{epochs:g}" if float(epochs).is_integer() else f"{epochs:.2f}"
        lines.append(f"| {name} | {cells} | {result['iterations']} | {epochs_cell} |")
    loads = [result["load"] for result in record["results"].values() if result.get("load") is not None]
    measured = f"; load average {min(loads):.1f}-{max(loads):.1f} at the end of the runs" if loads else ""
    decays = {result.get("options", {}).get("average") for result in record["results"].values()}
    decay = decays.pop() if len(decays) == 1 else None
    averaged = "" if decay is None else f", at the average of the iterates (`--option average={decay:g}`)"
    lines += [
        "",
        f"Test accuracy of {settings['model']} on {settings['dataset']}{averaged}, batch "
        f"{settings['batch_size']}, {settings['max_time']:g} s of solver time each, BLAS threads: "
        f"{settings['threads'] or 'default'}{measured}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", type=Path, help="the JSON file written by run_all.py --json")
    p.add_argument("--json", type=Path, help="also write {'markdown': ...} to this file")
    p.add_argument("--readme", type=Path, help="write the tables into this README's marked regions")
    p.add_argument("--compare", type=Path, help="a compare.json of minidnn compare: its table too")
    p.add_argument(
        "--compare-average", type=Path, help="a compare.json of a run with --option average=β: its table too"
    )
    args = p.parse_args(argv)
    markdown = tables(json.loads(args.results.read_text()))
    print(markdown)
    compared = {
        region: compare_table(json.loads(path.read_text()))
        for region, path in (("compare", args.compare), ("compare_average", args.compare_average))
        if path is not None
    }
    for table in compared.values():
        print("\n" + table)
    if args.readme is not None:
        write_into_readme(args.readme, markdown, "speed")
        for region, table in compared.items():
            write_into_readme(args.readme, table, region)
    out = {"benchmark": "readme_table", "source": str(args.results), "markdown": markdown}
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return out


if __name__ == "__main__":
    main()
