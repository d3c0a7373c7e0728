"""Structural rules: pure domain code, small modules, a matching __all__."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import greenloop

SRC = Path(greenloop.__file__).resolve().parent
FORBIDDEN_IN_DOMAIN = (
    "httpx",
    "sqlalchemy",
    "alembic",
    "starlette",
    "uvicorn",
    "typer",
    "click",
    "greenloop.store",
    "greenloop.lightspeed",
    "greenloop.web",
    "greenloop.cli",
    "greenloop.sync",
    "greenloop.simulator",
    "greenloop.analytics",
    "greenloop.services",
    "greenloop.runtime",
    "psycopg",
    "sqlite3",
)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_domain_imports_no_io() -> None:
    files = list((SRC / "domain").rglob("*.py"))
    assert files
    for path in files:
        for name in _imports(path):
            assert not name.startswith(FORBIDDEN_IN_DOMAIN), f"{path.name} imports {name}"


def test_no_module_over_800_lines() -> None:
    for path in SRC.rglob("*.py"):
        if "migrations/versions" in str(path):
            continue
        assert len(path.read_text().splitlines()) <= 800, path


@pytest.mark.parametrize(
    "module",
    [m.name for m in pkgutil.walk_packages([str(SRC)], "greenloop.") if "migrations" not in m.name],
)
def test_all_lists_only_real_public_names(module: str) -> None:
    mod = importlib.import_module(module)
    exported = getattr(mod, "__all__", None)
    if exported is None:
        return
    for name in exported:
        assert hasattr(mod, name), f"{module}.__all__ names missing {name}"
