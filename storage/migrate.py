"""Schema migrations, run programmatically: ``upgrade(url)`` brings a database to the newest revision.

Idempotent (a database at head is left alone) and safe when several processes call it at once: on
PostgreSQL the migration runs under a transaction-scoped advisory lock, on SQLite inside one
``BEGIN IMMEDIATE`` transaction (the write lock), so a second caller waits (SQLite: up to the 30 s busy
timeout), then finds the schema at head and does nothing. Either way the whole upgrade commits or
rolls back as one transaction (both databases have transactional DDL).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from storage.engine import build_engine, redact
from storage.errors import StorageError

MIGRATIONS = Path(__file__).with_name("migrations")
ADVISORY_LOCK_KEY = 0x7469636B62656174 & 0x7FFFFFFFFFFFFFFF  # "tickbeat": one key for every tickerbeat schema


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for tickerbeat's scripts; ``connection`` is the one migrations run on."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision id in ``storage/migrations/versions``."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _migration_engine(url: str | URL):
    engine = build_engine(url, poolclass=NullPool)
    if engine.dialect.name == "sqlite":
        # pysqlite would not wrap DDL in a transaction: take over BEGIN and make it take the write lock.
        @event.listens_for(engine, "connect")
        def _no_implicit_begin(dbapi_connection, _record):
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin_immediate(connection):
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def upgrade(url: str | URL, revision: str = "head") -> str | None:
    """Migrate the database at ``url`` to ``revision``; returns the revision it is at afterwards.

    Raises ``StorageError`` (password hidden) when the database cannot be reached or a migration fails.
    """
    engine = _migration_engine(url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            command.upgrade(alembic_config(connection), revision)
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise StorageError(f"migrating {redact(engine.url)} failed: {redact(reason)}") from None
    finally:
        engine.dispose()


def current(url: str | URL) -> str | None:
    """The revision the database at ``url`` is at (None before the first migration)."""
    engine = build_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise StorageError(
            f"reading the schema revision of {redact(engine.url)} failed: {redact(reason)}"
        ) from None
    finally:
        engine.dispose()
