"""Test support: a private, throw-away database for one test, on a shared PostgreSQL or a fresh SQLite file.

PostgreSQL: ``scratch_database(url)`` creates a schema ``t_<random hex>`` in the shared database and
yields a URL whose connections put that schema first on their ``search_path`` (libpq ``options``), so
every table, the ``alembic_version`` row included, lives in the schema; the schema is dropped (CASCADE)
afterwards. Tests running at the same time against the same database never see each other's rows.
SQLite: the URL is yielded unchanged (a fresh file per test already isolates).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from storage.engine import Database, build_engine, parse_url


def schema_url(url: str | URL, schema: str) -> str:
    """``url`` with ``search_path`` set to ``schema`` for every connection (PostgreSQL)."""
    parsed = parse_url(url)
    with_path = parsed.update_query_dict({"options": f"-csearch_path={schema}"})
    return with_path.render_as_string(hide_password=False)


@contextmanager
def scratch_database(url: str | URL) -> Iterator[str]:
    """Yield a URL of an empty, private database space; remove it on exit (see the module docstring)."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "postgresql":
        yield parsed.render_as_string(hide_password=False)
        return
    schema = f"t_{secrets.token_hex(6)}"
    admin = build_engine(parsed, poolclass=NullPool)
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        yield schema_url(parsed, schema)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@contextmanager
def migrated_database(url: str | URL) -> Iterator[Database]:
    """A ``Database`` on a private space of ``url`` (see ``scratch_database``), migrated to head."""
    from storage.migrate import upgrade

    with scratch_database(url) as private:
        upgrade(private)
        db = Database(private)
        try:
            yield db
        finally:
            db.dispose()
