"""The Makefile, the front door: ``make help`` lists every target, the operations targets run the commands
the docs promise (dry runs), and the compose and restore targets fail with a clear message."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGETS = re.findall(r"^([a-zA-Z][a-zA-Z_-]*):", (ROOT / "Makefile").read_text(), re.M)
REQUIRED = ("install", "demo", "run", "test", "lint", "migrate", "sandbox", "worker", "beat", "flower", "metrics",
            "inspect", "validate", "validate-plan", "up", "down", "logs", "backup", "restore", "clean-logs", "quotas",
            "plan", "pause", "resume", "ops")  # fmt: skip

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _make(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "MAKEFLAGS": ""})  # fmt: skip


def test_help_lists_every_target():
    done = _make("help")
    assert done.returncode == 0, done.stderr
    listed = {line.split()[0] for line in done.stdout.splitlines() if line.strip()}
    assert set(TARGETS) == listed
    assert set(REQUIRED) <= listed


@pytest.mark.parametrize(
    ("target", "commands"),
    [
        ("inspect", ["-m stack.ops quotas", "-m stack.ops workers --timeout 5"]),
        ("quotas", ["-m stack.ops quotas"]),
        ("plan DAY=2026-11-20", ['-m stack.ops plan --day "2026-11-20"']),
        ("pause P=yahoo REASON=rotation", ['-m stack.ops pause "yahoo" --reason "rotation"']),
        ("resume P=yahoo", ['-m stack.ops resume "yahoo"']),
        ("ops ARGS=pauses", ["-m stack.ops pauses"]),
        ("validate", ["-m stack.validate"]),
        ("flower", ["-m stack.flower --address 127.0.0.1 --port 5555 --db var/flower.db"]),
        ("metrics", ["-m monitoring --port 9102 --addr 127.0.0.1"]),
        ("backup", ["-m storage backup --keep 7"]),
        ("clean-logs", ["-m stack.logs --dir var/logs --keep-days 7"]),
        ("beat", ["-m celery -A worker beat -l INFO"]),
        ("worker Q=finnhub", ["-m stack.run --worker finnhub"]),
        ("restore FILE=var/backups/x.sqlite3", ['-m storage restore "var/backups/x.sqlite3"']),
    ],
)  # fmt: skip
def test_targets_run_the_documented_commands(target, commands):
    done = _make("-n", *target.split())
    assert done.returncode == 0, done.stderr
    for command in commands:
        assert f".venv/bin/python {command}" in done.stdout, done.stdout


def test_compose_targets_explain_a_missing_engine():
    probe = (
        subprocess.run(["docker", "info"], capture_output=True, timeout=30)
        if shutil.which("docker")
        else None
    )
    if probe is not None and probe.returncode == 0:
        pytest.skip("a Docker engine answers here: make up would start the stack")
    for target in ("up", "down", "logs"):
        done = _make(target)
        assert done.returncode != 0
        assert ("Docker Compose is not installed" in done.stderr) or (
            "cannot reach a Docker engine" in done.stderr
        )


def test_restore_without_a_file_prints_its_usage(tmp_path):
    """In a copy whose environment counts as installed, so nothing gets installed."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    stamp = tmp_path / ".venv" / ".installed-stamp"
    stamp.parent.mkdir()
    stamp.touch()
    later = time.time() + 60
    os.utime(stamp, (later, later))
    done = _make("restore", cwd=tmp_path)
    assert done.returncode == 2 and "usage: make restore FILE=" in done.stderr
