"""Every ``python -m`` entry point and every ``make`` target answers bad input like a tool: one line on stderr
(no traceback), ``tickerbeat: configuration error: VAR: …`` when a variable is malformed, exit status 2,
and nothing started (nothing on stdout).

The entry points are found in the source (a package's ``__main__.py``, a module's ``if __name__ ==
"__main__":``; ``bench/`` holds scripts run by path), and the Makefile's targets are read from it: one
without a case here fails ``test_every_entry_point_has_a_case`` or ``test_every_make_target_has_a_case``.
The cases run in parallel, once per module (each takes a Python start-up, 2-4 s on a small machine).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]
NOT_OURS = {"tests", "bench"}  # the suite; benchmark scripts (``make bench`` runs them by path)
MAIN_GUARD = re.compile(r"^if __name__ == [\"']__main__[\"']:", re.M)
TARGET = re.compile(r"^([a-zA-Z][a-zA-Z_-]*):", re.M)
BAD_POOLS = {"TICKERBEAT_POOLS": "api_call=3"}  # a misspelt pool (``api_calls``)
MYSQL = {"DATABASE_URL": "mysql://x"}
PASSWORD = "s3cret-pw"


@dataclass(frozen=True)
class Case:
    """``args`` after ``python -m MODULE`` (or ``make -s``); ``says``: part of the one line; ``variable``: the
    malformed variable of a configuration error. ``{port}`` (a port in use) and ``{tmp}`` are filled in."""

    args: tuple[str, ...]
    says: str
    env: Mapping[str, str] = field(default_factory=dict)
    variable: str | None = None


def _config(args: tuple[str, ...], env: Mapping[str, str], says: str) -> Case:
    return Case(args, says, env, variable=next(iter(env)))


MAKE_SAYS = re.compile(r"make(\[\d+\])?: \*\*\* ")
POOLS_SAY = "unknown pool 'api_call'; the pools are api_calls, compute_intensive, database_tasks"
MYSQL_SAY = "unsupported database 'mysql' in 'mysql://x': use sqlite:///"

ENTRY_POINTS: dict[str, tuple[Case, ...]] = {
    "monitoring": (_config((), MYSQL, MYSQL_SAY),),
    "monitoring.dashboard": (Case(("--bogus",), "unrecognized arguments: --bogus"),),
    "runtime.settings": (_config((), {"DATABASE_URL": f"postgresql+asyncpg://u:{PASSWORD}@db/x"}, "unsupported driver 'asyncpg'"),),
    "sandbox": (Case(("--port", "{port}"), "cannot listen on 127.0.0.1:{port}: Address already in use"),),
    "stack.demo": (
        Case(("--timeout", "-5"), "argument --timeout: must be a number of seconds above 0, got '-5'"),
        _config(("--symbols", "50"), BAD_POOLS, POOLS_SAY),
    ),
    "stack.flower": (_config((), {"FLOWER_BASIC_AUTH": "no-colon"}, "expected user:password entries"),),
    "stack.logs": (Case(("--keep-days", "-1"), "--keep-days must be >= 0"),),
    "stack.ops": (_config(("quotas",), BAD_POOLS, POOLS_SAY),),
    "stack.plan": (_config((), BAD_POOLS, POOLS_SAY),),
    "stack.run": (_config((), {"REDIS_URL": "localhost:6379"}, "expected a redis/rediss/unix URL, got 'localhost:6379'"),),
    "stack.status": (_config((), {"REDIS_URL": "ftp://x"}, "expected a redis/rediss/unix URL"),),
    "stack.universe": (
        _config(("show",), MYSQL, MYSQL_SAY),
        # nothing listens on port 1: what was tried, the password masked
        Case(("show",), "postgresql://u:***@127.0.0.1:1/db", {"DATABASE_URL": f"postgresql://u:{PASSWORD}@127.0.0.1:1/db"}),
    ),
    "stack.validate": (Case(("--only", "bogus"), "choose from"),),
    "storage": (Case(("restore",), "the following arguments are required: file"),),
}  # fmt: skip

MAKE_TARGETS: dict[str, Case] = {
    "demo": _config(("demo",), BAD_POOLS, POOLS_SAY),
    "run": _config(("run",), {"REDIS_URL": "localhost:6379"}, "expected a redis/rediss/unix URL"),
    "migrate": _config(("migrate",), MYSQL, MYSQL_SAY),
    "sandbox": Case(("sandbox", "PORT={port}"), "cannot listen on 127.0.0.1:{port}"),
    "validate": _config(("validate",), BAD_POOLS, POOLS_SAY),
    "validate-plan": _config(("validate-plan",), BAD_POOLS, POOLS_SAY),
    "worker": Case(("worker", "Q=nope"), "unknown queue 'nope'"),
    "beat": _config(("beat",), BAD_POOLS, POOLS_SAY),
    "flower": _config(("flower",), {"FLOWER_BASIC_AUTH": "no-colon"}, "expected user:password entries"),
    "metrics": _config(("metrics",), MYSQL, MYSQL_SAY),
    "inspect": _config(("inspect",), BAD_POOLS, POOLS_SAY),
    "status": _config(("status",), {"REDIS_URL": "ftp://x"}, "expected a redis/rediss/unix URL"),
    "ops": Case(("ops", "ARGS=bogus"), "invalid choice: 'bogus'"),
    "quotas": _config(("quotas",), BAD_POOLS, POOLS_SAY),
    "plan": Case(("plan", "DAY=notaday"), "'notaday'"),
    "pause": Case(("pause", "P=nope"), "unknown provider 'nope'"),
    "resume": Case(("resume", "P=nope"), "unknown provider 'nope'"),
    "dead-letters": Case(("dead-letters", "SHOW=abc"), "argument id: invalid int value: 'abc'"),
    "backup": _config(("backup",), MYSQL, MYSQL_SAY),
    "restore": _config(("restore", "FILE=var/backups/x.sqlite3"), MYSQL, MYSQL_SAY),
    "clean-logs": Case(("clean-logs", "LOG_KEEP_DAYS=-1"), "--keep-days must be >= 0"),
}
# Targets that run no command of ours, with what runs instead.
NOT_OURS_TARGETS = {
    "help": "awk over the Makefile, takes no input",
    "install": "python -m venv and pip",
    "test": "pytest",
    "test-fast": "pytest",
    "lint": "ruff",
    "format": "ruff",
    "bench": "the scripts of bench/, run by path",
    "clean": "rm -rf",
    "compose-ready": "docker; test_ops_make checks its messages",
    "up": "docker compose; test_ops_make checks its messages",
    "down": "docker compose; test_ops_make checks its messages",
    "logs": "docker compose; test_ops_make checks its messages",
}


def entry_points() -> set[str]:
    """Every module of ours that ``python -m`` runs: packages' ``__main__.py`` and guarded modules."""
    found = set()
    tops = [
        p for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists() and p.name not in NOT_OURS
    ]
    paths = [p for top in tops for p in top.rglob("*.py")] + sorted(ROOT.glob("*.py"))
    for path in paths:
        parts = path.relative_to(ROOT).with_suffix("").parts
        if path.name == "__main__.py":
            found.add(".".join(parts[:-1]))
        elif MAIN_GUARD.search(path.read_text()):
            found.add(".".join(parts))
    return found


def make_targets() -> set[str]:
    return set(TARGET.findall((ROOT / "Makefile").read_text()))


def test_the_discovery_sees_what_it_is_about():
    points = entry_points()
    assert {"sandbox", "storage", "monitoring", "stack.demo", "runtime.settings"} <= points
    assert not any(p.startswith(("tests", "bench")) for p in points)
    assert {"demo", "validate-plan", "help"} <= make_targets()


def test_every_entry_point_has_a_case():
    points = entry_points()
    assert not points - set(ENTRY_POINTS), (
        f"entry points without a bad-input case: {sorted(points - set(ENTRY_POINTS))}"
    )
    assert not set(ENTRY_POINTS) - points, f"cases for no entry point: {sorted(set(ENTRY_POINTS) - points)}"


def test_every_make_target_has_a_case():
    targets, covered = make_targets(), set(MAKE_TARGETS) | set(NOT_OURS_TARGETS)
    assert not targets - covered, f"make targets without a bad-input case: {sorted(targets - covered)}"
    assert not covered - targets, f"cases for no make target: {sorted(covered - targets)}"


def _fill(text: str, port: int, tmp: Path) -> str:
    return text.replace("{port}", str(port)).replace("{tmp}", str(tmp))


def _run(command: list[str], case: Case, port: int, tmp: Path) -> subprocess.CompletedProcess:
    # a make of our own, not a sub-make of the one running the suite (make test): none of its variables
    inherited = {
        k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")
    }
    env = {**inherited, **{k: _fill(v, port, tmp) for k, v in case.env.items()}}
    argv = command + [_fill(a, port, tmp) for a in case.args]
    try:
        return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)  # fmt: skip
    except subprocess.TimeoutExpired as exc:  # it started something instead of refusing
        return subprocess.CompletedProcess(argv, -9, str(exc.stdout or ""), f"timed out: {exc}")


PYTHON_CASES = [(m, i) for m, cases in sorted(ENTRY_POINTS.items()) for i in range(len(cases))]


@pytest.fixture(scope="module")
def busy_port():
    """A port something listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture(scope="module")
def answers(busy_port, tmp_path_factory):
    """Every case's completed process, run four at a time: ``("python", module, i)`` and ``("make", target)``."""
    tmp = tmp_path_factory.mktemp("entry-points")
    make = ["make", "-s", "--no-print-directory", "-o", ".venv/.installed-stamp"]  # never (re)install here
    jobs = {("python", m, i): ([sys.executable, "-m", m], ENTRY_POINTS[m][i]) for m, i in PYTHON_CASES}
    if shutil.which("make"):
        jobs |= {("make", t): (make, case) for t, case in MAKE_TARGETS.items()}
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            key: pool.submit(_run, command, case, busy_port, tmp) for key, (command, case) in jobs.items()
        }
        yield {key: future.result() for key, future in futures.items()}


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{stderr}"
    return lines[0]


def _check_line(line: str, case: Case, port: int) -> None:
    assert _fill(case.says, port, Path()) in line, line
    assert PASSWORD not in line
    if case.variable:
        assert line.startswith(f"tickerbeat: configuration error: {case.variable}: "), line


@pytest.mark.parametrize(("module", "index"), PYTHON_CASES, ids=[f"{m}-{i}" for m, i in PYTHON_CASES])
def test_an_entry_point_refuses_bad_input_in_one_line(answers, busy_port, module, index):
    done, case = answers[("python", module, index)], ENTRY_POINTS[module][index]
    _check_line(_one_line(done.stderr), case, busy_port)
    assert done.returncode == 2, done.stderr
    assert done.stdout == "", "nothing may start before the input is checked"


@pytest.mark.parametrize("target", sorted(MAKE_TARGETS))
def test_a_make_target_refuses_bad_input_in_one_line(answers, busy_port, target):
    require(shutil.which("make") is not None, "make is not installed")
    done, case = answers[("make", target)], MAKE_TARGETS[target]
    # make adds its own line: make: *** [Makefile:NN: target] Error N (make[N]: under another make)
    tool = "\n".join(line for line in done.stderr.splitlines() if not MAKE_SAYS.match(line))
    _check_line(_one_line(tool), case, busy_port)
    assert done.returncode == 2, done.stderr  # make's status for a failed recipe
    assert done.stdout == "", "nothing may start before the input is checked"


@pytest.mark.slow
def test_a_demo_phase_that_times_out_is_one_line_naming_it_and_the_logs(tmp_path):
    """The whole stack starts (about 10 s), the first phase cannot finish in 2 s: the demo stops everything
    and says which phase, after how long, and where the logs are."""
    done = subprocess.run([sys.executable, "-m", "stack.demo", "--symbols", "50", "--timeout", "2", "--workdir",
                           str(tmp_path / "demo"), "--reports", str(tmp_path / "reports")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    line = _one_line(done.stderr)
    assert done.returncode == 2, done.stderr
    assert line.startswith("tickerbeat: a phase timed out: first start (universe, two years of history"), line
    assert "after 2 s" in line and str(tmp_path / "demo" / "logs") in line, line
    assert (tmp_path / "demo" / "logs").is_dir()


def test_a_celery_command_with_a_bad_variable_is_one_line_and_status_2(tmp_path):
    """``celery -A worker`` (what make worker, make beat and the compose services run) imports the app,
    which loads the settings: the same line and status as every entry point of ours."""
    celery = Path(sys.executable).with_name("celery")
    case = _config(("inspect", "ping"), BAD_POOLS, POOLS_SAY)
    answer = _run([str(celery), "-A", "worker"], case, 0, tmp_path)
    assert answer.returncode == 2, answer
    _check_line(_one_line(answer.stderr), case, 0)
