"""Worker lifecycle hooks: migrate the schema when a worker starts, restore the quota state Redis may have
lost once it is ready, rebuild per-process resources after fork, and at beat's start print the capacity
plan and send the first start's bootstrap."""

from __future__ import annotations

import logging

import redis
from celery.signals import beat_init, worker_init, worker_process_init, worker_ready
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError

from jobs.quotas import check_quotas
from planning.fit import check
from ratelimits import QuotaError
from runtime import resources
from runtime.settings import load
from storage import Database, active_symbols, redact
from storage.migrate import upgrade
from storage.models import Symbol

log = logging.getLogger("tickerbeat.worker")

# The universe the capacity plan is checked for when the database has none yet (a first start).
DEFAULT_UNIVERSE = 6500


@worker_init.connect
def migrate_on_start(sender=None, **kwargs) -> None:
    """Bring the schema to head before consuming (safe when several workers start at once)."""
    upgrade(load().database_url)


@worker_ready.connect
def restore_quotas_on_start(sender=None, **kwargs) -> None:
    """Quota state Redis lost is restored from the journal before the first call is decided on it (the
    limiter would do it on demand too; done here, the feeder's first release count already sees it)."""
    try:
        check_quotas(resources.current())  # logs what it restored
    except (QuotaError, SQLAlchemyError, redis.RedisError) as exc:
        log.error("quota state not checked at start (%s); decisions restore it on demand", exc)


@worker_process_init.connect
def fresh_resources_after_fork(**kwargs) -> None:
    """A pool child must not share its parent's Redis sockets or database connections."""
    resources.reset()


@beat_init.connect
def check_capacity_plan(sender=None, **kwargs) -> None:
    """Beat prints the day's capacity plan when it starts, loudly when the schedule cannot fit the quotas."""
    report_capacity_plan(load())


def report_capacity_plan(settings) -> bool | None:
    """Log the capacity plan for the stored universe; whether it fits (None: not checked, see the log)."""
    size = _universe_size(settings)
    if size is None:
        return None
    fits, lines = check(settings, size)
    for line in lines:
        log.info("%s", line)
    if not fits:
        log.critical("the beat schedule does not fit the configured quotas: run `make validate-plan`")
    return fits


@beat_init.connect
def start_bootstrap(sender=None, **kwargs) -> None:
    """A first start sets itself up at once (universe, paced history, tiers, model) rather than at the
    bootstrap entry's first interval; a later start only has the bootstrap report progress. Idempotent,
    so a standby beat doing it too is harmless. The feeder is woken for work left in line by a restart."""
    sender.app.send_task("tasks.tiers.bootstrap")
    sender.app.send_task("tasks.dispatch.feed")


def _universe_size(settings) -> int | None:
    """The active universe's size, to check the capacity plan for; ``DEFAULT_UNIVERSE`` for a fresh
    database (no schema yet) or an empty universe (a first start), said in the log. None when the database
    cannot be read: logged as an error naming it (password hidden), and the plan goes unchecked."""
    db = Database(settings.database_url)
    try:
        if not inspect(db.engine).has_table(Symbol.__tablename__):
            log.info("capacity plan: %s is a fresh database (no schema yet): checked for the default universe "
                     "of %d symbols", db.url, DEFAULT_UNIVERSE)  # fmt: skip
            return DEFAULT_UNIVERSE
        with db.session() as s:
            size = len(active_symbols(s))
        if not size:
            log.info("capacity plan: no active symbol in %s yet (a first start): checked for the default "
                     "universe of %d symbols", db.url, DEFAULT_UNIVERSE)  # fmt: skip
        return size or DEFAULT_UNIVERSE
    except SQLAlchemyError as exc:
        reason = redact(str(getattr(exc, "orig", None) or exc).strip().splitlines()[0])
        log.error("capacity plan NOT checked: the universe could not be read from %s (%s: %s)",
                  db.url, type(exc).__name__, reason)  # fmt: skip
        return None
    finally:
        db.dispose()
