"""Dependencies point one way: datasets, minidnn -> nlpmodels -> solvers, never back.

The command line (``minidnn.cli`` and ``python -m minidnn``) is the application on top of all four
packages and the one place allowed to import them all; nothing in the library imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("datasets", "minidnn", "nlpmodels", "solvers")
FORBIDDEN = {
    "datasets": {"minidnn", "nlpmodels", "solvers"},
    "minidnn": {"datasets", "nlpmodels", "solvers"},
    "nlpmodels": {"solvers"},
    "solvers": {"datasets"},
}
APPLICATION = ("minidnn/cli", "minidnn/__main__.py")


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def library_files(package: str) -> list[Path]:
    files = sorted((ROOT / package).rglob("*.py"))
    return [f for f in files if not str(f.relative_to(ROOT)).startswith(APPLICATION)]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_points_backwards(package):
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in library_files(package)
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_solvers_see_the_array_backend_but_not_networks():
    for path in library_files("solvers"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("minidnn"):
                assert node.module == "minidnn.backend", f"{path.name} imports {node.module}"
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("minidnn") for a in node.names), path.name


def test_nothing_in_the_library_imports_the_command_line():
    for package in PACKAGES:
        for path in library_files(package):
            text = path.read_text()
            assert "minidnn.cli" not in text and "minidnn import cli" not in text, path
