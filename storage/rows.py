"""Pure record handling: turn caller records (dicts or objects) into clean rows for one table.

A record is a mapping or any object with attributes named like the table's columns (the providers'
frozen dataclasses, analysis results). Rules, the same for every table:

- A field that is absent is left unchanged on update and takes its default on insert; a field present
  with ``None`` stores NULL. Mapping keys that are not columns are an error (a typo must not vanish).
- Values are checked and coerced per column type: numpy scalars become Python values, NaN becomes NULL
  in nullable float columns and is an error elsewhere, ISO strings become dates and datetimes, aware
  datetimes become UTC (naive ones are taken as UTC), JSON values lose numpy types and NaN.
- Text must fit its column: no longer than its length, no NUL character, valid Unicode (PostgreSQL
  refuses the first two, every driver the third; SQLite would silently keep an overlong value).
- Within one call the last record for a natural key wins; rows come back sorted by key so concurrent
  writers lock keys in the same order (no deadlocks on PostgreSQL).

``normalise`` refuses a whole batch for one bad record (a caller's mistake must not vanish); ``fit``
is for data from outside (provider answers): each record the table cannot hold is refused alone, with
its reason, and text longer than its column is cut to the column's length rather than refused.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, Integer, String, Table, Text

from storage.errors import StorageError
from storage.types import UTCDateTime, as_utc

_MISSING = object()


@dataclass(frozen=True)
class TableSpec:
    """What a table accepts: derived from the model, so the model stays the one declaration."""

    table: str
    keys: tuple[str, ...]
    kinds: Mapping[str, str]  # column -> 'float' | 'int' | 'bool' | 'str' | 'date' | 'datetime' | 'json'
    nullable: frozenset[str]
    required: frozenset[str]  # must be given when a row is inserted (no default, not nullable)
    lengths: Mapping[str, int] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)  # accepted field name -> column
    stamp: str | None = None  # column set to "now" (UTC) when a record leaves it out
    defaulted: frozenset[str] = frozenset()  # not nullable, not a key, with a default: None means "not given"

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.kinds)


def _kind(column_type) -> str:
    for cls, kind in (
        (UTCDateTime, "datetime"),
        (Boolean, "bool"),
        (Integer, "int"),
        (Float, "float"),
        (Date, "date"),
        (JSON, "json"),
        (Text, "str"),
        (String, "str"),
    ):
        if isinstance(column_type, cls):
            return kind
    raise TypeError(f"no record kind for column type {column_type!r}")


def spec_for(
    table: Table, *, aliases: Mapping[str, str] | None = None, stamp: str | None = None
) -> TableSpec:
    """The ``TableSpec`` of a model's table (``Model.__table__``)."""
    kinds = {c.name: _kind(c.type) for c in table.columns}
    nullable = frozenset(c.name for c in table.columns if c.nullable and not c.primary_key)
    required = frozenset(
        c.name
        for c in table.columns
        if not c.nullable and c.default is None and c.server_default is None and c.name != stamp
    )
    lengths = {c.name: c.type.length for c in table.columns if isinstance(c.type, String) and c.type.length}
    keys = tuple(c.name for c in table.primary_key.columns)
    defaulted = frozenset(
        c.name for c in table.columns if not c.nullable and not c.primary_key and c.default is not None
    )
    return TableSpec(
        table.name, keys, kinds, nullable, required, lengths, dict(aliases or {}), stamp, defaulted
    )


_EXACT = {"float": float, "int": int, "bool": bool, "str": str, "date": date}


def coerce(spec: TableSpec, column: str, value: Any) -> Any:
    """``value`` as the Python type the column stores; raises ``ValueError`` with a short reason."""
    kind = spec.kinds[column]
    if type(value) is _EXACT.get(kind):  # fast path for the common, already-clean value
        if kind == "float":
            if -math.inf < value < math.inf:
                return value
        elif kind != "str" or (len(value) <= spec.lengths.get(column, len(value)) and value.isascii()
                               and "\x00" not in value):  # fmt: skip
            return value
    if value is None or (kind == "float" and _is_nan(value)):
        if column in spec.nullable:
            return None
        raise ValueError("is missing (None/NaN) but the column is not nullable")
    if isinstance(value, Enum):
        value = value.value
    if hasattr(value, "item") and not isinstance(value, (str, bytes)) and kind != "json":
        value = value.item()  # numpy scalar -> Python scalar (datetime64 -> datetime/date)
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"expected a number, got {type(value).__name__}")
        if math.isinf(value):
            raise ValueError("is infinite")
        return float(value)
    if kind == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected an integer, got {value!r}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"expected true/false, got {value!r}")
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise ValueError(f"expected text, got {type(value).__name__}")
        limit = spec.lengths.get(column)
        if limit and len(value) > limit:
            raise ValueError(f"is longer than {limit} characters")
        if "\x00" in value:
            raise ValueError("contains a NUL character")
        if not value.isascii() and not _encodable(value):
            raise ValueError("is not valid Unicode text (a lone surrogate)")
        return str(value)
    if kind == "date":
        return as_date(value)
    if kind == "datetime":
        return _datetime(value)
    return jsonable(value)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_nan(value: Any) -> bool:
    try:
        return bool(value != value)  # NaN is the only value unequal to itself (float, numpy, pandas)
    except (TypeError, ValueError):
        return False


def as_date(value: Any) -> date:
    """``value`` (date, ISO text, numpy day, naive midnight datetime) as a date; ``ValueError`` otherwise."""
    if hasattr(value, "item") and not isinstance(value, date):
        value = value.item()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"expected an ISO date, got {value!r}") from None
    if isinstance(value, datetime):
        if value.tzinfo is None and value.time() == datetime.min.time():
            return value.date()
        raise ValueError(f"expected a date, got the instant {value.isoformat()}")
    if isinstance(value, date):
        return value
    raise ValueError(f"expected a date, got {type(value).__name__}")


def _datetime(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"expected an ISO datetime, got {value!r}") from None
    if isinstance(value, int) and not isinstance(value, bool):
        # numpy datetime64[ns].item() gives nanoseconds since the epoch
        return datetime.fromtimestamp(value / 1e9, UTC)
    if not isinstance(value, datetime):
        raise ValueError(f"expected a datetime, got {type(value).__name__}")
    return as_utc(value)


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars, tuples, dates and NaN made JSON-safe (NaN/inf -> None)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, Enum):
        value = value.value
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return jsonable(value.tolist())  # numpy scalars and arrays
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise ValueError(f"is not JSON-serialisable ({type(value).__name__})")


def _fields(spec: TableSpec, record: Any, index: int) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if isinstance(record, Mapping):
        unknown = [k for k in record if k not in spec.kinds and k not in spec.aliases]
        if unknown:
            raise StorageError(
                f"{spec.table}: record {index} has unknown field(s) {', '.join(map(str, unknown))}"
            )
        get = record.get
    else:

        def get(name, default):
            return getattr(record, name, default)

    for alias, column in spec.aliases.items():
        value = get(alias, _MISSING)
        if value is not _MISSING:
            found[column] = value
    for column in spec.kinds:
        value = get(column, _MISSING)
        if value is not _MISSING:
            found[column] = value
    return found


def normalise(spec: TableSpec, records: Iterable[Any], *, now: datetime | None = None) -> list[list[dict]]:
    """Clean rows grouped by the set of fields they carry; each group deduplicated (last wins), key-sorted.

    Raises ``StorageError`` naming the table, the record's index and the field for any bad value, a
    missing natural key, or a missing field the table needs on insert.
    """
    stamp_value = as_utc(now) if now is not None else datetime.now(UTC)
    groups: dict[frozenset[str], dict[tuple, dict]] = {}
    for index, record in enumerate(records):
        raw = _fields(spec, record, index)
        if spec.stamp and raw.get(spec.stamp) is None:
            raw[spec.stamp] = stamp_value
        missing = [k for k in spec.keys if raw.get(k) is None]
        if missing:
            raise StorageError(f"{spec.table}: record {index} lacks its key field(s) {', '.join(missing)}")
        row = {}
        for column, value in raw.items():
            try:
                row[column] = coerce(spec, column, value)
            except ValueError as exc:
                raise StorageError(f"{spec.table}: record {index} field {column!r} {exc}") from None
        group = groups.setdefault(frozenset(row), {})
        group.pop(key := tuple(row[k] for k in spec.keys), None)
        group[key] = row
    out = []
    for present, rows in groups.items():
        absent = sorted(spec.required - present)
        if absent:
            raise StorageError(f"{spec.table}: records lack required field(s) {', '.join(absent)}")
        out.append([rows[k] for k in sorted(rows)])
    return out


@dataclass(frozen=True)
class Fitted:
    """What ``fit`` made of records: ``rows`` the table can hold (column -> clean value, text cut to its
    column), ``refused`` the records it cannot hold as ``(label, reason)`` (label: the record's natural key
    as text), and ``cut``: text values shortened to their column's length."""

    rows: list[dict[str, Any]]
    refused: list[tuple[str, str]]
    cut: int = 0


def fit(spec: TableSpec, records: Iterable[Any], *, now: datetime | None = None) -> Fitted:
    """Each record as a row the table can hold, or refused alone with its reason: never raises for a value.

    The bounds are the model's columns (``spec``): a non-key text longer than its column is cut to the
    column's length, and a NUL or lone surrogate in it is dropped; a key is never altered (a cut key could
    name another row), so a key that does not fit refuses the record, as does any value its column cannot
    hold (a non-finite or missing number, an unreadable date...). A None for a column that cannot be NULL
    but has a default (a listing without a currency) leaves the field out. Rows keep the other fields each
    record gave."""
    stamp_value = as_utc(now) if now is not None else datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    refused: list[tuple[str, str]] = []
    cut = 0
    for index, record in enumerate(records):
        try:
            raw = _fields(spec, record, index)
        except StorageError as exc:
            refused.append((f"record {index}", str(exc)))
            continue
        label = " ".join(str(raw.get(k)) for k in spec.keys)
        if spec.stamp and raw.get(spec.stamp) is None:
            raw[spec.stamp] = stamp_value
        row, problem = {}, None
        for column, value in raw.items():
            if value is None and column in spec.defaulted:
                continue  # not given: the default on insert, the stored value on update
            if spec.kinds[column] == "str" and column not in spec.keys and isinstance(value, str):
                fitted = _fit_text(value, spec.lengths.get(column))
                cut += len(fitted) < len(value)
                value = fitted
            try:
                row[column] = coerce(spec, column, value)
            except ValueError as exc:
                problem = f"{column} {exc}"
                break
        missing = [k for k in spec.keys if row.get(k) is None]
        if problem is None and missing:
            problem = f"lacks its key field(s) {', '.join(missing)}"
        if problem is None:
            rows.append(row)
        else:
            refused.append((label, problem))
    return Fitted(rows, refused, cut)


def _fit_text(text: str, limit: int | None) -> str:
    """``text`` without NUL characters or lone surrogates, cut to ``limit`` characters."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if not text.isascii() and not _encodable(text):
        text = text.encode("utf-8", "ignore").decode("utf-8")
    return text[:limit] if limit and len(text) > limit else text


def chunk_size(columns: int, max_params: int, max_rows: int = 1000) -> int:
    """Rows per multi-row statement so that ``rows * columns <= max_params`` (SQLite's variable limit)."""
    if columns < 1 or max_params < 1:
        raise ValueError("columns and max_params must be positive")
    return max(1, min(max_rows, max_params // columns))
