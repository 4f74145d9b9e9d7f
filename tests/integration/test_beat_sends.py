"""Beat can send every entry of the schedule: beat's own send path (``Scheduler.apply_async``, which
checks arguments for registered tasks) on the real app against a private Redis, for every tier plan.

Each entry's message carries ``_entry`` for the task wrapper; nothing here runs a worker.
"""

from __future__ import annotations

import json

import pytest
from celery.beat import ScheduleEntry, Scheduler

import beat_schedule
from runtime.settings import Settings
from worker.app import make_app

pytestmark = pytest.mark.redis


@pytest.mark.parametrize("plan", sorted(beat_schedule.TIER_PLANS))
def test_beat_sends_every_entry_of_the_schedule(redis_url, redis_client, plan, tmp_path):
    settings = Settings.from_env({"REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}",
                                  "TICKERBEAT_TIER_PLAN": plan})  # fmt: skip
    app = make_app(settings)
    app.loader.import_default_modules()
    scheduler = Scheduler(app, schedule={}, lazy=True)
    try:
        for name, spec in beat_schedule.beat_schedule(plan).items():
            entry = ScheduleEntry(name=name, app=app, **spec)
            scheduler.apply_async(entry, advance=False)  # raises SchedulingError when it cannot send
        sent = [json.loads(m)["headers"] for q in ("control", "compute", "maintenance")
                for m in redis_client.lrange(q, 0, -1)]  # fmt: skip
        assert sorted(h["task"] for h in sent) == sorted(e.task for e in beat_schedule.entries(plan))
        for h in sent:
            assert "_entry" in h["kwargsrepr"]
    finally:
        app.close()
