"""Alembic migrations on SQLite and PostgreSQL: head matches the models, upgrades are idempotent and
serialised between processes, and the CLI reports errors without tracebacks or passwords."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, inspect, text
from sqlalchemy.pool import NullPool

from storage.engine import build_engine
from storage.errors import StorageError
from storage.migrate import ADVISORY_LOCK_KEY, alembic_config, current, head, upgrade
from storage.models import Base
from storage.testing import scratch_database
from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]
TABLES = set(Base.metadata.tables)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    """An empty, private database (not migrated)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'storage.db'}"
        return
    shared = request.getfixturevalue("database_url")
    require(shared.startswith("postgresql"), "PostgreSQL storage tests need TEST_DATABASE_URL")
    with scratch_database(shared) as private:
        yield private


def diffs(url, metadata):
    engine = build_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return compare_metadata(
                MigrationContext.configure(connection, opts={"compare_type": True}), metadata
            )
    finally:
        engine.dispose()


def table_names(url) -> set[str]:
    engine = build_engine(url, poolclass=NullPool)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_models(url):
    assert upgrade(url) == head()
    assert table_names(url) == TABLES
    assert diffs(url, Base.metadata) == []


def test_the_comparison_notices_a_model_the_migrations_lack(url):
    upgrade(url)
    changed = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["symbols"].append_column(Column("sector", Integer, nullable=True))
    found = diffs(url, changed)
    assert [(d[0], d[2], d[3].name) for d in found] == [("add_column", "symbols", "sector")]


def test_upgrade_is_idempotent_and_downgrade_reverses_it(url):
    assert current(url) is None
    assert upgrade(url) == head()
    assert upgrade(url) == head()
    assert current(url) == head()
    engine = build_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "base")
    finally:
        engine.dispose()
    assert table_names(url) == set()
    assert upgrade(url) == head()
    assert table_names(url) == TABLES


def begin_first_migration(url):
    """Run the whole migration in a transaction that stays open, as a first migrator would mid-way,
    holding what ``upgrade`` must wait for (SQLite's write lock; PostgreSQL's advisory lock)."""
    engine = build_engine(url, poolclass=NullPool)
    connection = engine.connect()
    if connection.dialect.name == "sqlite":
        connection.connection.dbapi_connection.isolation_level = None  # we say BEGIN ourselves
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
    command.upgrade(alembic_config(connection), "head")

    def commit():
        connection.commit()
        connection.close()
        engine.dispose()

    return commit


def test_a_second_migrator_waits_for_the_first_and_then_finds_head(url):
    commit = begin_first_migration(url)
    outcome = {}

    def second():
        try:
            outcome["revision"] = upgrade(url)
        except StorageError as exc:
            outcome["error"] = str(exc)

    worker = threading.Thread(target=second)
    try:
        worker.start()
        time.sleep(1.0)
        assert worker.is_alive(), f"upgrade did not wait for the migration in progress: {outcome}"
    finally:
        commit()
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert outcome == {"revision": head()}
    assert diffs(url, Base.metadata) == []


def run_cli(*args, env=None, timeout=120):
    return subprocess.Popen(
        [sys.executable, "-m", "storage", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_processes_migrating_at_once_all_succeed(url):
    processes = [run_cli("migrate", "--url", url) for _ in range(3)]
    results = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], results
    assert all(f"at revision {head()}" in out for out, _ in results)
    assert diffs(url, Base.metadata) == []


def test_cli_reads_database_url_from_the_environment(tmp_path):
    target = tmp_path / "var" / "env.db"
    process = run_cli("migrate", env={"DATABASE_URL": f"sqlite:///{target}"})
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert target.exists() and current(f"sqlite:///{target}") == head()


@pytest.mark.parametrize(
    "bad_url",
    ["postgresql+psycopg://bob:s3cret@127.0.0.1:1/x?connect_timeout=2", "mysql://bob:s3cret@db/x", "garbage"],
)
def test_cli_errors_are_one_line_without_password(bad_url):
    process = run_cli("migrate", "--url", bad_url)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 2
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and "s3cret" not in err + out


def test_upgrade_of_an_unreachable_database_is_a_storage_error():
    with pytest.raises(StorageError, match="bob:\\*\\*\\*@") as caught:
        upgrade("postgresql+psycopg://bob:s3cret@127.0.0.1:1/x?connect_timeout=2")
    assert "s3cret" not in str(caught.value)
