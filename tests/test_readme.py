"""Every Python block of the README runs on its own, as written, and prints what the README says.

A ``print(...)`` line in a block ends with a comment holding the expected output, where ``...``
stands for any text; the block's printed lines must match those comments in order. Blocks that
read MNIST run with ``MINIDNN_DATA`` pointing at ``$MINIDNN_TEST_DATA`` and skip when it is unset,
so that no test ever downloads.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import real_data_folder

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
PRINT = re.compile(r"^print\(.*\)  # (.*)$")


def python_blocks() -> list[tuple[int, str]]:
    """(line number, source) of each ```python block."""
    text = README.read_text(encoding="utf-8")
    return [(text[: m.start()].count("\n") + 1, m.group(1)) for m in BLOCK.finditer(text)]


def expected_lines(source: str) -> list[str]:
    """The expected output of each top-level print line, from its trailing comment."""
    return [m.group(1) for line in source.splitlines() if (m := PRINT.match(line))]


def matches(expected: str, printed: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, printed.strip()) is not None


BLOCKS = python_blocks()


def test_the_readme_has_python_blocks_and_each_print_states_its_output():
    assert len(BLOCKS) >= 7
    for line, source in BLOCKS:
        prints = [s for s in source.splitlines() if s.startswith("print(")]
        assert len(prints) == len(expected_lines(source)), f"README.md:{line}: a print without its output"


@pytest.mark.parametrize(("line", "source"), BLOCKS, ids=[f"line{line}" for line, _ in BLOCKS])
def test_block_runs_alone_and_prints_what_the_readme_says(line, source, tmp_path):
    env = {**os.environ, "MINIDNN_DATA": str(tmp_path / "no-data"), "PYTHONPATH": ""}
    if '"mnist"' in source:
        env["MINIDNN_DATA"] = str(real_data_folder("mnist").parent)
    done = subprocess.run(
        [sys.executable, "-c", source], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"README.md:{line} failed:\n{done.stderr[-3000:]}"
    printed = done.stdout.splitlines()
    expected = expected_lines(source)
    assert len(printed) == len(expected), f"README.md:{line} printed {printed}, expected {expected}"
    for want, got in zip(expected, printed):
        assert matches(want, got), f"README.md:{line}: printed {got!r}, the README says {want!r}"
