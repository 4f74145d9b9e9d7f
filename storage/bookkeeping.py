"""Operational records: API usage counters, pipeline runs, and chord batches for the hung-chord watchdog.

All functions take the caller's session and never commit; all are safe to repeat after a redelivery:
usage counts add (so call them once per counted event, not per attempt to store it), run and batch
registration keep the first record, finishing and completing keep the first finish time.
Times are aware UTC datetimes; ``now`` parameters default to the current time.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.errors import StorageError
from storage.models import USAGE_COUNTS, ApiUsage, ChordBatch, PipelineRun
from storage.rows import jsonable, normalise, spec_for
from storage.types import as_utc
from storage.upsert import write_rows

_USAGE = spec_for(ApiUsage.__table__)
_RUNS = spec_for(PipelineRun.__table__)
_BATCHES = spec_for(ChordBatch.__table__)
RUN_STATUSES = ("running", "ok", "partial", "failed")


def _now(now: datetime | None) -> datetime:
    return datetime.now(UTC) if now is None else as_utc(now)


def add_api_usage(session: Session, provider: str, day: date | str, **counts: int) -> int:
    """Add ``counts`` (any of calls, ok, throttled, quota_exhausted, errors, deferred; >= 0) to the
    provider's row for ``day`` (a UTC day), creating it at zero first. Returns 1 (rows written).

    One atomic statement (``INSERT ... ON CONFLICT DO UPDATE SET n = n + new``): concurrent workers
    never lose an increment.
    """
    unknown = sorted(set(counts) - set(USAGE_COUNTS))
    if unknown:
        raise StorageError(f"api_usage: unknown count(s) {', '.join(unknown)}; use {', '.join(USAGE_COUNTS)}")
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise StorageError(f"api_usage: {name} must be a non-negative integer, got {value!r}")
    row = {"provider": provider, "day": day, **{name: counts.get(name, 0) for name in USAGE_COUNTS}}
    (rows,) = normalise(_USAGE, [row])
    return write_rows(session, ApiUsage.__table__, _USAGE.keys, rows, add=USAGE_COUNTS)


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


def register_batch(
    session: Session,
    batch_id: str,
    *,
    kind: str,
    queue: str,
    callback: str,
    task_ids: Iterable[str],
    deadline: datetime,
    run_id: str | None = None,
    now: datetime | None = None,
) -> int:
    """Record a chord in flight (``batch_id`` = the header group's id); overdue once ``deadline`` passes.

    Returns 1 when recorded, 0 when the batch was registered before (the first registration stands).
    """
    ids = [str(t) for t in task_ids]
    row = {
        "batch_id": batch_id,
        "run_id": run_id,
        "kind": kind,
        "queue": queue,
        "callback": callback,
        "task_ids": ids,
        "expected": len(ids),
        "created_at": _now(now),
        "deadline": deadline,
        "redriven": 0,
    }
    (rows,) = normalise(_BATCHES, [row])
    if rows[0]["deadline"] <= rows[0]["created_at"]:
        raise StorageError(f"chord_batches: deadline {rows[0]['deadline'].isoformat()} is not after creation")
    existing = session.get(ChordBatch, batch_id)
    if existing is not None:
        return 0
    write_rows(session, ChordBatch.__table__, _BATCHES.keys, rows, update=False)
    return 1


def complete_batch(session: Session, batch_id: str, *, now: datetime | None = None) -> int:
    """Mark a batch's callback as run. Returns 1 the first time, 0 when already complete or unknown."""
    result = session.execute(
        update(ChordBatch)
        .where(ChordBatch.batch_id == batch_id, ChordBatch.completed_at.is_(None))
        .values(completed_at=_now(now))
    )
    return result.rowcount or 0


def redrive_batch(session: Session, batch_id: str, deadline: datetime) -> int:
    """Count one redrive of an incomplete batch and move its deadline; returns 1, or 0 if complete/unknown."""
    result = session.execute(
        update(ChordBatch)
        .where(ChordBatch.batch_id == batch_id, ChordBatch.completed_at.is_(None))
        .values(redriven=ChordBatch.redriven + 1, deadline=as_utc(deadline))
    )
    return result.rowcount or 0


def stalled_batches(session: Session, now: datetime | None = None) -> list[ChordBatch]:
    """Incomplete batches whose deadline is before ``now``, oldest deadline first."""
    query = (
        select(ChordBatch)
        .where(ChordBatch.completed_at.is_(None), ChordBatch.deadline < _now(now))
        .order_by(ChordBatch.deadline, ChordBatch.batch_id)
    )
    return list(session.scalars(query))


__all__ = [
    "RUN_STATUSES",
    "add_api_usage",
    "complete_batch",
    "record_run_finish",
    "record_run_start",
    "redrive_batch",
    "register_batch",
    "stalled_batches",
]
