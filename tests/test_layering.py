"""Dependencies point one way inside the ``minidnn`` namespace, with no exemption list.

- the core (``minidnn/`` less ``cli``) imports none of ``datasets``, ``nlpmodels``, ``solvers``, ``cli``;
- ``minidnn.datasets`` imports nothing else from the project;
- ``minidnn.nlpmodels`` imports the core and ``minidnn.datasets``;
- ``minidnn.solvers`` imports only the NLPModel contract (``minidnn.nlpmodels``) and ``minidnn.backend``;
- ``minidnn.cli`` sits on top and may import everything; nothing imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = "core"
SUBPACKAGES = {"datasets": "datasets", "nlpmodels": "nlpmodels", "solvers": "solvers", "cli": "minidnn/cli"}
ALLOWED = {
    CORE: {CORE},
    "datasets": {"datasets"},
    "nlpmodels": {CORE, "datasets", "nlpmodels"},
    "solvers": {"solvers", "nlpmodels", "minidnn.backend"},
    "cli": {CORE, "datasets", "nlpmodels", "solvers", "cli"},
}


APPLICATION = ("minidnn/cli/", "minidnn/__main__.py")


def folder_files(part: str) -> list[Path]:
    """The files of one part; ``python -m minidnn`` (``__main__.py``) belongs to the command line."""
    if part == CORE:
        files = (ROOT / "minidnn").rglob("*.py")
        return sorted(p for p in files if not p.relative_to(ROOT).as_posix().startswith(APPLICATION))
    if part == "cli":
        return [*sorted((ROOT / "minidnn/cli").rglob("*.py")), ROOT / "minidnn/__main__.py"]
    return sorted((ROOT / SUBPACKAGES[part]).rglob("*.py"))


def part_of(module: str) -> str | None:
    """The part of the project a module name belongs to, or None outside the project."""
    names = module.split(".")
    if names[0] in SUBPACKAGES and names[0] != "cli":
        raise AssertionError(f"top-level import of {module!r}: use minidnn.{module}")
    if names[0] != "minidnn":
        return None
    if len(names) > 1 and names[1] in SUBPACKAGES:
        return names[1]
    if module == "minidnn.backend":
        return "minidnn.backend"
    return CORE


def imported_parts(path: Path) -> set[str]:
    """Every part of the project a file imports; ``from minidnn import x`` counts x's part."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(part_of(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "minidnn":
                found.update(part_of(f"minidnn.{alias.name}") for alias in node.names)
            else:
                found.add(part_of(node.module))
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            raise AssertionError(f"{path}: relative import; the layering test reads absolute ones")
    return found - {None}


@pytest.mark.parametrize("part", [CORE, *SUBPACKAGES])
def test_imports_point_one_way(part):
    offenders = {}
    for path in folder_files(part):
        found = imported_parts(path)
        if part != "solvers":  # the backend is part of the core; solvers may use it alone
            found = {CORE if name == "minidnn.backend" else name for name in found}
        bad = sorted(found - ALLOWED[part])
        if bad:
            offenders[str(path.relative_to(ROOT))] = bad
    assert offenders == {}


def test_every_project_file_is_checked():
    checked = {p for part in [CORE, *SUBPACKAGES] for p in folder_files(part)}
    every = {
        p for folder in ("minidnn", "datasets", "nlpmodels", "solvers") for p in (ROOT / folder).rglob("*.py")
    }
    assert every == checked


def test_nothing_in_the_library_names_the_command_line():
    for part in (CORE, "datasets", "nlpmodels", "solvers"):
        for path in folder_files(part):
            text = path.read_text()
            assert "minidnn.cli" not in text and "minidnn import cli" not in text, path
