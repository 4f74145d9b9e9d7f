"""Beat slot claims (``slot_runs``): which message runs a schedule entry's firing, and how it ended.

A claim is keyed by (entry, slot), the slot being ``beat_schedule.Firing.key`` (``2026-11-30@00:30``). It is
taken in the database, not in Redis, so it survives a worker's death (the redelivered message, with the
same task id, finds its own claim) and a Redis restart without data (no slot runs twice). What a message
may do with an existing claim is decided by ``planning.slots.decide``; these functions only read and write.

All take the caller's session and never commit. Writes are compare-and-set: ``take_slot`` succeeds for one
caller only, however many race for the same slot. Times are aware UTC datetimes supplied by the caller.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.errors import StorageError
from storage.models import SLOT_STATES, SlotRun
from storage.upsert import _insert


def slot_claim(session: Session, entry: str, slot: str) -> SlotRun | None:
    """The claim on ``entry``'s ``slot``, or None when no message has claimed it."""
    return session.get(SlotRun, (entry, slot))


def slot_claim_of_task(session: Session, entry: str, task_id: str) -> SlotRun | None:
    """The claim a message (``task_id``) holds on one of ``entry``'s slots: what its first delivery
    claimed, so a redelivery runs that firing even when the calendar gate would now say another."""
    return session.scalars(
        select(SlotRun)
        .where(SlotRun.entry == entry, SlotRun.task_id == task_id)
        .order_by(SlotRun.started_at.desc())
    ).first()


def take_slot(
    session: Session, entry: str, slot: str, task_id: str, now: datetime, replacing: SlotRun | None = None
) -> bool:
    """Claim ``entry``'s ``slot`` for ``task_id``, state ``running``, attempt counted, started ``now``.

    ``replacing``: the claim as read (None when there was none). The write only succeeds when the row is
    still exactly that claim (same holder, state and attempts), so of two messages racing for a slot one
    wins and the other gets False and reads again."""
    if replacing is None:
        stmt = _insert(session, SlotRun.__table__).values(
            entry=entry, slot=slot, task_id=task_id, state="running", attempts=1, started_at=now
        )
        stmt = stmt.on_conflict_do_nothing(index_elements=["entry", "slot"]).returning(
            SlotRun.__table__.c.slot
        )
        return session.execute(stmt).first() is not None  # (psycopg reports no rowcount for this INSERT)
    result = session.execute(
        update(SlotRun)
        .where(
            SlotRun.entry == entry,
            SlotRun.slot == slot,
            SlotRun.task_id == replacing.task_id,
            SlotRun.state == replacing.state,
            SlotRun.attempts == replacing.attempts,
        )
        .values(
            task_id=task_id,
            state="running",
            attempts=SlotRun.attempts + 1,
            started_at=now,
            finished_at=None,
            reason=None,
        )  # fmt: skip
    )
    return result.rowcount == 1


def finish_slot(
    session: Session,
    entry: str,
    slot: str,
    task_id: str,
    state: str,
    now: datetime,
    reason: str | None = None,
) -> bool:
    """End ``task_id``'s claim on the slot as ``done`` or ``failed`` (with ``reason``); False when the
    message no longer holds it (another took it over)."""
    if state not in SLOT_STATES[1:]:
        raise StorageError(f"slot_runs: state {state!r} is not one of {', '.join(SLOT_STATES[1:])}")
    result = session.execute(
        update(SlotRun)
        .where(SlotRun.entry == entry, SlotRun.slot == slot, SlotRun.task_id == task_id)
        .values(state=state, finished_at=now, reason=reason[:2000] if reason else None)
    )
    return result.rowcount == 1


def fail_slots_of_task(session: Session, task_id: str, reason: str, now: datetime) -> list[tuple[str, str]]:
    """Mark every claim ``task_id`` holds and is still running as failed (its message was given up: a hard
    time limit killed it, or it was dead-lettered); returns the (entry, slot) pairs so marked."""
    held = session.execute(
        select(SlotRun.entry, SlotRun.slot).where(SlotRun.task_id == task_id, SlotRun.state == "running")
    ).all()
    for entry, slot in held:
        finish_slot(session, entry, slot, task_id, "failed", now, reason)
    return [(entry, slot) for entry, slot in held]


__all__ = ["fail_slots_of_task", "finish_slot", "slot_claim", "slot_claim_of_task", "take_slot"]
