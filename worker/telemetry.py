"""Task outcomes, run times and worker liveness for the metrics exporter (``monitoring.recording``).

- Task runs: ``task_prerun`` notes the start in the pool process, ``task_postrun`` counts the run with its
  final state and run time (one pipelined Redis write). ``task_failure``/``task_retry`` count only what
  the worker's main process reports for a task no pool process finished: a hard time limit, a lost
  worker whose task is not re-queued, a cancelled task. So every run is counted once.
- Worker liveness: on ``worker_ready`` the main process registers its queues and pool size, and every
  ``WORKER_REFRESH_SECONDS`` refreshes them with the number of its processes running a task; the record
  expires ``WORKER_TTL_SECONDS`` after the last refresh, so a killed worker stops counting by itself,
  and a cleanly stopped one is removed at ``worker_shutdown``.

A metrics write never fails a task: Redis errors are logged and dropped.
"""

from __future__ import annotations

import logging
import time

import redis
from celery.signals import task_failure, task_postrun, task_prerun, task_retry, worker_ready, worker_shutdown
from celery.worker import state as worker_state

from monitoring import recording
from runtime.queues import queue_for_task

log = logging.getLogger("tickerbeat.telemetry")

# task id -> monotonic start, for the tasks this process is running.
_started: dict[str, float] = {}


def _redis():
    from runtime import resources

    return resources.current().redis


def _count(task_name: str, state: str, seconds: float | None) -> None:
    queue = queue_for_task(task_name) or "other"
    try:
        recording.record_task(_redis(), task_name, queue, state, seconds)
    except (redis.RedisError, OSError) as exc:
        log.warning("metrics: task %s not counted (%s)", task_name, exc)


@task_prerun.connect
def note_start(task_id=None, **kwargs) -> None:
    if task_id:
        _started[task_id] = time.monotonic()


@task_postrun.connect
def count_run(task_id=None, task=None, state=None, **kwargs) -> None:
    started = _started.pop(task_id, None)
    seconds = None if started is None else time.monotonic() - started
    _count(getattr(task, "name", "unknown"), state or "unknown", seconds)


@task_failure.connect
def count_failure_outside_pool(sender=None, task_id=None, **kwargs) -> None:
    if task_id not in _started:  # else the process running it counts it at task_postrun
        _count(getattr(sender, "name", "unknown"), "failure", None)


@task_retry.connect
def count_retry_outside_pool(sender=None, request=None, **kwargs) -> None:
    if getattr(request, "id", None) not in _started:
        _count(getattr(sender, "name", "unknown"), "retry", None)


def _queues(consumer) -> list[str]:
    task_consumer = getattr(consumer, "task_consumer", None)
    if task_consumer is not None and task_consumer.queues:
        return [q.name for q in task_consumer.queues]
    return list(consumer.app.amqp.queues.consume_from)


def _processes(consumer) -> int:
    try:
        return int(consumer.pool.num_processes)
    except (AttributeError, TypeError, ValueError):
        return int(getattr(consumer.controller, "concurrency", 0) or 0)


def refresh_worker(consumer) -> None:
    """Write this worker's queues, pool size and busy processes (``len`` of Celery's active requests)."""
    try:
        recording.record_worker(
            _redis(),
            consumer.hostname,
            _queues(consumer),
            _processes(consumer),
            len(worker_state.active_requests),
        )
    except (redis.RedisError, OSError) as exc:
        log.warning("metrics: worker %s not refreshed (%s)", consumer.hostname, exc)


@worker_ready.connect
def register_worker(sender=None, **kwargs) -> None:
    refresh_worker(sender)
    sender.timer.call_repeatedly(recording.WORKER_REFRESH_SECONDS, refresh_worker, (sender,))


@worker_shutdown.connect
def forget_worker(sender=None, **kwargs) -> None:
    hostname = getattr(sender, "hostname", None)
    if not hostname:
        return
    try:
        recording.forget_worker(_redis(), hostname)
    except (redis.RedisError, OSError) as exc:
        log.warning("metrics: worker %s not removed (%s); it expires by itself", hostname, exc)
