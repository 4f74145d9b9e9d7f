"""Worker lifecycle hooks: migrate the schema when a worker starts, rebuild per-process resources after fork."""

from __future__ import annotations

import logging

from celery.signals import worker_init, worker_process_init

log = logging.getLogger("tickerbeat.worker")


@worker_init.connect
def migrate_on_start(sender=None, **kwargs) -> None:
    """Bring the schema to head before consuming (safe when several workers start at once)."""
    from storage.migrate import upgrade
    from worker.app import settings

    upgrade(settings.database_url)


@worker_process_init.connect
def fresh_resources_after_fork(**kwargs) -> None:
    """A pool child must not share its parent's Redis sockets or database connections."""
    from tasks import context

    context.reset()
