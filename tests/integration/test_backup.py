"""Backups and restores on SQLite and PostgreSQL (``TEST_DATABASE_URL``): backup -> wipe -> restore ->
the rows are back; retention keeps the newest; the CLI reports mistakes in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from storage import Database, upsert_bars, upsert_symbols
from storage import backup as storage_backup
from storage.errors import StorageError
from storage.migrate import upgrade
from storage.models import DailyBar, Symbol
from storage.testing import scratch_database
from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]
FETCHED = datetime(2026, 11, 19, 5, 0, tzinfo=UTC)
SYMBOLS = [
    {"ticker": t, "name": f"{t} Inc", "exchange": "XNYS", "active": True} for t in ("AAA", "BBB", "CCC")
]
BARS = [
    {"symbol": t, "day": date(2026, 11, d), "open": 10.0 + d, "high": 11.0 + d, "low": 9.0 + d,
     "close": 10.5 + d, "volume": 1000 * d, "source": "polygon", "fetched_at": FETCHED}
    for t in ("AAA", "BBB", "CCC") for d in (16, 17, 18)
]  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    """A private, migrated database."""
    if request.param == "sqlite":
        private = f"sqlite:///{tmp_path / 'db' / 'tickerbeat.db'}"
        upgrade(private)
        yield private
        return
    shared = os.environ.get("TEST_DATABASE_URL", "")
    require(shared.startswith("postgresql"), "PostgreSQL backup tests need TEST_DATABASE_URL")
    require(bool(storage_backup.shutil.which("pg_dump")), "pg_dump is not installed")
    with scratch_database(shared) as private:
        upgrade(private)
        yield private


def _fill(url: str) -> None:
    db = Database(url)
    try:
        with db.session() as s, s.begin():
            upsert_symbols(s, SYMBOLS)
            upsert_bars(s, BARS)
    finally:
        db.dispose()


def _content(url: str) -> tuple[list, list]:
    db = Database(url)
    try:
        with db.session() as s:
            symbols = sorted(s.scalars(select(Symbol.ticker)))
            bars = sorted(s.execute(select(DailyBar.symbol, DailyBar.day, DailyBar.close, DailyBar.volume)))
        return symbols, [tuple(b) for b in bars]
    finally:
        db.dispose()


def _wipe(url: str) -> None:
    db = Database(url)
    try:
        with db.session() as s, s.begin():
            s.execute(delete(DailyBar))
            s.execute(delete(Symbol).where(Symbol.ticker != "AAA"))
            upsert_symbols(s, [{"ticker": "ZZZ", "name": "written after the backup", "active": True}])
    finally:
        db.dispose()


def test_backup_wipe_restore_brings_the_rows_back(url, tmp_path):
    _fill(url)
    before = _content(url)
    assert len(before[0]) == 3 and len(before[1]) == 9
    path = storage_backup.backup(url, tmp_path / "backups", keep=3)
    assert path.exists() and path.stat().st_size > 0
    assert path.suffix == (".sqlite3" if url.startswith("sqlite") else ".dump")
    _wipe(url)
    assert _content(url) == (["AAA", "ZZZ"], [])
    storage_backup.restore(url, path)
    assert _content(url) == before


def test_retention_keeps_the_newest_copies_and_ignores_other_files(tmp_path):
    url = f"sqlite:///{tmp_path / 'tickerbeat.db'}"
    upgrade(url)
    folder = tmp_path / "backups"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a backup")
    interrupted = folder / "tickerbeat-2026-12-01.sqlite3.partial"  # newer than all: must not count
    interrupted.write_text("an interrupted copy")
    stamps = [f"2026-11-0{d}" for d in range(1, 8)] + ["2026-11-07T031500Z", "2026-11-08"]
    for stamp in stamps:
        storage_backup.backup(url, folder, keep=4, stamp=stamp)
    kept = [p.name for p in storage_backup.backup_files(folder)]
    assert kept == [f"tickerbeat-{s}.sqlite3" for s in stamps[-4:]]
    assert (folder / "notes.txt").exists() and interrupted.exists()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda d: storage_backup.backup("sqlite:///" + str(d / "missing.db"), d), "no SQLite database"),
        (lambda d: storage_backup.backup("sqlite://", d), "in-memory"),
        (
            lambda d: storage_backup.backup("sqlite:///" + str(d / "x.db"), d, keep=0),
            "keep must be at least 1",
        ),
        (lambda d: storage_backup.backup("sqlite:///" + str(d / "x.db"), d, stamp="yesterday"), "stamp"),
        (
            lambda d: storage_backup.restore("sqlite:///" + str(d / "x.db"), d / "nope.sqlite3"),
            "no backup file",
        ),
        (lambda d: storage_backup.restore("sqlite:///" + str(d / "x.db"), d / "garbage.sqlite3"), "x.db"),
        (
            lambda d: storage_backup.restore("sqlite:///" + str(d / "x.db"), d / "t.dump"),
            "not a sqlite backup",
        ),
    ],
    ids=["missing-db", "memory", "keep-0", "bad-stamp", "missing-file", "not-sqlite", "wrong-kind"],
)
def test_user_mistakes_are_storage_errors(tmp_path, call, message):
    (tmp_path / "garbage.sqlite3").write_bytes(b"this is not an SQLite database file" * 100)
    (tmp_path / "t.dump").write_bytes(b"PGDMP")
    with pytest.raises(StorageError, match=message):
        call(tmp_path)


def test_a_damaged_backup_leaves_the_database_alone(tmp_path):
    url = f"sqlite:///{tmp_path / 'tickerbeat.db'}"
    upgrade(url)
    _fill(url)
    before = _content(url)
    bad = tmp_path / "tickerbeat-2026-11-20.sqlite3"
    bad.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    with pytest.raises(StorageError):
        storage_backup.restore(url, bad)
    assert _content(url) == before


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "storage", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def test_cli_backup_then_restore(url, tmp_path):
    _fill(url)
    before = _content(url)
    data_dir = tmp_path / "data"
    done = _cli("backup", "--url", url, env={"TICKERBEAT_DATA_DIR": str(data_dir)})
    assert done.returncode == 0, done.stderr
    (path,) = storage_backup.backup_files(data_dir / "backups")
    assert str(path) in done.stdout
    _wipe(url)
    refused = _cli("restore", str(path), "--url", url)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert _content(url)[1] == []
    done = _cli("restore", str(path), "--url", url, "--yes")
    assert done.returncode == 0, done.stderr
    assert _content(url) == before


def test_cli_errors_are_one_line_without_a_password(tmp_path):
    done = _cli(
        "backup", "--url", "postgresql+psycopg://bob:s3cr3tpw@127.0.0.1:1/none", "--dir", str(tmp_path)
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "s3cr3tpw" not in done.stderr + done.stdout
    assert done.stderr.startswith("error:") and len(done.stderr.strip().splitlines()) == 1
    done = _cli("backup", "--keep", "0", "--dir", str(tmp_path))
    assert done.returncode == 2 and "--keep must be at least 1" in done.stderr
