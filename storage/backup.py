"""Consistent database backups with retention, and restore: SQLite online backup, PostgreSQL custom dumps.

    path = backup("sqlite:///var/tickerbeat.db", "var/backups", keep=7)   # var/backups/tickerbeat-<stamp>.sqlite3
    restore("sqlite:///var/tickerbeat.db", path)                          # the database becomes the copy

SQLite: the online backup API copies a consistent snapshot while workers keep writing (WAL), and restore
copies the file back page by page under the database's write lock. PostgreSQL: ``pg_dump --format=custom``
(only the schema on the URL's ``search_path`` when it names one, as ``storage.testing`` URLs do) and
``pg_restore --clean --if-exists --single-transaction``: a failed restore changes nothing. The password
travels in ``PGPASSWORD``, never on a command line (``ps`` shows those).

Files are named ``tickerbeat-<stamp>.<sqlite3|dump>``; stamps sort in time order (an ISO date, or an ISO
date and UTC time), so retention keeps the ``keep`` newest by name. A copy is written to ``*.partial``
and renamed only when complete: a crashed backup never counts as one, never pushes a good one out.
Errors are ``StorageError`` with a one-line reason and no password.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import URL

from storage.engine import parse_url, redact, sqlite_path
from storage.errors import StorageError

PREFIX = "tickerbeat-"
SUFFIXES = {"sqlite": ".sqlite3", "postgresql": ".dump"}
DEFAULT_KEEP = 7  # nightly copies kept: a week
_STAMP = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{6}Z)?$")
_SEARCH_PATH = re.compile(r"-c\s*search_path=([A-Za-z_][A-Za-z0-9_]*)")
PG_TIMEOUT_SECONDS = 3600  # a dump or restore that takes longer than an hour is stuck


def stamp_now(now: datetime | None = None) -> str:
    """A backup stamp for ``now`` (UTC), e.g. ``2026-11-20T031500Z``."""
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H%M%SZ")


def backup_files(directory: str | Path) -> list[Path]:
    """The finished backups in ``directory``, oldest first (by stamp)."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_file() and _stamp_of(p) is not None]
    return sorted(found, key=lambda p: (_stamp_of(p), p.name))


def _stamp_of(path: Path) -> str | None:
    if not path.name.startswith(PREFIX) or path.suffix not in SUFFIXES.values():
        return None
    stamp = path.name[len(PREFIX) : -len(path.suffix)]
    return stamp if _STAMP.match(stamp) else None


def prune(directory: str | Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest backups in ``directory``; returns the deleted paths."""
    if keep < 1:
        raise StorageError(f"keep must be at least 1 backup, got {keep}")
    old = backup_files(directory)[:-keep]
    for path in old:
        path.unlink(missing_ok=True)
    return old


def backup(
    url: str | URL, directory: str | Path, keep: int = DEFAULT_KEEP, *, stamp: str | None = None
) -> Path:
    """Write a consistent copy of the database at ``url`` into ``directory``, then keep the ``keep`` newest.

    ``stamp`` names the copy (default: now, UTC); the same stamp again replaces that copy. Returns its path.
    """
    parsed = parse_url(url)
    stamp = stamp or stamp_now()
    if not _STAMP.match(stamp):
        raise StorageError(f"backup stamp must look like 2026-11-20 or 2026-11-20T031500Z, got {stamp!r}")
    if keep < 1:
        raise StorageError(f"keep must be at least 1 backup, got {keep}")
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create the backup directory {str(folder)!r}: {exc.strerror}") from None
    backend = parsed.get_backend_name()
    target = folder / f"{PREFIX}{stamp}{SUFFIXES[backend]}"
    partial = target.with_name(target.name + ".partial")
    try:
        if backend == "sqlite":
            _sqlite_backup(parsed, partial)
        else:
            _pg_dump(parsed, partial)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    prune(folder, keep)
    return target


def restore(url: str | URL, file: str | Path) -> None:
    """Replace the database at ``url`` with the backup ``file`` (all of its tables and rows).

    Stop workers and beat first: rows written during a restore are lost with the rest.
    """
    parsed = parse_url(url)
    source = Path(file)
    if not source.is_file():
        raise StorageError(f"no backup file at {str(source)!r}")
    backend = parsed.get_backend_name()
    if source.suffix != SUFFIXES[backend]:
        raise StorageError(
            f"{source.name} is not a {backend} backup (expected a {SUFFIXES[backend]} file for {redact(parsed)})"
        )
    if backend == "sqlite":
        _sqlite_restore(source, parsed)
    else:
        _pg_restore(source, parsed)


# -- SQLite -------------------------------------------------------------------------------------------------


def _sqlite_file(url: URL) -> Path:
    path = sqlite_path(url)
    if path is None:
        raise StorageError("an in-memory SQLite database cannot be backed up or restored")
    return path


def _sqlite_backup(url: URL, target: Path) -> None:
    path = _sqlite_file(url)
    if not path.is_file():
        raise StorageError(f"no SQLite database at {str(path)!r}")
    try:
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise StorageError(f"SQLite backup of {str(path)!r} failed: {exc}") from None


def _sqlite_restore(source: Path, url: URL) -> None:
    path = _sqlite_file(url)
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            verdict = src.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                raise StorageError(f"{source.name} is damaged ({verdict}); nothing was restored")
            path.parent.mkdir(parents=True, exist_ok=True)
            dst = sqlite3.connect(path, timeout=30)
            try:
                src.backup(dst)
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"cannot restore {source.name} into {str(path)!r}: {exc}") from None


# -- PostgreSQL ---------------------------------------------------------------------------------------------


def _schema(url: URL) -> str | None:
    """The schema a URL's libpq ``options`` put first on ``search_path`` (``storage.testing``), if any."""
    options = url.query.get("options")
    texts = options if isinstance(options, tuple) else (options,) if options else ()
    for text in texts:
        found = _SEARCH_PATH.search(text)
        if found:
            return found.group(1)
    return None


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq URI without the password, and the environment carrying it."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise StorageError(
            f"{name} not found: install PostgreSQL's client tools (e.g. apt install postgresql-client)"
        )
    return found


def _run(command: list[str], env: dict[str, str], what: str, url: URL) -> None:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=PG_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise StorageError(f"{what} of {redact(url)} took longer than {PG_TIMEOUT_SECONDS} s") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {done.returncode}"
        raise StorageError(f"{what} of {redact(url)} failed: {redact(reason)}")


def _pg_dump(url: URL, target: Path) -> None:
    uri, env = _libpq(url)
    command = [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(target)]
    schema = _schema(url)
    if schema:
        command.append(f"--schema={schema}")
    _run([*command, "--dbname", uri], env, "pg_dump", url)


def _pg_restore(source: Path, url: URL) -> None:
    uri, env = _libpq(url)
    command = [_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
               "--exit-on-error", "--dbname", uri, str(source)]  # fmt: skip
    _run(command, env, "pg_restore", url)
