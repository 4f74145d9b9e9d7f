"""How the Celery app is configured: derived from the settings and the queue declaration.

The process's app itself lives in ``worker.celery`` (``celery -A worker`` finds it there).
"""

from __future__ import annotations

from celery import Celery
from kombu import Exchange, Queue

from runtime.queues import BY_NAME, QUEUES, queue_for_task, task_modules, time_limits
from runtime.settings import Settings

# RedBeat holds its lock for this long; a standby beat takes over at most this long after the active
# one dies. beat_max_loop_interval must be shorter so the active beat renews the lock in time.
REDBEAT_LOCK_TIMEOUT_SECONDS = 30
BEAT_MAX_LOOP_INTERVAL_SECONDS = 5


def route_task(name, args, kwargs, options, task=None, **kw):
    """Celery router: a task goes to the queue that declares its module."""
    queue = queue_for_task(name)
    return {"queue": queue, "routing_key": queue} if queue else None


class TimeLimits:
    """A Celery task annotation: each task's ``soft_time_limit`` and ``time_limit`` from its queue's
    declaration (``runtime.queues``), below the broker's visibility timeout (``runtime.queues.time_limits``).
    Messages carry no limits of their own (beat and the dispatcher send by name), so these apply."""

    def __init__(self, visibility_timeout: float) -> None:
        self.visibility_timeout = visibility_timeout

    def annotate(self, task) -> dict | None:
        spec = BY_NAME.get(queue_for_task(task.name) or "")
        if spec is None:
            return None
        soft, hard = time_limits(spec, self.visibility_timeout)
        return {"soft_time_limit": soft, "time_limit": hard}


def celery_config(settings: Settings) -> dict:
    """Celery's configuration, derived from the settings and the queue declaration."""
    transport = {
        # A message not acked within this many seconds is delivered again (Redis broker).
        # Longer than any task's hard time limit (see TimeLimits), never used for long ETAs.
        "visibility_timeout": settings.visibility_timeout_seconds,
    }
    return {
        "broker_url": settings.broker_url,
        "result_backend": settings.result_backend,
        "broker_transport_options": transport,
        "result_backend_transport_options": {"retry_policy": {"timeout": 5.0}},
        "broker_connection_retry_on_startup": True,
        "task_queues": [Queue(q.name, Exchange(q.name, type="direct"), routing_key=q.name) for q in QUEUES],
        "task_default_queue": "control",
        "task_routes": (route_task,),
        "task_create_missing_queues": False,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        # Late acks + reject on lost worker: a killed worker's task runs again; tasks are idempotent.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # Soft and hard time limits per queue, below the visibility timeout (a late task must not run twice).
        "task_annotations": (TimeLimits(settings.visibility_timeout_seconds),),
        "worker_prefetch_multiplier": 1,
        "task_track_started": True,
        "task_send_sent_event": True,
        "worker_send_task_events": True,
        "result_expires": settings.result_expires_seconds,
        "result_extended": False,
        "timezone": "UTC",
        "enable_utc": True,
        "beat_scheduler": "worker.beat:TickerbeatScheduler",  # RedBeat plus a liveness stamp per tick
        "redbeat_redis_url": settings.redbeat_redis_url,
        "redbeat_key_prefix": "tickerbeat:redbeat",
        "redbeat_lock_timeout": REDBEAT_LOCK_TIMEOUT_SECONDS,
        "beat_max_loop_interval": BEAT_MAX_LOOP_INTERVAL_SECONDS,
        "worker_hijack_root_logger": False,
    }


def make_app(settings: Settings) -> Celery:
    from beat_schedule import beat_schedule

    app = Celery("tickerbeat", include=list(task_modules()))
    app.conf.update(celery_config(settings))
    app.conf.beat_schedule = beat_schedule(settings.tier_plan)
    return app
