"""The one wrapper every tickerbeat task goes through (``@tickerbeat_task``).

- Beat-fired messages carry ``_entry=<schedule entry>``: the calendar gate (``beat_schedule.due``)
  either lets the run through with ``day=<trading day>`` or skips it, and a Redis claim makes a
  duplicate message for the same slot a no-op.
- Released by the paced dispatcher, a provider call carries ``_dispatch=<release>``: the wrapper makes
  the call only while its release holds and settles it exactly once (``jobs.runs.call_dispatched``).
- A task of a queue with a pool (``compute``, ``maintenance``) runs under a lease of that pool, so the
  hosts together never run more of them at once than the pool's size.
- Late acknowledgement: a task whose worker dies is delivered again, so every task is idempotent.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from celery import Task, shared_task

import beat_schedule
from jobs.planner import stored_conservation_level
from jobs.runs import call_dispatched
from ratelimits import PoolTimeout
from runtime import resources
from runtime.queues import BY_NAME, queue_for_task

log = logging.getLogger("tickerbeat.tasks")

# How long a firing's claim is remembered: longer than any entry's expiry and the weekend between sessions.
CLAIM_SECONDS = 4 * 86400
# A compute or maintenance task waits this long for its queue's pool, then is sent again this much later.
POOL_WAIT_SECONDS = 120.0
POOL_RETRY_SECONDS = 30


class TickerbeatTask(Task):
    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    # No argument check at send time: beat's messages carry ``_entry`` and the dispatcher's ``_dispatch``,
    # which this wrapper takes off before the task function sees its own arguments (with the check on,
    # beat could not send a single entry: ``SchedulingError ... unexpected keyword argument '_entry'``).
    typing = False

    def __call__(self, *args, **kwargs):
        release = kwargs.pop("_dispatch", None)
        if release is not None:
            provider = queue_for_task(self.name) or ""
            return call_dispatched(
                resources.current(),
                provider,
                release,
                lambda: super(TickerbeatTask, self).__call__(*args, **kwargs),
            )
        entry_name = kwargs.pop("_entry", None)
        if entry_name is not None:
            entry = beat_schedule.BY_NAME[entry_name]
            if entry.every:  # an interval entry: idempotent work, neither gated nor claimed
                return self._run(args, kwargs)
            level = stored_conservation_level(resources.current().redis) if entry.conserve else 0
            firing = beat_schedule.gate(entry, datetime.now(UTC), level)
            if isinstance(firing, str):
                log.info("%s: skipped, %s", entry_name, firing)
                return {"skipped": firing, "entry": entry_name}
            claim = f"tickerbeat:fired:{entry_name}:{firing.key}"
            if not resources.current().redis.set(claim, "1", nx=True, ex=CLAIM_SECONDS):
                log.info("%s: skipped, %s already ran", entry_name, firing.key)
                return {"skipped": "already ran", "entry": entry_name}
            kwargs["day"] = firing.day.isoformat()
        return self._run(args, kwargs)

    def _run(self, args, kwargs):
        """Run the task under a lease of its queue's pool (``runtime.queues``; provider queues lease per
        call, in ``jobs.fetching``). A pool still full after ``POOL_WAIT_SECONDS`` sends the task again
        later rather than failing it."""
        spec = BY_NAME.get(queue_for_task(self.name) or "")
        if spec is None or spec.provider or not spec.pool:
            return super().__call__(*args, **kwargs)
        try:
            lease = resources.current().pool(spec.pool).acquire(timeout=POOL_WAIT_SECONDS)
        except PoolTimeout as exc:
            log.warning("%s: pool %s full for %.0f s, sent again in %d s", self.name, spec.pool, POOL_WAIT_SECONDS,
                        POOL_RETRY_SECONDS)  # fmt: skip
            raise self.retry(countdown=POOL_RETRY_SECONDS, max_retries=None, exc=exc) from exc
        with lease:
            return super().__call__(*args, **kwargs)


def tickerbeat_task(**options):
    """``shared_task`` with the tickerbeat base (registered with whichever app the process assembles;
    nothing here imports it); the task's name is ``tasks.<module>.<function>``."""
    return shared_task(base=TickerbeatTask, **options)
