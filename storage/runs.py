"""Durable dispatch runs: each run as admitted, kept until its callback has run, so a run Redis lost can be
submitted again (``jobs.redrive``). The spec is stored as the JSON the dispatcher itself uses
(``RunSpec.to_json``), as a mapping; ``storage`` knows nothing of ``dispatch``.

A run's ``state``: ``open`` (admitted), ``fired`` (complete, its callback sent: the message waits in Redis
too), ``done`` (its callback ran, or it has none), ``abandoned`` (too old to re-drive). Open and fired runs
are the ones Redis can lose.

All functions take the caller's session and never commit; all are safe to repeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from storage.models import DispatchRun
from storage.rows import normalise, spec_for
from storage.types import as_utc
from storage.upsert import write_rows

_RUNS = spec_for(DispatchRun.__table__)
RUN_STATES = ("open", "fired", "done", "abandoned")
LIVE = ("open", "fired")  # what Redis can lose


@dataclass(frozen=True)
class OpenRun:
    """A durable run Redis can lose (open or fired): ``spec`` (the mapping of its ``RunSpec``), every key
    it admitted, when, and its state."""

    id: str
    spec: dict[str, Any]
    keys: list[str]
    planned: int
    created_at: datetime
    redriven: int
    state: str


def record_run(
    session: Session, spec: dict[str, Any], keys: list[str], planned: int, now: datetime | None = None
) -> int:
    """Keep run ``spec`` (its ``id``, ``provider``, ``kind``, ``day``...) with its admitted ``keys``, open.
    A run recorded already is left as it is (the dispatcher admits a run id once too). Returns 1."""
    row = {"id": spec["id"], "provider": spec["provider"], "kind": spec["kind"], "day": spec["day"], "spec": spec,
           "keys": list(keys), "planned": planned, "state": "open", "redriven": 0,
           "created_at": datetime.now(UTC) if now is None else as_utc(now), "closed_at": None}  # fmt: skip
    (rows,) = normalise(_RUNS, [row])
    return write_rows(session, DispatchRun.__table__, _RUNS.keys, rows, update=False)


def close_run(session: Session, run_id: str, state: str = "done", now: datetime | None = None) -> int:
    """Move a live run (open or fired) to ``state``: ``fired`` (from open only), ``done`` or
    ``abandoned``; returns 1 if it moved, else 0 (already there or beyond, or unknown)."""
    if state not in RUN_STATES[1:]:
        raise ValueError(f"dispatch_runs: state {state!r} is not one of {', '.join(RUN_STATES[1:])}")
    before = ("open",) if state == "fired" else LIVE
    values: dict[str, Any] = {"state": state}
    if state != "fired":
        values["closed_at"] = datetime.now(UTC) if now is None else as_utc(now)
    result = session.execute(
        update(DispatchRun).where(DispatchRun.id == run_id, DispatchRun.state.in_(before)).values(**values)
    )
    return result.rowcount or 0


def count_redrive(session: Session, run_id: str) -> None:
    """One more re-drive of ``run_id``."""
    session.execute(
        update(DispatchRun).where(DispatchRun.id == run_id).values(redriven=DispatchRun.redriven + 1)
    )


def open_runs(session: Session) -> list[OpenRun]:
    """Every run Redis can lose (open or fired), oldest first."""
    query = (
        select(DispatchRun)
        .where(DispatchRun.state.in_(LIVE))
        .order_by(DispatchRun.created_at, DispatchRun.id)
    )
    return [OpenRun(r.id, dict(r.spec), list(r.keys), r.planned, as_utc(r.created_at), r.redriven, r.state)
            for r in session.scalars(query)]  # fmt: skip


def run_state(session: Session, run_id: str) -> str | None:
    """The durable state of ``run_id`` (open, done, abandoned), None when it was never recorded."""
    return session.scalar(select(DispatchRun.state).where(DispatchRun.id == run_id))


def prune_runs(session: Session, closed_before: datetime) -> int:
    """Delete runs closed before the aware ``closed_before``: kept a while for operators, then not needed."""
    query = delete(DispatchRun).where(
        DispatchRun.state != "open", DispatchRun.closed_at < as_utc(closed_before)
    )
    return session.execute(query).rowcount or 0


__all__ = [
    "OpenRun",
    "RUN_STATES",
    "close_run",
    "count_redrive",
    "open_runs",
    "prune_runs",
    "record_run",
    "run_state",
]
