"""Dead letters (``dead_letters``): messages given up after too many deliveries, kept for operators.

A message whose worker dies every time it runs it (a crash, the OOM killer, a SIGKILL) would otherwise be
requeued forever (late acks, ``reject_on_worker_lost``). The task wrapper stores it here instead of running
it again (jobs/dead_letters.py); operators list, inspect and replay it (``python -m stack.ops dead-letters``).

All functions take the caller's session and never commit. ``bury`` is idempotent per task id: the same
message buried twice (its worker died between storing and acknowledging) updates the one letter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.models import DeadLetter
from storage.rows import jsonable
from storage.upsert import _insert


def bury(
    session: Session,
    *,
    task: str,
    task_id: str,
    queue: str | None,
    args: list[Any],
    kwargs: dict[str, Any],
    deliveries: int,
    first_seen: datetime,
    last_seen: datetime,
    reason: str,
) -> int:
    """Keep a given-up message; returns its letter's id (the same id when ``task_id`` was buried before,
    whose deliveries, last sighting and reason are updated)."""
    stmt = _insert(session, DeadLetter.__table__).values(
        task=task, task_id=task_id, queue=queue, args=jsonable(list(args)), kwargs=jsonable(dict(kwargs)),
        deliveries=deliveries, first_seen=first_seen, last_seen=last_seen, reason=reason,
    )  # fmt: skip
    stmt = stmt.on_conflict_do_update(
        index_elements=["task_id"],
        set_={
            "deliveries": stmt.excluded.deliveries,
            "last_seen": stmt.excluded.last_seen,
            "reason": stmt.excluded.reason,
        },  # fmt: skip
    )
    session.execute(stmt)
    return session.scalar(select(DeadLetter.id).where(DeadLetter.task_id == task_id))


def dead_letter(session: Session, letter_id: int) -> DeadLetter | None:
    return session.get(DeadLetter, letter_id)


def list_dead_letters(session: Session, *, waiting_only: bool = False, limit: int = 100) -> list[DeadLetter]:
    """The newest letters first (only those not yet replayed with ``waiting_only``), at most ``limit``."""
    stmt = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)
    if waiting_only:
        stmt = stmt.where(DeadLetter.replayed_at.is_(None))
    return list(session.scalars(stmt))


def count_dead_letters(session: Session) -> tuple[int, int]:
    """(letters waiting for an operator, letters replayed)."""
    waiting = session.scalar(select(func.count()).where(DeadLetter.replayed_at.is_(None)))
    total = session.scalar(select(func.count()).select_from(DeadLetter))
    return int(waiting or 0), int((total or 0) - (waiting or 0))


def mark_replayed(session: Session, letter_id: int, replayed_as: str, now: datetime) -> bool:
    """Record that the letter was sent again as task ``replayed_as``; False when it already was."""
    result = session.execute(
        update(DeadLetter)
        .where(DeadLetter.id == letter_id, DeadLetter.replayed_at.is_(None))
        .values(replayed_at=now, replayed_as=replayed_as)
    )
    return result.rowcount == 1


__all__ = ["bury", "count_dead_letters", "dead_letter", "list_dead_letters", "mark_replayed"]
