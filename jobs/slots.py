"""A beat-fired message's slot: gate, claim, run, and mark how it ended (what the task wrapper does with
``_entry``).

Beat sends an entry's task with ``_entry=<name>``. The calendar gate (``beat_schedule.gate``, handed in by
the wrapper) names the firing (the trading day and New York slot) or the reason to skip; the slot's claim in the database
(``storage.slots``, decided by ``planning.slots.decide``) makes the message that claimed it the only one to
run it: its redelivery after a SIGKILL runs it again and finishes it, a duplicate is skipped. Success marks
the claim ``done``; an exception marks it ``failed`` with the reason (a later message may take it over) and
is raised on. A redelivered message runs the firing its first delivery claimed, even when the gate would
now say "not due" (it came back after the visibility timeout). ``_slot=<key>`` (a replayed dead letter)
names the firing instead of the gate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from celery.exceptions import Retry

from jobs.planner import stored_conservation_level
from planning.slots import Claim, decide
from storage import finish_slot, slot_claim, slot_claim_of_task, take_slot

log = logging.getLogger("tickerbeat.tasks")

# A claim that changes under us (another message took it) is read again this many times.
CLAIM_TRIES = 3


@dataclass(frozen=True)
class Claimed:
    """The slot a message holds: ``entry``'s firing ``slot`` for trading day ``day``."""

    entry: str
    slot: str
    day: date


Gate = Callable[[int], object]  # conservation level -> a ``beat_schedule.Firing`` (its ``key``) or a reason


def run_fired(
    ctx, entry, task_id: str, now: datetime, hard_limit: float, slot: str | None, gate: Gate, run: Callable
) -> object:
    """Run ``run(day)`` for ``entry``'s (a ``beat_schedule.Entry``) firing at ``now`` under the slot's claim,
    or return why not (``{"skipped": reason, "entry": name}``). A process being ended (``SystemExit``: the
    hard time limit, a shutdown) leaves the claim running: its worker's main process gives the message up
    (``tasks.base``), or the message comes back and runs it."""
    got = claim(ctx, entry, task_id, now, hard_limit, slot, gate)
    if isinstance(got, str):
        log.info("%s: skipped, %s", entry.name, got)
        return {"skipped": got, "entry": entry.name}
    try:
        result = run(got.day.isoformat())
    except Retry:
        raise  # the same message comes back later: its claim stays running
    except Exception as exc:  # the soft time limit's SoftTimeLimitExceeded included
        _finish(ctx, got, task_id, "failed", f"{type(exc).__name__}: {exc}")
        raise
    _finish(ctx, got, task_id, "done")
    return result


def claim(
    ctx, entry, task_id: str, now: datetime, hard_limit: float, slot: str | None, gate: Gate
) -> Claimed | str:
    """The slot this message runs (claimed for it in the database), or the reason it must not run: the
    slot its first delivery claimed, else ``slot`` (a replay), else what the calendar ``gate`` says."""
    with ctx.db.session() as s:
        own = slot_claim_of_task(s, entry.name, task_id)
    if own is not None:
        slot = own.slot
    elif slot is None:
        firing = gate(stored_conservation_level(ctx.redis) if entry.conserve else 0)
        if isinstance(firing, str):
            return firing
        slot = firing.key
    for _ in range(CLAIM_TRIES):
        with ctx.db.session() as s, s.begin():
            held = slot_claim(s, entry.name, slot)
            current = (
                None if held is None else Claim(held.task_id, held.state, held.attempts, held.started_at)
            )
            decision = decide(current, task_id, now, hard_limit)
            if not decision.run:
                return decision.reason
            if take_slot(s, entry.name, slot, task_id, now, replacing=held):
                if decision.takeover:
                    log.warning("%s %s: %s", entry.name, slot, decision.reason)
                return Claimed(entry.name, slot, slot_day(slot))
    return "claimed by another message meanwhile"


def slot_day(slot: str) -> date:
    """The trading day of a slot key (``2026-11-30@00:30``)."""
    return date.fromisoformat(slot.partition("@")[0])


def _finish(ctx, got: Claimed, task_id: str, state: str, reason: str | None = None) -> None:
    with ctx.db.session() as s, s.begin():
        if not finish_slot(s, got.entry, got.slot, task_id, state, datetime.now(UTC), reason):
            log.warning(
                "%s %s: finished as %s, but another message holds the slot now", got.entry, got.slot, state
            )
