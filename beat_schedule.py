"""The RedBeat schedule: one declarative table, a reason on every entry.

Times are New York wall-clock times, because the market keeps them; beat fires in UTC. Each entry
becomes a UTC crontab that fires at both of the slot's possible UTC hours (EST is UTC-5, EDT UTC-4),
and ``due_day`` — the calendar gate, run by the task wrapper before the task body — lets through only
the firing that matches New York time on a day the entry's calendar allows. Holidays, half days and
DST come from ``marketcal`` (a maintained exchange calendar), never from this file.

An entry's task receives ``_entry=<name>``; the wrapper replaces it with ``day=<trading day>`` or
skips the run (returning why). A second firing for the same slot and day is skipped too, so a
re-delivered or double-sent message runs the work once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from celery.schedules import crontab

import marketcal

HOUR = 3600


@dataclass(frozen=True)
class Entry:
    """One schedule entry.

    ``at``: New York time ``HH:MM``, or ``HH:MM-HH:MM`` for an hourly range (both ends included).
    ``calendar``: ``session`` (NYSE trading days), ``market-hours`` (while the session is open; half
    days stop at their early close), ``after-session`` (the most recent completed session, once),
    ``monthly`` (the first trading day of a month), ``weekly`` (the first trading day of a week).
    ``expires``: seconds after sending when the message is discarded unrun (a late run is worse than none).
    """

    name: str
    task: str
    at: str
    calendar: str
    expires: int
    why: str
    kwargs: dict = field(default_factory=dict)

    def slots(self) -> list[tuple[int, int]]:
        """The entry's New York (hour, minute) slots."""
        start, _, end = self.at.partition("-")
        h0, m0 = (int(x) for x in start.split(":"))
        if not end:
            return [(h0, m0)]
        h1, _m1 = (int(x) for x in end.split(":"))
        return [(h, m0) for h in range(h0, h1 + 1)]

    def crontab(self) -> crontab:
        """A UTC crontab firing at every slot under both New York offsets (the gate keeps one)."""
        hours = sorted({(h + off) % 24 for h, _ in self.slots() for off in (4, 5)})
        minutes = sorted({m for _, m in self.slots()})
        return crontab(minute=",".join(map(str, minutes)), hour=",".join(map(str, hours)))


ENTRIES: tuple[Entry, ...] = (
    # Tier 1 (the 500 most traded) wants intraday freshness; 500 Finnhub quotes take ~9 min at the free
    # 60/minute, so an hourly sweep leaves most of the quota for the close.
    Entry(
        "tier1-quotes-hourly",
        "tasks.planner.plan_quotes",
        "09:30-15:30",
        "market-hours",
        50 * 60,
        "intraday freshness for the most traded symbols",
        {"tiers": [1]},
    ),
    # At the close, tiers 1 and 2 get a quote that is their provisional close (the official bar comes
    # overnight); 2,000 quotes fit in the hour at 60/minute.
    Entry(
        "tier2-quotes-close",
        "tasks.planner.plan_quotes",
        "16:00",
        "session",
        55 * 60,
        "provisional closing prices for tiers 1-2 before the evening analysis",
        {"tiers": [1, 2]},
    ),
    # Tier 3 an hour later, once tier 2's sweep has used its part of the minute quota.
    Entry(
        "tier3-quotes-close",
        "tasks.planner.plan_quotes",
        "17:00",
        "session",
        55 * 60,
        "provisional closing prices for tier 3",
        {"tiers": [3]},
    ),
    # Indicators after the sweeps; tier 4 is analysed on yesterday's official bar until tonight's arrives.
    Entry(
        "technical-analysis",
        "tasks.analysis.analyse_day",
        "18:00",
        "session",
        55 * 60,
        "indicators and data quality over the whole universe",
    ),
    # Predictions normally follow the analysis chord; this entry is the safety net if it did not.
    Entry(
        "model-predictions",
        "tasks.recommendations.predict_day",
        "19:00",
        "session",
        55 * 60,
        "model scores for every analysed symbol (no-op when the analysis chain already made them)",
    ),
    Entry(
        "recommendations",
        "tasks.recommendations.recommend_day",
        "20:00",
        "session",
        55 * 60,
        "ranked buy/hold/sell list and the daily report",
    ),
    # Polygon's free plan serves a day only after it ends (midnight New York): the whole market's
    # official bars in one grouped call, plus the session before it for late corrections.
    Entry(
        "eod-bars",
        "tasks.planner.plan_eod",
        "00:30",
        "after-session",
        3 * HOUR,
        "official end-of-day bars for every symbol, bulk first, fallbacks for the gaps",
    ),
    # Missing history (new listings, gaps) is backfilled with grouped calls while the quota is idle.
    Entry(
        "history-backfill",
        "tasks.planner.plan_backfill",
        "01:00",
        "after-session",
        3 * HOUR,
        "two years of history for every symbol, a grouped call per missing day",
    ),
    Entry(
        "cache-warming",
        "tasks.maintenance.warm_cache",
        "02:00",
        "after-session",
        2 * HOUR,
        "precompute the panels the evening analysis reads, before anyone needs them",
    ),
    Entry(
        "database-maintenance",
        "tasks.maintenance.database_upkeep",
        "03:00",
        "after-session",
        2 * HOUR,
        "vacuum/analyse and retention while nothing writes",
    ),
    Entry(
        "backup",
        "tasks.maintenance.backup",
        "03:30",
        "after-session",
        2 * HOUR,
        "a nightly copy of the database, kept for the retention period",
    ),
    Entry(
        "hung-chord-watchdog",
        "tasks.maintenance.watchdog",
        "00:00-23:00",
        "daily",
        50 * 60,
        "re-drive chords whose header tasks were lost, hourly",
    ),
    # Monthly: tiers follow dollar volume; the model is retrained on a month more of data.
    Entry(
        "tier-reassignment",
        "tasks.tiers.reassign_tiers",
        "06:00",
        "monthly",
        6 * HOUR,
        "tiers follow the last month's dollar volume",
    ),
    Entry(
        "model-retraining",
        "tasks.recommendations.retrain_model",
        "06:30",
        "monthly",
        6 * HOUR,
        "walk-forward retraining on the latest month of data",
    ),
)

BY_NAME: dict[str, Entry] = {e.name: e for e in ENTRIES}


def beat_schedule() -> dict[str, dict]:
    """Celery's ``beat_schedule`` (RedBeat stores it in Redis at beat start)."""
    return {
        e.name: {
            "task": e.task,
            "schedule": e.crontab(),
            "kwargs": {**e.kwargs, "_entry": e.name},
            "options": {"expires": e.expires},
        }
        for e in ENTRIES
    }


@dataclass(frozen=True)
class Firing:
    """A firing that the gate lets through: the trading day it works for and the New York slot it fills."""

    day: date
    slot: datetime

    @property
    def key(self) -> str:
        """Names the work once: the same day at the same slot time is a duplicate (so an after-session
        entry firing again on a weekend night does not redo the session it already did)."""
        return f"{self.day.isoformat()}@{self.slot.strftime('%H:%M')}"


def due(entry: Entry, now: datetime) -> Firing | None:
    """The firing of ``entry`` at the aware instant ``now``, or None when it must be skipped."""
    local = now.astimezone(marketcal.EASTERN)
    slot = _nearest_slot(entry, local)
    if slot is None:
        return None
    day = _day_for(entry, slot, now)
    return Firing(day, slot) if day is not None else None


def due_day(entry: Entry, now: datetime) -> date | None:
    """The trading day a firing of ``entry`` at the aware instant ``now`` works for, or None to skip.

    A firing is on time when New York time is within 30 minutes of one of the entry's slots (the
    other UTC firing is an hour off). Pure: the calendar comes from ``marketcal``.
    """
    firing = due(entry, now)
    return firing.day if firing else None


def _day_for(entry: Entry, slot: datetime, now: datetime) -> date | None:
    d = slot.date()
    if entry.calendar == "daily":
        return d
    if entry.calendar == "after-session":
        return marketcal.last_completed_session(now)
    if not marketcal.is_trading_day(d):
        return None
    if entry.calendar == "session":
        return d
    if entry.calendar == "market-hours":
        return d if marketcal.is_open(slot) else None
    if entry.calendar == "monthly":
        first = marketcal.trading_days(d.replace(day=1), d)
        return d if first and first[0] == d else None
    if entry.calendar == "weekly":
        monday = d - timedelta(days=d.weekday())
        first = marketcal.trading_days(monday, d)
        return d if first and first[0] == d else None
    raise ValueError(f"entry {entry.name!r}: unknown calendar {entry.calendar!r}")


def _nearest_slot(entry: Entry, local: datetime) -> datetime | None:
    for hour, minute in entry.slots():
        slot = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        for candidate in (slot - timedelta(days=1), slot, slot + timedelta(days=1)):
            if abs((local - candidate).total_seconds()) < 30 * 60:
                return candidate
    return None
