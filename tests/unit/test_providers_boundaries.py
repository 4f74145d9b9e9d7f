"""providers/ imports nothing from tasks/, storage/, worker/ or sandbox/ (DESIGN.md "Who may import whom"),
and every module stays small."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest

from providers import FetchResult, Outcome

PACKAGE = Path(__file__).resolve().parents[2] / "providers"
FORBIDDEN = ("tasks", "storage", "worker", "sandbox", "analysis", "monitoring")


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_module_imports_stay_inside_the_boundary(path):
    assert imported_roots(path).isdisjoint(FORBIDDEN)
    assert len(path.read_text().splitlines()) <= 400


def test_summary_is_json_safe_for_an_indefinite_block():
    result = FetchResult("polygon", "tickers", Outcome.DEFERRED, retry_at=math.inf, message="paused")
    summary = result.summary()
    assert summary["retry_at"] is None and summary["blocked_indefinitely"] is True
    finite = FetchResult("polygon", "tickers", Outcome.DEFERRED, retry_at=1800000000.5).summary()
    assert (finite["retry_at"], finite["blocked_indefinitely"]) == (1800000000.5, False)
