"""Queue ``control``: the universe (loaded, kept current), its tiers, and the first start's bootstrap
(``jobs.universe`` does the work)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from jobs import names, universe
from runtime import resources
from tasks.base import tickerbeat_task
from tasks.planner import plan_backfill
from tasks.recommendations import retrain_model


@tickerbeat_task(name=names.LOAD_UNIVERSE, bind=True)
def load_universe(self, source: str | None = None, day: str | None = None) -> dict:
    """Ask ``source`` for the US symbol list through the paced dispatcher (``jobs.universe``)."""
    token = (self.request.id or uuid.uuid4().hex)[:12]
    return universe.load_universe(resources.current(), token, source, day, datetime.now(UTC))


@tickerbeat_task(name=names.AFTER_UNIVERSE)
def after_universe(run_id: str, day: str, started: str) -> dict:
    """Retire what the listing no longer holds, start new listings in tier 4 (``jobs.universe``)."""
    return universe.after_universe(resources.current(), run_id, day, started)


@tickerbeat_task(name=names.REASSIGN_TIERS, expires=6 * 3600)
def reassign_tiers(day: str) -> dict:
    """Tiers by the last month's dollar volume (pinned symbols keep their tier)."""
    with resources.current().db.session() as s, s.begin():
        return universe.reassign_tiers(s, day)


@tickerbeat_task(name=names.BOOTSTRAP, expires=250)
def bootstrap(history_end: str | None = None, history_days: int | None = None) -> dict:
    """First start, or an empty universe: one idempotent pass (``jobs.universe.bootstrap``) whose steps
    are sent to their tasks here."""
    steps = {
        "universe": load_universe,
        "history": plan_backfill,
        "tiers": reassign_tiers,
        "model": retrain_model,
    }
    done = universe.bootstrap(resources.current(), datetime.now(UTC), history_end, history_days)
    for step, kwargs in done.start:
        steps[step].apply_async(kwargs=kwargs)
    return {"status": done.status, "started": [step for step, _ in done.start]}
