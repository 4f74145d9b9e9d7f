"""``tasks/`` holds Celery wrappers only: every task body is 10 lines or fewer over a function of ``jobs/``
(or of a core below it), and no module there is a helper without a task (``tasks/base.py``, the wrapper
every task goes through, aside)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MOST_LINES = 10


def _tasks():
    for path in sorted((ROOT / "tasks").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and any(
                "tickerbeat_task" in ast.unparse(d) for d in node.decorator_list
            ):
                body = node.body[1:] if isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant) else node.body  # fmt: skip
                yield path.name, node.name, body[-1].end_lineno - body[0].lineno + 1


def test_every_task_body_is_a_thin_wrapper():
    found = list(_tasks())
    assert len(found) >= 29  # the reader sees every task
    fat = [f"{file}:{name} ({lines} lines)" for file, name, lines in found if lines > MOST_LINES]
    assert not fat, "task bodies over 10 lines; move the work into jobs/: " + ", ".join(fat)


def test_every_module_in_tasks_defines_tasks():
    with_tasks = {file for file, _, _ in _tasks()}
    helpers = {p.name for p in (ROOT / "tasks").glob("*.py")} - with_tasks - {"__init__.py", "base.py"}
    assert not helpers, f"helpers belong in jobs/: {sorted(helpers)}"
