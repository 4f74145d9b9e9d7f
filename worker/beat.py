"""Beat's scheduler: RedBeat, plus a liveness stamp on every tick for the metrics exporter.

Only the beat that holds RedBeat's lock ticks (a standby waits in ``beat_init`` for the lock), so the
stamp says "the active beat is alive": ``tickerbeat:beat:last_tick`` holds the Redis server's clock
(epoch seconds) at the end of the last tick, and the ``BeatNotTicking`` alert fires when it grows old.
"""

from __future__ import annotations

import logging

import redis
from redbeat import RedBeatScheduler
from redbeat.schedulers import get_redis

from monitoring.recording import record_beat_tick

log = logging.getLogger("tickerbeat.beat")


class TickerbeatScheduler(RedBeatScheduler):
    """``celery beat -S worker.beat:TickerbeatScheduler`` (the app's ``beat_scheduler`` default)."""

    def tick(self, *args, **kwargs):
        interval = super().tick(*args, **kwargs)
        try:
            record_beat_tick(get_redis(self.app))
        except redis.RedisError as exc:
            # The schedule itself lives in the same Redis, so the next tick fails loudly anyway.
            log.warning("beat: could not stamp the tick (%s)", exc)
        return interval
