"""The layering, read from the real imports (those inside functions included): no cycle between packages,
and no import the design forbids. docs/architecture.md draws the same picture.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Every top-level package (and module) of ours.
OURS = ("analysis", "beat_schedule", "dispatch", "jobs", "marketcal", "monitoring", "planning", "providers",
        "ratelimits", "runtime", "sandbox", "stack", "storage", "tasks", "worker")  # fmt: skip
# What each may import of ours (absent: anything that makes no cycle).
ALLOWED: dict[str, set[str]] = {
    "analysis": set(),
    "storage": set(),
    "ratelimits": set(),
    "marketcal": set(),
    "beat_schedule": {"marketcal"},
    "sandbox": {"marketcal"},  # an independent double of the network: never the clients' code
    "providers": {"marketcal", "ratelimits"},  # no task, no storage, no runtime
    "dispatch": {"ratelimits"},  # no Celery task, provider or storage
    "planning": {"marketcal", "ratelimits", "beat_schedule"},
    # what the tasks do: given its resources, never the tasks, the app or the tools above it
    "jobs": {
        "analysis",
        "dispatch",
        "marketcal",
        "monitoring",
        "planning",
        "providers",
        "ratelimits",
        "runtime",
        "storage",
    },  # fmt: skip
    "runtime": {"beat_schedule", "dispatch", "providers", "ratelimits", "storage"},  # the leaf tasks stand on
}
# The assembled app: the ``celery -A worker`` entry point. Only ``worker`` itself may import it.
ASSEMBLED = "worker.celery"


def imports() -> dict[str, set[tuple[str, str, int]]]:
    """For each package of ours: (imported module, file, line) for every import of ours in it."""
    found: dict[str, set[tuple[str, str, int]]] = defaultdict(set)
    for top in OURS:
        paths = [ROOT / f"{top}.py"] if (ROOT / f"{top}.py").exists() else sorted((ROOT / top).rglob("*.py"))
        for path in paths:
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    if name.split(".")[0] in OURS:
                        found[top].add((name, str(path.relative_to(ROOT)), node.lineno))
    return found


IMPORTS = imports()


def graph() -> dict[str, set[str]]:
    return {top: {name.split(".")[0] for name, _, _ in IMPORTS.get(top, ())} - {top} for top in OURS}


def test_the_imports_are_read():
    # the reader sees real imports, in functions too (a rule that reads nothing passes for nothing)
    assert ("ratelimits", "dispatch/pace.py", 10) in IMPORTS["dispatch"]
    assert any(name == "runtime" for name, _, _ in IMPORTS["tasks"])  # from runtime import resources
    # an import inside a function (matplotlib's charts, loaded only by the task that draws) is read too
    source = (ROOT / "jobs/reporting.py").read_text().splitlines()
    inside = [
        line
        for name, file, line in IMPORTS["jobs"]
        if file == "jobs/reporting.py" and name == "analysis.charts"
    ]
    assert inside and source[inside[0] - 1].startswith("    ")
    assert graph()["stack"] >= {"worker", "jobs", "runtime", "sandbox"}


def test_no_cycle_between_packages():
    edges = graph()
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt) :] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in OURS:
        if node not in state:
            visit(node)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_what_the_layering_allows(package):
    wrong = sorted(f"{file}:{line} imports {name}" for name, file, line in IMPORTS.get(package, ())
                   if name.split(".")[0] not in ALLOWED[package] | {package})  # fmt: skip
    assert not wrong, "\n".join(wrong)


def test_nothing_imports_the_assembled_app():
    wrong = sorted(f"{file}:{line}" for top, found in IMPORTS.items() if top != "worker"
                   for name, file, line in found if name == ASSEMBLED or name.startswith(ASSEMBLED + "."))  # fmt: skip
    assert not wrong, f"{ASSEMBLED} imported by: {', '.join(wrong)}"


# Only these reach for the process's resources (``runtime.resources.current()``): the task wrappers, the
# worker's signals and control commands. Everything else is handed what it needs.
LOCATORS = {"tasks", "worker", "runtime"}


def test_resources_are_looked_up_only_by_the_task_wrappers_and_the_worker():
    wrong = []
    for top in OURS:
        if top in LOCATORS:
            continue
        paths = [ROOT / f"{top}.py"] if (ROOT / f"{top}.py").exists() else sorted((ROOT / top).rglob("*.py"))
        for path in paths:
            for node in ast.walk(ast.parse(path.read_text())):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "current"
                        and isinstance(node.func.value, ast.Name) and node.func.value.id == "resources"):  # fmt: skip
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not wrong, "resources.current() outside the task wrappers: " + ", ".join(wrong)
    # and the rule sees the calls it is about
    assert "resources.current()" in (ROOT / "tasks/planner.py").read_text()
