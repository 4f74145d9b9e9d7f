"""Poison messages: a message whose worker dies each time it runs it is kept as a dead letter instead.

Tasks acknowledge late and are requeued when their worker is lost (``reject_on_worker_lost``), so that a
SIGKILL or an OOM kill loses nothing; the price is that a message which itself kills its worker (a crash
in native code, memory it can never get) would come back forever and take a process with it each time.

- The wrapper counts deliveries per message: the broker flags a message it puts back (a lost worker, the
  visibility timeout) as redelivered, and each such delivery adds one to a Redis counter of the task id
  (``runtime.keys.deliveries``; an ordinary first delivery writes nothing). Past
  ``TICKERBEAT_MAX_DELIVERIES`` the message is not run: it is stored in ``dead_letters`` and acknowledged.
- What it was doing is given up explicitly (``abandon``): a dispatched provider call is settled as failed,
  so its run's ledger counts it stale with the reason and still adds up; a beat slot it held is marked
  failed. The hard time limit gives a task up the same way.
- Operators see the letters (``python -m stack.ops dead-letters``, ``celery inspect dead_letters``, the
  ``tickerbeat_dead_letters_total`` counter), inspect one and replay it: the same task and arguments under a
  new task id (a dispatched call without its spent release; a beat message with the slot it held).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import redis

from dispatch import Release
from jobs import runs
from monitoring.recording import record_dead_letter
from runtime import keys
from runtime.queues import queue_for_task
from storage import (
    bury,
    count_dead_letters,
    dead_letter,
    fail_slots_of_task,
    list_dead_letters,
    mark_replayed,
    slot_claim_of_task,
)

log = logging.getLogger("tickerbeat.tasks")

# How long a message's delivery count is kept: longer than a redelivery can take (the visibility timeout,
# an hour by default, plus the wait in a long queue).
DELIVERY_MEMORY_SECONDS = 2 * 86400
# Keyword arguments the wrapper reads and takes off (never the task's own).
DISPATCH, ENTRY, SLOT = "_dispatch", "_entry", "_slot"


def count_delivery(ctx, task_id: str, retries: int) -> tuple[int, float]:
    """Count one more delivery of a redelivered message; returns (deliveries so far, the first included;
    when it first came back, epoch seconds). One pipelined round trip."""
    key = keys.deliveries(task_id, retries)
    pipe = ctx.redis.pipeline(transaction=False)
    pipe.hincrby(key, "n", 1)
    pipe.hsetnx(key, "first", datetime.now(UTC).timestamp())
    pipe.hget(key, "first")
    pipe.expire(key, DELIVERY_MEMORY_SECONDS)
    n, _, first, _ = pipe.execute()
    return 1 + int(n), float(first)


def redelivered(ctx, task: str, task_id: str, retries: int, queue: str | None, args, kwargs) -> dict | None:
    """For a message the broker delivers again: None to run it, or (past the limit) what the task returns
    instead, once the message is buried as a dead letter."""
    deliveries, first = count_delivery(ctx, task_id, retries)
    if deliveries <= ctx.settings.max_deliveries:
        limit = ctx.settings.max_deliveries
        log.warning("%s[%s]: delivered again (%d of at most %d)", task, task_id, deliveries, limit)
        return None
    return bury_message(ctx, task, task_id, queue, list(args), dict(kwargs), deliveries,
                        datetime.fromtimestamp(first, UTC))  # fmt: skip


def bury_message(ctx, task: str, task_id: str, queue: str | None, args: list, kwargs: dict, deliveries: int,
                 first_seen: datetime) -> dict:  # fmt: skip
    """Keep the message as a dead letter, give up what it was doing, count and log it."""
    now = datetime.now(UTC)
    reason = (f"delivered {deliveries} times without finishing (TICKERBEAT_MAX_DELIVERIES "
              f"{ctx.settings.max_deliveries}): its worker died each time (a crash, the OOM killer, a kill)")  # fmt: skip
    with ctx.db.session() as s, s.begin():
        letter = bury(s, task=task, task_id=task_id, queue=queue, args=args, kwargs=kwargs, deliveries=deliveries,
                      first_seen=first_seen, last_seen=now, reason=reason)  # fmt: skip
    abandon(ctx, task, task_id, kwargs, f"dead letter {letter}: {reason}")
    try:
        record_dead_letter(ctx.redis, task, queue or "other")
    except (redis.RedisError, OSError) as exc:
        log.warning("metrics: dead letter %d not counted (%s)", letter, exc)
    log.error("%s[%s]: dead letter %d, not run again: %s; see python -m stack.ops dead-letters show %d",
              task, task_id, letter, reason, letter)  # fmt: skip
    return {"dead_letter": letter, "task": task, "deliveries": deliveries}


def abandon(ctx, task: str, task_id: str, kwargs: dict, reason: str) -> None:
    """Give up a message for good: its dispatched call (``_dispatch``) is settled as failed (stale in its
    run's ledger, with ``reason``), its running slot claims are marked failed."""
    member = kwargs.get(DISPATCH)
    if member:
        release = Release(member)
        runs.conclude(ctx, release, ctx.backlog.settle(queue_for_task(task) or "", release, "failed"), reason)
    with ctx.db.session() as s, s.begin():
        for entry, slot in fail_slots_of_task(s, task_id, reason, datetime.now(UTC)):
            log.error("%s %s: slot given up: %s", entry, slot, reason)


# -- what operators read and do -------------------------------------------------------------------------------


def letter_record(letter) -> dict:
    """A dead letter as JSON-safe values (instants as ISO 8601 UTC text)."""

    def at(value: datetime | None) -> str | None:
        return value.isoformat(timespec="seconds").replace("+00:00", "Z") if value else None

    return {"id": letter.id, "task": letter.task, "task_id": letter.task_id, "queue": letter.queue,
            "args": letter.args, "kwargs": letter.kwargs, "deliveries": letter.deliveries,
            "first_seen": at(letter.first_seen), "last_seen": at(letter.last_seen), "reason": letter.reason,
            "replayed_at": at(letter.replayed_at), "replayed_as": letter.replayed_as}  # fmt: skip


def report(ctx, limit: int = 20) -> dict:
    """How many letters wait for an operator and were replayed, and the newest ``limit`` letters."""
    with ctx.db.session() as s:
        waiting, replayed = count_dead_letters(s)
        newest = [letter_record(letter) for letter in list_dead_letters(s, limit=limit)]
    return {"waiting": waiting, "replayed": replayed, "letters": newest}


def show(ctx, letter_id: int) -> dict | None:
    with ctx.db.session() as s:
        letter = dead_letter(s, letter_id)
        return None if letter is None else letter_record(letter)


def replay(ctx, letter_id: int, send_task: Callable[..., object]) -> dict:
    """Send the letter's task again with its arguments under a new task id, and mark it replayed; an
    ``error`` when there is no such letter or it was replayed already. ``send_task``: a Celery app's."""
    with ctx.db.session() as s, s.begin():
        letter = dead_letter(s, letter_id)
        if letter is None:
            return {"error": f"no dead letter {letter_id} (python -m stack.ops dead-letters lists them)"}
        if letter.replayed_at is not None:
            return {"error": f"dead letter {letter_id} was replayed already, as task {letter.replayed_as}"}
        kwargs = replay_kwargs(s, letter.task_id, letter.kwargs)
        new_id = str(uuid.uuid4())
        mark_replayed(s, letter_id, new_id, datetime.now(UTC))
        send_task(letter.task, args=list(letter.args), kwargs=kwargs, task_id=new_id)
    log.warning("dead letter %d: %s sent again as task %s", letter_id, letter.task, new_id)
    return {"ok": f"dead letter {letter_id}: {letter.task} sent again as task {new_id}", "task_id": new_id}


def replay_kwargs(session, task_id: str, kwargs: dict) -> dict:
    """A letter's keyword arguments for its replay: a dispatched call's release is spent (the call was
    settled as failed), so the replay is a plain call that still takes its quota slot; a beat message
    names the slot it held, so the replay fills that slot, not whichever the calendar says is due now."""
    out = {k: v for k, v in kwargs.items() if k != DISPATCH}
    if ENTRY in out and SLOT not in out:
        held = slot_claim_of_task(session, out[ENTRY], task_id)
        if held is not None:
            out[SLOT] = held.slot
    return out
