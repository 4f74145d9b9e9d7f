"""Alembic environment. ``storage.migrate.upgrade`` passes an open connection (in a transaction, holding
the migration lock) through ``config.attributes["connection"]``; the ``alembic`` command line
(``alembic -c storage/alembic.ini ...``) connects to ``sqlalchemy.url`` or ``DATABASE_URL`` instead."""

from __future__ import annotations

import os

from alembic import context

from storage.engine import DEFAULT_URL, build_engine
from storage.models import Base

config = context.config


def run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL") or DEFAULT_URL
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return
    engine = build_engine(url)
    try:
        with engine.connect() as own:
            run(own)
            own.commit()
    finally:
        engine.dispose()


main()
