"""The packages import each other only as ARCHITECTURE.md draws it, and never in a circle.

The allowed imports are read from the table in ``ARCHITECTURE.md`` itself, so the document
cannot drift from the code: a new import that the table does not allow fails here, and so does
a table row that names a package which no longer exists.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "citybrain"
_ROW = re.compile(r"^\|\s*`(\w+)`\s*\|\s*(.*?)\s*\|$")


def _allowed() -> dict[str, set[str]]:
    """``package -> packages it may import``, from the table between the markers."""
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    table = text.split("<!-- imports:begin -->", 1)[1].split("<!-- imports:end -->", 1)[0]
    allowed: dict[str, set[str]] = {}
    for line in table.splitlines():
        if match := _ROW.match(line.strip()):
            allowed[match.group(1)] = set(re.findall(r"`(\w+)`", match.group(2)))
    return allowed


def _top(module: str) -> str | None:
    """The package of ``citybrain.<package>...`` (``None`` for ``citybrain`` itself)."""
    parts = module.split(".")
    return parts[1] if parts[0] == "citybrain" and len(parts) > 1 else None


def _imports() -> dict[str, dict[str, list[str]]]:
    """``package -> imported package -> files that import it`` (function-level imports too)."""
    found: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        package = relative.parts[0].removesuffix(".py")
        if package == "__init__":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                target = _top(name)
                if target is not None and target != package:
                    found[package][target].append(str(relative))
    return found


def test_every_package_is_in_the_table() -> None:
    packages = {
        p.name.removesuffix(".py")
        for p in PACKAGE.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py")
    } - {"__init__"}
    allowed = _allowed()
    assert packages - set(allowed) == set(), "add these packages to ARCHITECTURE.md's table"
    assert set(allowed) - packages == set(), "ARCHITECTURE.md names packages that do not exist"


def test_imports_follow_the_table() -> None:
    allowed = _allowed()
    wrong = [
        f"{package} imports {target} (in {', '.join(sorted(set(files)))})"
        for package, targets in sorted(_imports().items())
        for target, files in sorted(targets.items())
        if target not in allowed.get(package, set())
    ]
    assert wrong == []


def test_the_table_and_the_code_have_no_cycle() -> None:
    for graph in (_allowed(), {p: set(t) for p, t in _imports().items()}):
        try:
            tuple(TopologicalSorter(graph).static_order())
        except CycleError as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"import cycle between packages: {' -> '.join(exc.args[1])}")
