"""Queue ``maintenance``: the dispatcher's watchdog, database upkeep, backups, cache warming
(``jobs.maintenance`` does the work)."""

from __future__ import annotations

import time
from datetime import date

from jobs import maintenance
from runtime import resources
from tasks.base import tickerbeat_task


@tickerbeat_task(name="tasks.maintenance.watchdog", expires=3000)
def watchdog(day: str | None = None) -> dict:
    """A feeder pass, then every open run still holding calls past its window logged with its counts."""
    return maintenance.watchdog(resources.current())


@tickerbeat_task(name="tasks.maintenance.database_upkeep", expires=7200)
def database_upkeep(day: str | None = None) -> dict:
    """ANALYZE (and VACUUM for SQLite) so the query planner keeps up with a growing bars table."""
    return maintenance.database_upkeep(resources.current().db)


@tickerbeat_task(name="tasks.maintenance.backup", expires=7200)
def backup(day: str | None = None) -> dict:
    """A consistent copy of the database, keeping the last ``jobs.maintenance.BACKUP_KEEP``."""
    return maintenance.backup(resources.current().settings, day)


@tickerbeat_task(name="tasks.maintenance.warm_cache", expires=7200)
def warm_cache(day: str | None = None) -> dict:
    """The session's analysis panel built ahead of the pre-market refresh; old cached panels pruned."""
    the_day = date.fromisoformat(day) if day else date.today()
    return maintenance.warm_cache(resources.current(), the_day, time.time())
