"""Worker lifecycle hooks: migrate the schema when a worker starts, rebuild per-process resources after fork,
and at beat's start print the capacity plan and send the first start's bootstrap."""

from __future__ import annotations

import logging

from celery.signals import beat_init, worker_init, worker_process_init

from planning.fit import check
from runtime import resources
from runtime.settings import load
from storage import Database, active_symbols
from storage.migrate import upgrade

log = logging.getLogger("tickerbeat.worker")


@worker_init.connect
def migrate_on_start(sender=None, **kwargs) -> None:
    """Bring the schema to head before consuming (safe when several workers start at once)."""
    upgrade(load().database_url)


@worker_process_init.connect
def fresh_resources_after_fork(**kwargs) -> None:
    """A pool child must not share its parent's Redis sockets or database connections."""
    resources.reset()


@beat_init.connect
def check_capacity_plan(sender=None, **kwargs) -> None:
    """Beat prints the day's capacity plan when it starts, loudly when the schedule cannot fit the quotas."""
    settings = load()
    fits, lines = check(settings, _universe_size(settings))
    for line in lines:
        log.info("%s", line)
    if not fits:
        log.critical("the beat schedule does not fit the configured quotas: run `make validate-plan`")


@beat_init.connect
def start_bootstrap(sender=None, **kwargs) -> None:
    """A first start sets itself up at once (universe, paced history, tiers, model) rather than at the
    bootstrap entry's first interval; a later start only has the bootstrap report progress. Idempotent,
    so a standby beat doing it too is harmless. The feeder is woken for work left in line by a restart."""
    sender.app.send_task("tasks.tiers.bootstrap")
    sender.app.send_task("tasks.dispatch.feed")


def _universe_size(settings) -> int:
    db = Database(settings.database_url)
    try:
        with db.session() as s:
            return len(active_symbols(s)) or 6500
    except Exception:  # noqa: BLE001 - no schema yet: plan for the default universe
        return 6500
    finally:
        db.dispose()
