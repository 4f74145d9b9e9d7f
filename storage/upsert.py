"""The one write primitive: ``INSERT ... ON CONFLICT (natural key) DO UPDATE`` for both dialects.

One statement is compiled per call and executed for chunks of at most 1,000 rows (``executemany``: each
row is its own parameter set, the driver pipelines them). A chunk never asks for more bound parameters
than the connection allows (SQLite's variable limit read from the connection; PostgreSQL's 65,535), so
a driver that folds a chunk into one multi-row statement stays within limits too. Everything runs in the
caller's transaction: nothing commits here, so a failure rolls back all the caller wrote in it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy import exc as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage.errors import StorageError
from storage.rows import TableSpec, chunk_size, normalise

PG_MAX_PARAMS = 65_535  # the wire protocol's 16-bit parameter count
ROWS_PER_STATEMENT = 1_000


def max_params(session: Session) -> int:
    """Bound parameters one statement may carry on the session's connection."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return PG_MAX_PARAMS
    raw = connection.connection.dbapi_connection
    getlimit = getattr(raw, "getlimit", None)  # Python 3.11+
    return getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) if getlimit else 999


def _insert(session: Session, table: Table):
    return (postgresql if session.get_bind().dialect.name == "postgresql" else sqlite).insert(table)


def write_rows(
    session: Session,
    table: Table,
    keys: Sequence[str],
    rows: Sequence[dict[str, Any]],
    *,
    add: Sequence[str] = (),
    update: bool = True,
) -> int:
    """Upsert ``rows`` (all with the same columns) on ``keys``; returns ``len(rows)``.

    On conflict the non-key columns present take the new values, except those in ``add``, which become
    ``old + new``. ``update=False`` keeps existing rows untouched (``DO NOTHING``).
    """
    if not rows:
        return 0
    columns = list(rows[0])
    stmt = _insert(session, table)
    changed = [c for c in columns if c not in keys]
    if update and changed:
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys),
            set_={c: (table.c[c] + stmt.excluded[c]) if c in add else stmt.excluded[c] for c in changed},
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    size = chunk_size(len(columns), max_params(session), ROWS_PER_STATEMENT)
    for start in range(0, len(rows), size):
        session.execute(stmt, list(rows[start : start + size]))
    return len(rows)


def upsert(
    session: Session, table: Table, spec: TableSpec, records: Iterable[Any], *, now: datetime | None = None
) -> int:
    """Normalise ``records`` for ``spec`` and upsert them; returns the number of distinct rows written."""
    return sum(write_rows(session, table, spec.keys, group) for group in normalise(spec, records, now=now))


# A write the database refuses because of the rows (a constraint, a value out of range, a malformed record):
# those rows' fault. Every other driver error is operational: connection lost, locked, read-only, disk
# full; it says nothing about the rows, and the same write may succeed later.
DATA_ERRORS = (StorageError, sa.DataError, sa.IntegrityError)


def is_data_error(exc: BaseException) -> bool:
    """True when the rows caused ``exc`` (``DATA_ERRORS``, or a value no bind parameter could take)."""
    return isinstance(exc, DATA_ERRORS) or (
        isinstance(exc, sa.StatementError) and not isinstance(exc, sa.DBAPIError)
    )


def is_operational(exc: BaseException) -> bool:
    """True when the database failed, not the rows: any driver error but a data one, or a pool timeout."""
    return isinstance(exc, sa.DBAPIError | sa.TimeoutError) and not is_data_error(exc)


def failure_reason(exc: BaseException) -> str:
    """The driver's one-line message of ``exc`` (no SQL, no parameters), for logs and outcomes."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:200] if text else ''}"


def write_what_fits(
    session: Session, write: Callable[[Session, list], int], rows: list
) -> tuple[int, list[tuple[Any, str]]]:
    """``write(session, rows)`` inside a savepoint; when the database refuses it for a data reason, the
    rows are split in halves (each in its own savepoint) down to the single rows it refuses, which are left
    out. Returns (rows written, [(row, reason)] refused). One bad row among n costs about 2 log2(n) extra
    savepoints; nothing is committed here, and an operational error propagates (the caller's transaction
    then writes nothing)."""
    if not rows:
        return 0, []
    try:
        with session.begin_nested():
            return write(session, rows), []
    except (sa.StatementError, StorageError) as exc:
        if not is_data_error(exc):
            raise
        if len(rows) == 1:
            return 0, [(rows[0], failure_reason(exc))]
    half = len(rows) // 2
    first, refused_first = write_what_fits(session, write, rows[:half])
    second, refused_second = write_what_fits(session, write, rows[half:])
    return first + second, refused_first + refused_second
