"""The direction of imports: sequelwatch -> crawler, alerts -> pipeline -> config."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# package -> the project packages it must never import
FORBIDDEN = {
    "config": {"pipeline", "crawler", "alerts", "sequelwatch", "scrapy"},
    "pipeline": {"crawler", "alerts", "sequelwatch", "scrapy", "twisted"},
    "alerts": {"crawler", "sequelwatch", "scrapy"},
    "crawler": {"alerts", "sequelwatch"},
}


def imported_roots(path: Path) -> set[str]:
    """The top-level names a module imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_package_imports_a_layer_above_it(package: str) -> None:
    offences = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
    }
    assert {k: v for k, v in offences.items() if v} == {}
