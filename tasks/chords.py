"""Fetch batches as chords, recorded for the hung-chord watchdog.

A batch is a chord of at most ``CHUNK`` fetch tasks (one per symbol) whose callback runs on queue
``compute``. Before it is sent, the batch is registered in the database (deadline for the watchdog)
and its recipe is kept in Redis (which task, which common arguments, which callback), so the
watchdog can re-drive the parts whose results never arrived. Header task ids are
``<batch id>:<symbol>``; results are small status records, never data.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from celery import chord

from storage import register_batch
from tasks import context
from worker.celery import app
from worker.queues import queue_for_task

# Fetch tasks per chord: small enough that a lost part delays few symbols, large enough to keep the
# number of callbacks (and chord bookkeeping in Redis) low.
CHUNK = 250
RECIPE_SECONDS = 3 * 86400


def recipe_key(batch_id: str) -> str:
    return f"tickerbeat:batch:{batch_id}"


def launch(
    task: str,
    symbols: Sequence[str],
    common: dict,
    callback: str,
    callback_kwargs: dict,
    deadline_seconds: float,
    *,
    kind: str,
    chunk: int = CHUNK,
) -> list[str]:
    """Send ``task(symbol=s, **common)`` for every symbol, in chords of ``chunk`` with ``callback``.

    The callback receives the header results plus ``batch_id`` and ``callback_kwargs``. Returns the batch ids.
    """
    ctx = context.current()
    batch_ids = []
    for start in range(0, len(symbols), chunk):
        part = list(symbols[start : start + chunk])
        batch_id = uuid.uuid4().hex
        send(ctx, batch_id, task, part, common, callback, callback_kwargs, deadline_seconds, kind=kind)
        batch_ids.append(batch_id)
    return batch_ids


def send(
    ctx,
    batch_id: str,
    task: str,
    symbols: Sequence[str],
    common: dict,
    callback: str,
    callback_kwargs: dict,
    deadline_seconds: float,
    *,
    kind: str,
    register: bool = True,
) -> None:
    """Register (unless re-driving) and send one chord."""
    ids = [f"{batch_id}:{s}" for s in symbols]
    if register:
        deadline = datetime.now(UTC) + timedelta(seconds=deadline_seconds)
        with ctx.db.session() as s, s.begin():
            register_batch(
                s,
                batch_id,
                kind=kind,
                queue=queue_for_task(task) or "",
                callback=callback,
                task_ids=ids,
                deadline=deadline,
                run_id=str(callback_kwargs.get("day", "")),
            )
        recipe = {
            "task": task,
            "common": common,
            "callback": callback,
            "callback_kwargs": callback_kwargs,
            "deadline_seconds": deadline_seconds,
            "kind": kind,
        }
        ctx.redis.set(recipe_key(batch_id), json.dumps(recipe), ex=RECIPE_SECONDS)
    header = [
        app.signature(task, kwargs={"symbol": s, **common}).set(task_id=tid)
        for s, tid in zip(symbols, ids, strict=True)
    ]
    body = app.signature(callback, kwargs={**callback_kwargs, "batch_id": batch_id})
    chord(header)(body)


def symbol_of(task_id: str) -> str:
    return task_id.rpartition(":")[2]
