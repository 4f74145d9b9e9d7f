"""Queue ``maintenance``: the hung-chord watchdog, database upkeep, backups, cache warming."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from celery.result import AsyncResult

from storage import backup as storage_backup
from storage import redrive_batch, stalled_batches
from tasks import chords, context
from tasks.base import tickerbeat_task
from worker.celery import app

log = logging.getLogger("tickerbeat.maintenance")

BACKUP_KEEP = 7  # nightly copies kept
PANEL_KEEP_DAYS = 3  # cached panels are rebuilt from the database when older


@tickerbeat_task(name="tasks.maintenance.watchdog", expires=3000)
def watchdog(day: str | None = None) -> dict:
    """Re-drive chords past their deadline: re-send the parts with no result, with the same callback.

    A part is missing when its result is not in the backend (lost message, killed worker after the
    visibility timeout...). The re-driven chord is a new chord over the missing parts only; the original
    callback may still fire later, which is harmless: callbacks are idempotent upserts.
    """
    ctx = context.current()
    redriven = []
    with ctx.db.session() as s:
        stalled = [(b.batch_id, list(b.task_ids)) for b in stalled_batches(s)]
    for batch_id, task_ids in stalled:
        recipe_raw = ctx.redis.get(chords.recipe_key(batch_id))
        if recipe_raw is None:
            log.error("batch %s stalled and its recipe expired: cannot re-drive", batch_id)
            continue
        recipe = json.loads(recipe_raw)
        missing = [chords.symbol_of(t) for t in task_ids if AsyncResult(t, app=app).state != "SUCCESS"]
        deadline = datetime.now(UTC) + timedelta(seconds=recipe["deadline_seconds"])
        with ctx.db.session() as s, s.begin():
            redrive_batch(s, batch_id, deadline)
        if missing:
            chords.send(
                ctx,
                batch_id,
                recipe["task"],
                missing,
                recipe["common"],
                recipe["callback"],
                recipe["callback_kwargs"],
                recipe["deadline_seconds"],
                kind=recipe["kind"],
                register=False,
            )
        else:  # every part finished but the callback never ran: run it on what the backend holds
            results = [AsyncResult(t, app=app).result for t in task_ids]
            app.signature(
                recipe["callback"],
                args=(results,),
                kwargs={**recipe["callback_kwargs"], "batch_id": batch_id},
            ).apply_async()
        log.warning("batch %s re-driven: %d parts re-sent", batch_id, len(missing))
        redriven.append({"batch_id": batch_id, "resent": len(missing)})
    return {"stalled": len(stalled), "redriven": redriven}


@tickerbeat_task(name="tasks.maintenance.database_upkeep", expires=7200)
def database_upkeep(day: str | None = None) -> dict:
    """ANALYZE (and VACUUM for SQLite) so the query planner keeps up with a growing bars table."""
    db = context.current().db
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if db.dialect == "sqlite":
            conn.exec_driver_sql("PRAGMA optimize")
            conn.exec_driver_sql("VACUUM")
        else:
            conn.exec_driver_sql("ANALYZE")
    return {"dialect": db.dialect}


def backup_dir() -> Path:
    return Path(context.current().settings.data_dir) / "backups"


@tickerbeat_task(name="tasks.maintenance.backup", expires=7200)
def backup(day: str | None = None) -> dict:
    """A consistent copy of the database (``storage.backup``), keeping the last ``BACKUP_KEEP``."""
    settings = context.current().settings
    path = storage_backup.backup(settings.database_url, backup_dir(), keep=BACKUP_KEEP, stamp=day)
    return {"backup": str(path), "kept": len(storage_backup.backup_files(backup_dir()))}


@tickerbeat_task(name="tasks.maintenance.warm_cache", expires=7200)
def warm_cache(day: str | None = None) -> dict:
    """Build the session's analysis panel (after the overnight bars) so the pre-market refresh reads it
    from the cache, and delete cached panels older than ``PANEL_KEEP_DAYS``."""
    from storage import active_symbols
    from tasks.panels import load_panel, prune_cache

    removed = prune_cache(PANEL_KEEP_DAYS)
    with context.current().db.session() as s:
        symbols = active_symbols(s)
        the_day = date.fromisoformat(day) if day else date.today()
        panel = load_panel(s, the_day, symbols) if symbols else None
    return {"symbols": len(symbols), "sessions": len(panel.dates) if panel else 0, "pruned": removed}
