"""The one wrapper every tickerbeat task goes through (``@tickerbeat_task``).

- A message the broker delivers again (its worker died) is counted; past ``TICKERBEAT_MAX_DELIVERIES`` it is
  kept as a dead letter instead of run (``jobs.dead_letters``), so one poison message cannot requeue for ever.
- Beat-fired messages carry ``_entry=<schedule entry>``: the calendar gate either names the firing or skips
  it, and the slot's claim in the database (``jobs.slots``) lets exactly one message run it: its own
  redelivery after a SIGKILL finishes it, a duplicate is skipped; ``day=<trading day>`` reaches the task.
- Released by the paced dispatcher, a provider call carries ``_dispatch=<release>``: the wrapper makes
  the call only while its release holds and settles it exactly once (``jobs.runs.call_dispatched``).
- A task of a queue with a pool (``compute``, ``maintenance``) runs under a lease of that pool, so the
  hosts together never run more of them at once than the pool's size.
- Time limits per queue (``runtime.queues``, applied by ``worker.app``): a provider call cut off by its
  soft limit ends as outcome ``timeout``; a task killed at its hard limit is given up explicitly.
- Late acknowledgement: a task whose worker dies is delivered again, so every task is idempotent.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

import beat_schedule
from jobs import dead_letters
from jobs.runs import call_dispatched
from jobs.slots import run_fired
from jobs.time_limits import out_of_time
from ratelimits import PoolTimeout
from runtime import resources
from runtime.queues import BY_NAME, queue_for_task

log = logging.getLogger("tickerbeat.tasks")

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
        ctx, request = resources.current(), self.request
        delivery = request.delivery_info or {}
        if delivery.get("redelivered"):  # its worker died: counted, and past the limit kept as a dead letter
            queue = delivery.get("routing_key") or queue_for_task(self.name)
            buried = dead_letters.redelivered(
                ctx, self.name, request.id, request.retries, queue, args, kwargs
            )
            if buried is not None:
                return buried
        release = kwargs.pop(dead_letters.DISPATCH, None)
        if release is not None:
            provider = queue_for_task(self.name) or ""
            return call_dispatched(ctx, provider, release, lambda: self._run(args, kwargs))
        name, slot = kwargs.pop(dead_letters.ENTRY, None), kwargs.pop(dead_letters.SLOT, None)
        entry = None if name is None else beat_schedule.BY_NAME[name]
        if entry is None or entry.every:  # not beat-fired, or an interval entry: neither gated nor claimed
            return self._run(args, kwargs)
        at = now()
        gate = lambda level: beat_schedule.gate(entry, at, level)  # noqa: E731
        run = lambda day: self._run(args, {**kwargs, "day": day})  # noqa: E731
        return run_fired(ctx, entry, request.id, at, self._hard_limit(), slot, gate, run)

    def _run(self, args, kwargs):
        """Run the task under a lease of its queue's pool (``runtime.queues``; provider queues lease per
        call, in ``jobs.fetching``). A pool still full after ``POOL_WAIT_SECONDS`` sends the task again
        later rather than failing it. A provider call cut off by the soft time limit ends as ``timeout``."""
        spec = BY_NAME.get(queue_for_task(self.name) or "")
        if spec is not None and spec.provider:
            try:
                return super().__call__(*args, **kwargs)
            except SoftTimeLimitExceeded:
                return out_of_time(resources.current(), spec.name, kwargs, self._limits()[0])
        if spec is None or not spec.pool:
            return super().__call__(*args, **kwargs)
        try:
            lease = resources.current().pool(spec.pool).acquire(timeout=POOL_WAIT_SECONDS)
        except PoolTimeout as exc:
            log.warning("%s: pool %s full for %.0f s, sent again in %d s", self.name, spec.pool, POOL_WAIT_SECONDS,
                        POOL_RETRY_SECONDS)  # fmt: skip
            raise self.retry(countdown=POOL_RETRY_SECONDS, max_retries=None, exc=exc) from exc
        with lease:
            return super().__call__(*args, **kwargs)

    def _limits(self) -> tuple[float | None, float | None]:
        """(soft, hard) seconds for the running message: its own, else the task's (``worker.app``)."""
        hard, soft = self.request.timelimit or (None, None)
        return soft or self.soft_time_limit, hard or self.time_limit

    def _hard_limit(self) -> float:
        """The hard time limit in seconds (the message's or the task's, else as its queue declares)."""
        spec = BY_NAME.get(queue_for_task(self.name) or "")
        return float(self._limits()[1] or (spec.hard_limit if spec else 3600))

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        """The worker's main process reports a task its hard time limit killed: give the message up (its
        dispatched call settled as failed, its slot marked failed) rather than leave them in flight."""
        if isinstance(exc, TimeLimitExceeded):
            reason = f"killed at its hard time limit ({exc.args[0] if exc.args else self.time_limit} s)"
            dead_letters.abandon(resources.current(), self.name, task_id, kwargs or {}, reason)


def now() -> datetime:
    """The instant a beat-fired message is gated and claimed at (this host's clock, UTC)."""
    return datetime.now(UTC)


def tickerbeat_task(**options):
    """``shared_task`` with the tickerbeat base (registered with whichever app the process assembles;
    nothing here imports it); the task's name is ``tasks.<module>.<function>``."""
    return shared_task(base=TickerbeatTask, **options)
