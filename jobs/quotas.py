"""The quota state after Redis restarts: restored from the journal before anything is decided on it.

The workers' limiter restores a provider's state on demand, when a decision finds it unmarked (Redis lost
its data). ``check_quotas`` does it ahead, in the feeder's pass and at a worker's start, so the feeder's
release count and the planner's capacity read restored windows; and it notices a Redis that restarted
WITH its data (AOF): the restore mark is the server's run id, which a restart changes. Such a state may
lack the bookings of its last second (``appendfsync everysec``), so it is merged with the journal.
"""

from __future__ import annotations

import logging

from ratelimits.restore import JOURNAL_KEEP_SECONDS
from storage.usage import prune_grants

log = logging.getLogger("tickerbeat.quota")


def check_quotas(ctx) -> dict[str, str]:
    """Restore every configured provider's quota state not restored on the running Redis server; returns
    what was done per provider (nothing for those already restored on it)."""
    providers = sorted(ctx.settings.providers)
    server = ctx.limiter.server_id()
    done = {}
    for provider, mark in ctx.limiter.restore_marks(providers).items():
        if mark == server:
            continue
        restarted = mark is not None  # marked on another server run: Redis restarted with its data
        if ctx.limiter.restore(provider, ctx.policy(provider), force=restarted):
            done[provider] = "merged after a Redis restart" if restarted else "restored after Redis lost it"
            log.warning("quota %s: state %s, from the journal", provider, done[provider])
    return done


def prune_journal(ctx) -> int:
    """Delete journal entries too old to constrain any decision; returns how many."""
    now = ctx.backlog.now()
    with ctx.db.session() as s, s.begin():
        return prune_grants(s, now - JOURNAL_KEEP_SECONDS)
