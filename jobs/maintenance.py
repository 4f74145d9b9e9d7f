"""The maintenance jobs: the dispatcher's watchdog, database upkeep, backups, cache warming."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from jobs import runs
from jobs.feeder import feed_all
from jobs.panels import load_panel, prune_cache
from jobs.quotas import prune_journal
from storage import active_symbols
from storage import backup as storage_backup
from storage.runs import prune_runs

log = logging.getLogger("tickerbeat.maintenance")

BACKUP_KEEP = 7  # nightly copies kept
PANEL_KEEP_DAYS = 3  # cached panels are rebuilt from the database when older
RUNS_KEEP = timedelta(days=8)  # closed durable runs, as long as the dispatcher keeps their ledgers


def watchdog(ctx) -> dict:
    """The dispatcher's hourly check: a feeder pass (restores quota state and re-drives runs Redis lost,
    reclaims lost releases, closes runs whose window ended, releases what is due), then every open run
    still holding calls past its deadline is logged with its counts, so admitted work left undone is never
    silent (``tickerbeat_dispatch_undone`` too). The quota journal and closed durable runs are pruned."""
    fed = feed_all(ctx, redrive_now=True)
    pruned = prune(ctx)
    now = ctx.backlog.now()
    undone = []
    for spec in ctx.backlog.open_runs():
        ledger = ctx.backlog.ledger(spec.id)
        if ledger is not None and ledger.undone_after(now):
            undone.append(ledger.as_record())
            log.error("run %s: %d admitted calls still pending %.0f s after its window ended (%s)",
                      spec.id, ledger.pending, now - (ledger.deadline or now), ledger.as_record())  # fmt: skip
    if any(r.get("in_line") or r.get("in_flight") for r in fed.values()):
        runs.kick()
    return {"undone": undone, "fed": fed, "pruned": pruned}


def prune(ctx) -> dict:
    """Drop what no longer matters: journal entries older than any window, durable runs closed for over
    ``RUNS_KEEP`` (operators read recent ones)."""
    grants = prune_journal(ctx)
    with ctx.db.session() as s, s.begin():
        closed = prune_runs(s, datetime.now(UTC) - RUNS_KEEP)
    return {"journal": grants, "runs": closed}


def database_upkeep(db) -> dict:
    """ANALYZE (and VACUUM for SQLite) so the query planner keeps up with a growing bars table."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if db.dialect == "sqlite":
            conn.exec_driver_sql("PRAGMA optimize")
            conn.exec_driver_sql("VACUUM")
        else:
            conn.exec_driver_sql("ANALYZE")
    return {"dialect": db.dialect}


def backup_dir(settings) -> Path:
    return Path(settings.data_dir) / "backups"


def backup(settings, day: str | None) -> dict:
    """A consistent copy of the database (``storage.backup``), keeping the last ``BACKUP_KEEP``."""
    folder = backup_dir(settings)
    path = storage_backup.backup(settings.database_url, folder, keep=BACKUP_KEEP, stamp=day)
    return {"backup": str(path), "kept": len(storage_backup.backup_files(folder))}


def warm_cache(ctx, day: date, now: float) -> dict:
    """Build the session's analysis panel (after the overnight bars) so the pre-market refresh reads it
    from the cache, and delete cached panels older than ``PANEL_KEEP_DAYS`` before ``now`` (epoch s)."""
    removed = prune_cache(ctx.settings.data_dir, PANEL_KEEP_DAYS, now)
    with ctx.db.session() as s:
        symbols = active_symbols(s)
        panel = load_panel(ctx, s, day, symbols) if symbols else None
    return {"symbols": len(symbols), "sessions": len(panel.dates) if panel else 0, "pruned": removed}
