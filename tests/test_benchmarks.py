"""Every benchmark script runs at its tiny size and returns (and writes) its result dict; run_all
gathers them and readme_table makes the README tables from the gathered file. PyTorch is never
needed: its side is skipped where it does not import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from minidnn import backend

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
HELPERS = {"timing", "run_all", "readme_table"}
SCRIPTS = sorted(path.stem for path in BENCHMARKS.glob("*.py") if path.stem not in HELPERS)


@pytest.fixture
def scripts(monkeypatch):
    """Imports benchmark scripts as their folder does; the thread counts they set are restored."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    yield lambda name: __import__(name)
    backend.set_threads(None)


def test_the_benchmark_list_is_complete():
    assert {"networks", "memory", "batch_split", "conv_ops", "model_overhead"} <= set(SCRIPTS)
    from_run_all = subprocess.run(
        [sys.executable, "-c", "import run_all; print(','.join(run_all.SCRIPTS))"],
        cwd=BENCHMARKS,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert sorted(from_run_all.split(",")) == SCRIPTS


@pytest.mark.parametrize("name", [s for s in SCRIPTS if s != "mpi_scaling"])  # that one: tests/test_mpi.py
def test_each_script_runs_tiny_and_writes_the_dict_it_returns(scripts, name, tmp_path):
    out = tmp_path / f"{name}.json"
    result = scripts(name).main(["--tiny", "--threads", "1", "--json", str(out)])
    assert result["benchmark"] == name
    assert result["settings"]["tiny"] is True
    assert result["results"]
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))


def test_run_all_gathers_the_results_and_readme_table_prints_the_tables(scripts, tmp_path, capsys):
    gathered_file = tmp_path / "all.json"
    gathered = scripts("run_all").main(
        ["--tiny", "--threads", "1", "--only", "networks,batch_split", "--json", str(gathered_file)]
    )
    assert set(gathered["benchmarks"]) == {"networks", "batch_split"}
    assert all("error" not in result for result in gathered["benchmarks"].values())
    capsys.readouterr()
    table = scripts("readme_table").main([str(gathered_file)])["markdown"]
    assert table in capsys.readouterr().out
    assert "| LeNet 431,080 gradient |" in table and "| MLP 784-300-100-10 HVP |" in table
    assert "per-op / split" in table and "load average" in table


@pytest.mark.parametrize(
    "region, source",
    [
        ("speed", "benchmarks/results.json"),
        ("compare", "docs/compare/compare.json"),
        ("compare_average", "docs/compare/average/compare.json"),
    ],
)
def test_the_readme_tables_are_those_generated_from_their_results_files(scripts, region, source):
    readme_table = scripts("readme_table")
    root = BENCHMARKS.parent
    text = (root / "README.md").read_text()
    start, stop = readme_table.readme_region(text, region)
    record = json.loads((root / source).read_text())
    generated = readme_table.tables(record) if region == "speed" else readme_table.compare_table(record)
    assert text[start:stop].rstrip("\n") == generated


def test_readme_table_writes_only_the_marked_region(scripts, tmp_path):
    readme_table = scripts("readme_table")
    begin, end = readme_table.markers("speed")
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\nbefore\n{begin}\nold table\n{end}\nafter\n")
    readme_table.write_into_readme(readme, "| new | table |")
    assert readme.read_text() == f"# title\n\nbefore\n{begin}\n| new | table |\n{end}\nafter\n"
    readme.write_text("no markers\n")
    with pytest.raises(ValueError, match="no region between"):
        readme_table.write_into_readme(readme, "| new |")
    assert readme.read_text() == "no markers\n"


def test_the_compare_table_gives_the_accuracy_nearest_5_10_and_30_seconds(scripts):
    curve = {"time": [0.0, 5.02, 10.01, 19.9, 30.03], "accuracy": [0.1, 0.5, 0.6, 0.7, 0.8]}
    settings = {"model": "lenet5", "dataset": "mnist", "batch_size": 100, "max_time": 30.0, "threads": 0}
    record = {
        "settings": settings,
        "results": {
            "adam": {"curve": curve, "iterations": 7, "epochs": 2, "load": 0.4},
            "lbfgs": {"curve": {"time": [0.0, 4.0], "accuracy": [0.1, 0.3]}, "iterations": 3, "epochs": 0.25},
        },
    }
    table = scripts("readme_table").compare_table(record)
    assert "| adam | 0.5000 | 0.6000 | 0.8000 | 7 | 2 |" in table
    assert "| lbfgs | 0.3000 |  |  | 3 | 0.25 |" in table
    assert "load average 0.4-0.4" in table
    assert "average of the iterates" not in table
    results = {name: {**result, "options": {"average": 0.98}} for name, result in record["results"].items()}
    averaged = {**record, "results": results}
    caption = scripts("readme_table").compare_table(averaged).splitlines()[-1]
    assert "mnist, at the average of the iterates (`--option average=0.98`), batch 100" in caption
