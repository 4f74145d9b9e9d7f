"""The demo works in a directory of its own: it deletes only the database its last run left there, and refuses,
before anything starts, a working directory holding a database it did not create or tickerbeat's own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.cli import UsageError
from stack.demo import DEMO_DATABASE, WORKDIR_MARKER, claim_workdir

ROOT = Path(__file__).resolve().parents[2]


def _demo(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | (env or {})
    return subprocess.run([sys.executable, "-m", "stack.demo", *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)  # fmt: skip


def test_a_database_the_demo_did_not_create_is_refused_before_anything_starts(tmp_path):
    work = tmp_path / "mine"
    work.mkdir()
    (work / DEMO_DATABASE).write_bytes(b"precious rows")
    (work / f"{DEMO_DATABASE}-wal").write_bytes(b"more")
    done = _demo(tmp_path, "--workdir", "mine", "--symbols", "50")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"tickerbeat: --workdir mine holds a database the demo did not create ({DEMO_DATABASE}, "
        f"{DEMO_DATABASE}-wal): it deletes only its own; choose another --workdir, or move that database away"
    ]
    assert (work / DEMO_DATABASE).read_bytes() == b"precious rows" and (
        work / f"{DEMO_DATABASE}-wal"
    ).exists()
    assert sorted(p.name for p in work.iterdir()) == [
        DEMO_DATABASE,
        f"{DEMO_DATABASE}-wal",
    ]  # no logs: nothing ran


def test_the_directory_of_tickerbeats_own_database_is_refused(tmp_path):
    """``--workdir var`` is where ``DATABASE_URL``'s default keeps tickerbeat's data: refused even before
    that database exists, so the demo's database never becomes the service's."""
    done = _demo(tmp_path, "--workdir", "var", "--symbols", "50")
    assert done.returncode == 2 and done.stdout == "" and len(done.stderr.splitlines()) == 1
    assert "--workdir var holds tickerbeat's own database" in done.stderr
    assert not (tmp_path / "var").exists()
    other = tmp_path / "data" / "tb.db"
    with pytest.raises(UsageError, match="tickerbeat's own database"):
        claim_workdir(tmp_path / "data", {"DATABASE_URL": f"sqlite:///{other}"})


def test_the_demo_claims_a_new_directory_and_cleans_only_its_own(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'elsewhere.db'}"}
    work = claim_workdir(tmp_path / "demo", env)
    assert work == (tmp_path / "demo").resolve() and (work / WORKDIR_MARKER).is_file()
    for name in (DEMO_DATABASE, f"{DEMO_DATABASE}-shm", "keep.txt"):
        (work / name).write_text("last run")
    assert claim_workdir(tmp_path / "demo", env) == work  # its own: the last run's database goes
    assert sorted(p.name for p in work.iterdir()) == sorted([WORKDIR_MARKER, "keep.txt"])

    quiet = tmp_path / "existing"  # a directory without a database is claimed too
    quiet.mkdir()
    (quiet / "notes.txt").write_text("x")
    claim_workdir(quiet, env)
    assert (quiet / WORKDIR_MARKER).is_file() and (quiet / "notes.txt").exists()

    (tmp_path / "afile").write_text("x")
    with pytest.raises(UsageError, match="is a file, not a directory"):
        claim_workdir(tmp_path / "afile", env)
