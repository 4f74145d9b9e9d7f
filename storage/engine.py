"""One engine and one sessionmaker per process: ``Database(url)``.

Sessions belong to the caller::

    db = Database(settings.database_url)
    with db.session() as s, s.begin():
        upsert_bars(s, bars)

SQLite (the embedded default): WAL journal so readers never block the writer, ``busy_timeout`` 30 s so
concurrent writers wait instead of failing, foreign keys enforced; the file's directory is created.
PostgreSQL (production): ``pool_pre_ping`` so connections dropped by a restart are replaced.
After a fork (Celery's ``worker_process_init``) call ``db.dispose(close=False)``: the child gets a fresh
pool and leaves the parent's connections alone.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from storage.errors import StorageError

BUSY_TIMEOUT_SECONDS = 30  # how long an SQLite writer waits for the write lock before failing
DEFAULT_URL = "sqlite:///var/tickerbeat.db"  # the embedded default, relative to the working directory
# The databases and drivers tickerbeat installs (pyproject.toml: the postgres extra is psycopg 3).
DRIVERS: dict[str, tuple[str, ...]] = {"sqlite": ("pysqlite",), "postgresql": ("psycopg",)}
EXAMPLES = "sqlite:///path/to/file.db or postgresql+psycopg://user@host:5432/db"
SUPPORTED = f"use {EXAMPLES}"
log = logging.getLogger(__name__)
_PASSWORD = re.compile(r"(://[^:/@]*:)[^/]*@")  # up to the last @ of the authority


def redact(url: str | URL) -> str:
    """``url`` as text with any password replaced by ``***`` (safe for logs and error messages)."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    return _PASSWORD.sub(r"\1***@", str(url))


def parse_url(url: str | URL) -> URL:
    """The SQLAlchemy URL of ``url``; ``StorageError`` (password hidden) when it is not one."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise StorageError(f"not a database URL: {redact(url)!r}: {SUPPORTED}") from None
    if parsed.get_backend_name() not in DRIVERS:
        raise StorageError(
            f"unsupported database {parsed.get_backend_name()!r} in {redact(parsed)!r}: {SUPPORTED}"
        )
    return parsed


def check_url(url: str | URL) -> URL:
    """``parse_url`` and, further, the driver: the ones tickerbeat installs (``DRIVERS``), so that a URL
    that would fail at the first connection (``mysql://``, ``postgresql+asyncpg://``) fails at start."""
    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    try:
        driver = parsed.get_driver_name()
    except (NoSuchModuleError, ImportError):
        driver = parsed.drivername
    if driver not in DRIVERS[backend]:
        raise StorageError(f"unsupported driver {driver!r} in {redact(parsed)!r}: {SUPPORTED}")
    return parsed


def sqlite_path(url: URL) -> Path | None:
    """The file of an SQLite URL, or None for an in-memory database."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def build_engine(url: str | URL, **kwargs) -> Engine:
    """An engine with tickerbeat's per-dialect settings; ``StorageError`` for an unusable URL."""
    parsed = parse_url(url)
    path = sqlite_path(parsed)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the directory of {redact(parsed)!r}: {exc.strerror}") from None
    options = dict(kwargs)
    if parsed.get_backend_name() == "postgresql":
        options.setdefault("pool_pre_ping", True)
    try:
        engine = create_engine(parsed, **options)
    except (NoSuchModuleError, ImportError) as exc:
        raise StorageError(f"no driver for {redact(parsed)!r}: {redact(str(exc))}") from None
    except (ArgumentError, TypeError) as exc:
        raise StorageError(f"bad database URL {redact(parsed)!r}: {redact(str(exc))}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.execute("PRAGMA foreign_keys = ON")
        # In WAL mode NORMAL syncs at checkpoints, not at every commit: no corruption on a crash, at
        # worst the last commits before a power cut are lost. Every write here is an idempotent upsert
        # the pipeline repeats (quote sweeps, the overnight re-pull), and an fsync per fetch task was a
        # quarter of its time (3.4 ms of 12).
        cursor.execute("PRAGMA synchronous = NORMAL")
        if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            try:  # persistent in the file: normally done once, by the first connection ever
                cursor.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError as exc:  # switching needs a moment without other writers
                log.warning(
                    "SQLite journal stays %s for now (%s); a later connection switches it to WAL",
                    "rollback",
                    exc,
                )
    finally:
        cursor.close()


class Database:
    """The process's engine and sessionmaker (``expire_on_commit=False``: objects stay readable after commit)."""

    def __init__(self, url: str | URL, **engine_options) -> None:
        self.engine = build_engine(url, **engine_options)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def url(self) -> str:
        """The URL with the password hidden."""
        return redact(self.engine.url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        """A new session; use as ``with db.session() as s, s.begin():``."""
        return self._sessions()

    def check(self) -> None:
        """Connect once; ``StorageError`` (no password) when the database cannot be reached."""
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise StorageError(f"cannot reach {self.url}: {redact(reason)}") from None

    def dispose(self, close: bool = True) -> None:
        """Drop the pool. After a fork pass ``close=False`` so the parent's connections are not closed."""
        self.engine.dispose(close=close)

    def __repr__(self) -> str:
        return f"Database({self.url!r})"
