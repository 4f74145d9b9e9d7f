"""One trading day, driven the way beat drives it: the same tasks, in the schedule's order.

``DayDriver`` sends each phase's task with an explicit ``day`` (no calendar gate: the caller chooses the
day), moves the sandbox's clock to the phase's New York time when it drives a sandbox, and waits until
every queue is drained before the next phase. Used by ``make demo``, ``bench/day.py`` and the
end-to-end tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time

import marketcal
from beat_schedule import DEFAULT_PLAN, entries
from dispatch import Backlog
from runtime.queues import PROVIDERS, QUEUE_NAMES, queue_for_task


@dataclass(frozen=True)
class Phase:
    name: str
    task: str
    at: str  # New York time of the beat entry it stands for ("+1 00:30" = the next calendar day)
    kwargs: dict = field(default_factory=dict)


# What has to exist before a day can be analysed (the universe, two years of history, tiers, a model):
# the first start's bootstrap, exactly as a fresh ``make run`` does it, its steps paced by the dispatcher.
PREPARE_PHASES: tuple[Phase, ...] = (
    Phase("first start (universe, two years of history, tiers, model)", "tasks.tiers.bootstrap", "08:00"),
)

# Calendars whose entries make up one trading day, and where on the clock they fall.
_DAY_CALENDARS = {"market-hours": 0, "session": 0, "after-session": 1}


def day_phases(plan: str = DEFAULT_PLAN) -> tuple[Phase, ...]:
    """The day as beat runs it under ``plan`` (beat_schedule.py is the one table): the planning and
    analysis entries of the trading day, then those of the night after it, in New York time order.
    The first slot of an hourly entry stands for all of them; upkeep (queue ``maintenance``) and
    weekly/monthly work are left out."""
    phases = []
    for e in entries(plan):
        if e.calendar not in _DAY_CALENDARS or queue_for_task(e.task) not in ("control", "compute"):
            continue
        hour, minute = e.slots()[0]
        offset = _DAY_CALENDARS[e.calendar]
        phases.append(
            (offset, hour, minute, Phase(e.name, e.task, f"+{offset} {hour:02d}:{minute:02d}", e.kwargs))
        )
    return tuple(p for *_, p in sorted(phases, key=lambda item: item[:3]))


DAY_PHASES = day_phases()


def queue_depth(redis_client) -> int:
    """Messages waiting in every declared queue, messages delivered but not yet acknowledged, and calls
    admitted to the paced dispatcher but not yet settled (in line or in flight). The feeder's own next pass
    (a countdown message) is not work while nothing is in line or in flight: it will find nothing to do."""
    backlog = Backlog(redis_client)
    pipe = redis_client.pipeline()
    for name in QUEUE_NAMES:
        pipe.llen(name)
    for provider in PROVIDERS:
        pipe.zcard(backlog.line_key(provider))
        pipe.zcard(backlog.flight_key(provider))
    pipe.hvals("unacked")
    *counts, unacked = pipe.execute()
    if sum(counts) == 0:
        unacked = [m for m in unacked if _FEED_MARKER not in m]
    return sum(counts) + len(unacked)


_FEED_MARKER = b'"task": "tasks.dispatch.feed"'


def phase_instant(day: date, at: str) -> datetime:
    """The aware instant of a phase's New York time ``HH:MM`` or ``+N HH:MM`` relative to ``day``."""
    offset, _, hhmm = at.rpartition(" ")
    hour, minute = (int(x) for x in hhmm.split(":"))
    return datetime.combine(
        day + timedelta(days=int(offset or 0)), clock_time(hour, minute), tzinfo=marketcal.EASTERN
    )


class DayDriver:
    """Drives phases through a Celery app (``worker.app.make_app``) and waits for each to finish.

    ``sandbox``: a ``sandbox.testing.SandboxProcess`` whose clock follows the phases (None for real
    providers). ``check``: called while waiting (e.g. to fail fast when a worker process died).
    ``say``: progress output. ``progress``: called with the phase's name before its task is sent, then
    about twice a second while it waits (e.g. to draw the dispatcher's pacing). ``timings``: seconds per
    phase name.
    """

    def __init__(
        self,
        app,
        redis_client,
        *,
        sandbox=None,
        timeout: float = 900.0,
        check: Callable[[], None] | None = None,
        say: Callable[[str], None] = print,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.app, self.redis, self.sandbox = app, redis_client, sandbox
        self.timeout, self.check, self.say, self.progress = timeout, check, say, progress
        self.timings: dict[str, float] = {}

    def phase(self, phase: Phase, clock_day: date, **kwargs) -> dict:
        """Send ``phase`` with ``kwargs`` (the sandbox's clock at the phase's time on ``clock_day``), wait."""
        if self.sandbox is not None:
            self.sandbox.clock(now=phase_instant(clock_day, phase.at))
        self.say(f"==> {phase.name}")
        if self.progress:
            self.progress(phase.name)
        start = time.monotonic()
        task_id = self.app.signature(phase.task, kwargs={**phase.kwargs, **kwargs}).apply_async().id
        value = self._result(task_id, phase.name)
        self.wait_idle(phase.name)
        seconds = time.monotonic() - start
        self.timings[phase.name] = round(seconds, 1)
        self.say(f"    done in {seconds:.1f} s: {_brief(value)}")
        return value

    def _result(self, task_id: str, label: str):
        """The task's return value, polled from the result backend as plain reads of its stored meta.

        Not through ``AsyncResult``: reading the result of a task that launched others (a group, a chain)
        turns its children into ``AsyncResult`` objects that each subscribe a pub/sub channel and stay
        referenced until interpreter exit, when their ``__del__`` unsubscribes from a Redis already
        stopped (the traceback that ended every ``make demo``). A task that failed raises its exception."""
        from celery import states

        backend, deadline = self.app.backend, time.monotonic() + self.timeout
        while (meta := backend.get_task_meta(task_id, cache=False))["status"] not in states.READY_STATES:
            if self.check:
                self.check()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{label}: no result after {self.timeout:.0f} s")
            time.sleep(0.2)
        if meta["status"] in states.PROPAGATE_STATES:
            error = meta["result"]  # the task's exception, rebuilt by the backend
            if isinstance(error, BaseException):
                raise error
            raise RuntimeError(f"{label}: {meta['status']}: {error!r}")
        return meta["result"]

    def prepare(self, day: date, history_days: int | None = None) -> dict[str, dict]:
        """Universe, two years of history (``history_days`` calendar days if given) up to the session
        before ``day``, tiers and a trained model: the bootstrap of a first start, with its history ending
        on the session before ``day``."""
        previous = marketcal.previous_trading_day(day)
        (first_start,) = PREPARE_PHASES
        wanted = {"history_days": history_days} if history_days else {}
        # The clock stands on the morning of ``day``: the previous session has ended and is served.
        return {first_start.name: self.phase(first_start, day, history_end=previous.isoformat(), **wanted)}

    def run_day(self, day: date, phases: tuple[Phase, ...] = DAY_PHASES) -> dict[str, dict]:
        return {p.name: self.phase(p, day, day=day.isoformat()) for p in phases}

    def wait_idle(self, label: str = "", settle: float = 1.0) -> float:
        """Block until nothing is queued or running (twice in a row, ``settle`` s apart)."""
        start = last_said = time.monotonic()
        quiet = 0
        while True:
            if self.check:
                self.check()
            if self.progress:
                self.progress(label)
            depth = queue_depth(self.redis)
            quiet = quiet + 1 if depth == 0 else 0
            if quiet >= 2:
                return time.monotonic() - start
            if time.monotonic() - last_said > 5:
                last_said = time.monotonic()
                self.say(f"    {label}: {depth} tasks queued or running")
            if time.monotonic() - start > self.timeout:
                raise TimeoutError(f"{label}: still busy after {self.timeout:.0f} s ({depth} messages)")
            time.sleep(settle if depth == 0 else 0.5)


def _brief(value) -> str:
    if not isinstance(value, dict):
        return str(value)[:200]
    return ", ".join(f"{k}={v}" for k, v in value.items() if not isinstance(v, list | dict))[:200]
