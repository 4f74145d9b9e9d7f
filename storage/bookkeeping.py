"""Operational records: API usage counters and pipeline runs.

All functions take the caller's session and never commit; all are safe to repeat after a redelivery:
usage counts add (so call them once per counted event, not per attempt to store it), run registration
keeps the first record, finishing keeps the first finish time.
Times are aware UTC datetimes; ``now`` parameters default to the current time.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from storage.errors import StorageError
from storage.models import USAGE_COUNTS, ApiUsage, PipelineRun
from storage.rows import jsonable, normalise, spec_for
from storage.types import as_utc
from storage.upsert import write_rows

USAGE_SPEC = spec_for(ApiUsage.__table__)
_RUNS = spec_for(PipelineRun.__table__)
RUN_STATUSES = ("running", "ok", "partial", "failed")


def _now(now: datetime | None) -> datetime:
    return datetime.now(UTC) if now is None else as_utc(now)


def add_api_usage(session: Session, provider: str, day: date | str, **counts: int) -> int:
    """Add ``counts`` (any of calls, ok, throttled, quota_exhausted, errors, deferred; >= 0) to the
    provider's row for ``day`` (a UTC day) that no run owns, creating it at zero first. Returns 1 (rows
    written). A dispatch run's usage is set once per run instead (``storage.usage.set_run_usage``).

    One atomic statement (``INSERT ... ON CONFLICT DO UPDATE SET n = n + new``): concurrent workers
    never lose an increment.
    """
    return write_rows(session, ApiUsage.__table__, USAGE_SPEC.keys, usage_rows(provider, day, "", counts),
                      add=USAGE_COUNTS)  # fmt: skip


def usage_rows(provider: str, day: date | str, run_id: str, counts: dict[str, int]) -> list[dict]:
    """The one ``api_usage`` row for ``counts`` (checked: known names, non-negative whole numbers; missing
    ones are 0), normalised for ``write_rows``; ``StorageError`` otherwise."""
    unknown = sorted(set(counts) - set(USAGE_COUNTS))
    if unknown:
        raise StorageError(f"api_usage: unknown count(s) {', '.join(unknown)}; use {', '.join(USAGE_COUNTS)}")
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise StorageError(f"api_usage: {name} must be a non-negative integer, got {value!r}")
    row = {"provider": provider, "day": day, "run_id": run_id, **{n: counts.get(n, 0) for n in USAGE_COUNTS}}
    (rows,) = normalise(USAGE_SPEC, [row])
    return rows


def record_run_start(
    session: Session,
    kind: str,
    trading_day: date | str | None = None,
    *,
    run_id: str | None = None,
    now: datetime | None = None,
) -> str:
    """Record that a run of ``kind`` started; returns its id (``run_id``, e.g. the Celery task id, or a
    new UUID). Starting an id that exists already changes nothing (a redelivered task)."""
    run_id = run_id or str(uuid.uuid4())
    row = {
        "id": run_id,
        "kind": kind,
        "trading_day": trading_day,
        "started_at": _now(now),
        "status": "running",
    }
    (rows,) = normalise(_RUNS, [row])
    write_rows(session, PipelineRun.__table__, _RUNS.keys, rows, update=False)
    return run_id


def record_run_finish(
    session: Session,
    run_id: str,
    status: str,
    summary: dict[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> int:
    """Finish a run with ``status`` (ok | partial | failed) and a small JSON ``summary``.

    Returns 1 when the run was still running, 0 when it was already finished (its first finish stands)
    or is unknown.
    """
    if status not in RUN_STATUSES[1:]:
        raise StorageError(f"pipeline_runs: status {status!r} is not one of {', '.join(RUN_STATUSES[1:])}")
    result = session.execute(
        update(PipelineRun)
        .where(PipelineRun.id == run_id, PipelineRun.finished_at.is_(None))
        .values(
            finished_at=_now(now), status=status, summary=jsonable(summary) if summary is not None else None
        )
    )
    return result.rowcount or 0


__all__ = [
    "RUN_STATUSES",
    "add_api_usage",
    "record_run_finish",
    "record_run_start",
]
