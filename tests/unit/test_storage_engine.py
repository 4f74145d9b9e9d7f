"""Database URLs: clear StorageErrors for unusable ones, never a password in a message or repr."""

from __future__ import annotations

import pytest

from storage.engine import Database, parse_url, redact
from storage.errors import StorageError


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql+psycopg://bob:s3cret@db:5432/x", "postgresql+psycopg://bob:***@db:5432/x"),
        ("postgresql://bob:p@ss:w0rd@db/x", "postgresql://bob:***@db/x"),
        ("postgresql+psycopg://bob@db/x", "postgresql+psycopg://bob@db/x"),
        ("sqlite:///var/tickerbeat.db", "sqlite:///var/tickerbeat.db"),
        ("connection to bob:s3cret@db failed", "connection to bob:s3cret@db failed"),
    ],
)
def test_redact(url, expected):
    assert redact(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("garbage", "not a database URL"),
        ("", "not a database URL"),
        ("mysql://bob:s3cret@db/x", "unsupported database 'mysql'"),
        ("postgresql+nodriver://bob:s3cret@db/x", "no driver"),
    ],
)
def test_unusable_urls_raise_storage_error_without_the_password(url, message):
    with pytest.raises(StorageError, match=message) as caught:
        Database(url)
    assert "s3cret" not in str(caught.value)


def test_sqlite_parent_directory_is_created(tmp_path):
    target = tmp_path / "a" / "b" / "t.db"
    db = Database(f"sqlite:///{target}")
    try:
        db.check()
        assert target.exists()
    finally:
        db.dispose()


def test_uncreatable_sqlite_directory_is_a_storage_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError, match="cannot create the directory"):
        Database(f"sqlite:///{blocker}/sub/t.db")


def test_repr_and_url_hide_the_password():
    db = Database("postgresql+psycopg://bob:s3cret@127.0.0.1:1/x")
    try:
        assert "s3cret" not in repr(db) and "s3cret" not in db.url
        assert "***" in db.url
    finally:
        db.dispose()


def test_unreachable_database_is_a_storage_error_without_the_password():
    db = Database("postgresql+psycopg://bob:s3cret@127.0.0.1:1/x?connect_timeout=2")
    try:
        with pytest.raises(StorageError, match="cannot reach") as caught:
            db.check()
        assert "s3cret" not in str(caught.value)
    finally:
        db.dispose()


def test_parse_url_keeps_the_query():
    assert parse_url("postgresql+psycopg://u@h/d?options=-csearch_path%3Dt_x").query == {
        "options": "-csearch_path=t_x"
    }


def test_sqlite_connections_use_wal_with_normal_sync(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'sync.db'}")
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    db.dispose()
