"""``analysis/`` is pure: no storage, Redis, Celery, HTTP, providers, tasks or worker imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import analysis

FORBIDDEN = {
    "aiohttp", "celery", "kombu", "psycopg", "redbeat", "redis", "requests", "sqlalchemy", "urllib",
    "http", "socket", "providers", "ratelimits", "sandbox", "storage", "tasks", "worker", "monitoring",
}  # fmt: skip
MODULES = sorted(Path(analysis.__file__).parent.glob("*.py"))


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_module_imports_nothing_impure(path):
    assert imported_roots(path) & FORBIDDEN == set()


def test_the_scan_sees_imports():
    assert len(MODULES) >= 8
    assert "numpy" in imported_roots(Path(analysis.__file__).parent / "indicators.py")
