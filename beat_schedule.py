"""The RedBeat schedule: one declarative table, a reason on every entry.

Times are New York wall-clock times, because the market keeps them; beat fires in UTC. Each entry
becomes a UTC crontab that fires at both of the slot's possible UTC hours (EST is UTC-5, EDT UTC-4),
and ``gate`` — the calendar gate (and conservation mode), run by the task wrapper before the task body —
lets through only the firing that matches New York time on a day the entry's calendar allows. Holidays, half days and
DST come from ``marketcal`` (a maintained exchange calendar), never from this file.

An entry's task receives ``_entry=<name>``; the wrapper replaces it with ``day=<trading day>`` or
skips the run (returning why). A second firing for the same slot and day is skipped too, so a
re-delivered or double-sent message runs the work once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time

from celery.schedules import crontab, schedule

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
    ``conserve``: the order in which conservation mode drops the entry (planning/budget.py); 0 never.
    """

    name: str
    task: str
    at: str
    calendar: str
    expires: int
    why: str
    kwargs: dict = field(default_factory=dict)
    conserve: int = 0  # 0: essential; 1..3: dropped in conservation mode from this level on (1 goes first)
    every: int = 0  # > 0: an interval entry firing every this many seconds (``at`` and the calendar unused)

    def slots(self) -> list[tuple[int, int]]:
        """The entry's New York (hour, minute) slots (none for an interval entry)."""
        if self.every:
            return []
        start, _, end = self.at.partition("-")
        h0, m0 = (int(x) for x in start.split(":"))
        if not end:
            return [(h0, m0)]
        h1, _m1 = (int(x) for x in end.split(":"))
        return [(h, m0) for h in range(h0, h1 + 1)]

    def crontab(self) -> crontab | schedule:
        """A UTC crontab firing at every slot under both New York offsets (the gate keeps one); an interval
        entry's plain ``schedule``."""
        if self.every:
            return schedule(timedelta(seconds=self.every))
        hours = sorted({(h + off) % 24 for h, _ in self.slots() for off in (4, 5)})
        minutes = sorted({m for _, m in self.slots()})
        return crontab(minute=",".join(map(str, minutes)), hour=",".join(map(str, hours)))


# fmt: off
# Entries every plan has: the evening's analysis chain, the morning refresh, upkeep, monthly work.
COMMON: tuple[Entry, ...] = (
    # Indicators after the sweeps; tier 4 is analysed on yesterday's official bar until tonight's arrives.
    Entry("technical-analysis", "tasks.analysis.analyse_day", "18:00", "session", 55 * 60,
          "indicators and data quality over the whole universe"),
    Entry("model-predictions", "tasks.recommendations.predict_day", "19:00", "session", 55 * 60,
          "model scores for every symbol with a bar (or provisional close) today"),
    Entry("recommendations", "tasks.recommendations.recommend_day", "20:00", "session", 55 * 60,
          "ranked buy/hold/sell list and the daily report"),
    # Before the next open, everything again on the official bars, so tier 4 (analysed on yesterday's
    # bar in the evening) and every provisional close are replaced by the real thing.
    Entry("pre-market-refresh", "tasks.recommendations.refresh_day", "05:00", "after-session", 3 * HOUR,
          "indicators, scores and recommendations on every symbol's official bar before the open"),
    Entry("cache-warming", "tasks.maintenance.warm_cache", "02:00", "after-session", 2 * HOUR,
          "precompute the panels the evening analysis reads, before anyone needs them"),
    Entry("database-maintenance", "tasks.maintenance.database_upkeep", "03:00", "after-session", 2 * HOUR,
          "vacuum/analyse and retention while nothing writes"),
    Entry("backup", "tasks.maintenance.backup", "03:30", "after-session", 2 * HOUR,
          "a nightly copy of the database, kept for the retention period"),
    Entry("run-watchdog", "tasks.maintenance.watchdog", "00:00-23:00", "daily", 50 * 60,
          "hourly: lost releases back in line, ended windows closed, runs left undone past their window logged"),
    # One call of the free 60/minute: new listings reach the evening analysis the day they appear, and
    # delisted symbols stop costing calls the next morning (weekly would leave a week of dead calls).
    Entry("universe-refresh", "tasks.tiers.load_universe", "07:00", "session", 3 * HOUR,
          "the listing: new symbols added (tier 4, history backfilled), delisted ones retired"),
    # Conservation mode follows the month's cost projection; hourly is soon enough for daily-metered usage.
    Entry("budget-check", "tasks.planner.check_budget", "00:15-23:15", "daily", 50 * 60,
          "month-to-date cost and projection; conservation mode on or off"),
    # Monthly: tiers follow dollar volume; the model is retrained on a month more of data.
    Entry("tier-reassignment", "tasks.tiers.reassign_tiers", "06:00", "monthly", 6 * HOUR,
          "tiers follow the last month's dollar volume"),
    Entry("model-retraining", "tasks.recommendations.retrain_model", "06:30", "monthly", 6 * HOUR,
          "walk-forward retraining on the latest month of data"),
)

# Interval entries: idempotent work that must never wait for a slot (``every`` seconds, no calendar gate).
INTERVALS: tuple[Entry, ...] = (
    # The feeder re-arms itself while calls wait in line; this wakes it should its chain ever break
    # (a lost message), so admitted work is never stranded for longer than a minute.
    Entry("dispatch-feed", "tasks.dispatch.feed", "", "always", 50, "wake the paced dispatcher", every=60),
    # A fresh box (empty universe, no history, no model) sets itself up; later passes only report progress.
    Entry("bootstrap", "tasks.tiers.bootstrap", "", "always", 250, "first start: universe, history, tiers, model",
          every=300),
)

# How each tier is refreshed: ``TICKERBEAT_TIER_PLAN`` picks one (default ``bulk-first``).
TIER_PLANS: dict[str, tuple[Entry, ...]] = {
    # Every symbol's official bar every day from one grouped call, plus quote sweeps for provisional
    # closes: far more coverage than the seed's rotation, on the same free quotas.
    "bulk-first": (
        # Tier 1 (the 500 most traded) wants intraday freshness; 500 Finnhub quotes take ~9 min at the
        # free 60/minute, so an hourly sweep leaves most of the quota for the close.
        Entry("tier1-quotes-hourly", "tasks.planner.plan_refresh", "09:30-15:30", "market-hours", 50 * 60,
              "intraday freshness for the most traded symbols", {"tiers": [1], "provider": "finnhub"}, conserve=1),
        # At the close, tiers 1 and 2 get a quote that is their provisional close (the official bar comes
        # overnight); 2,000 quotes fit in the hour at 60/minute.
        Entry("tier2-quotes-close", "tasks.planner.plan_refresh", "16:00", "session", 55 * 60,
              "provisional closes for tiers 1-2 before the evening analysis", {"tiers": [1, 2], "provider": "finnhub"},
              conserve=3),
        # Tier 3 an hour later, once tier 2's sweep has used its part of the minute quota.
        Entry("tier3-quotes-close", "tasks.planner.plan_refresh", "17:00", "session", 55 * 60,
              "provisional closes for tier 3", {"tiers": [3], "provider": "finnhub"}, conserve=2),
        # Polygon's free plan serves a day only after it ends (midnight New York): the whole market's
        # official bars in one grouped call, plus the session before it for late corrections.
        Entry("eod-bars", "tasks.planner.plan_eod", "00:30", "after-session", 3 * HOUR,
              "official end-of-day bars for every symbol, bulk first, fallbacks for the gaps"),
        # Missing history (new listings, gaps) is backfilled with grouped calls while the quota is idle.
        Entry("history-backfill", "tasks.planner.plan_backfill", "01:00", "after-session", 3 * HOUR,
              "two years of history for every symbol, a grouped call per missing day"),
    ),
    # The seed's own table, kept expressible: each tier pinned to one provider and frequency, rotating
    # through the tier (symbols with the oldest data first) as far as the per-run budget goes.
    "seed": (
        Entry("seed-tier1-hourly", "tasks.planner.plan_refresh", "09:30-15:30", "market-hours", 50 * 60,
              "tier 1: Finnhub quotes hourly in market hours", {"tiers": [1], "provider": "finnhub"}, conserve=3),
        Entry("seed-tier2-rotation", "tasks.planner.plan_refresh", "16:00", "session", 55 * 60,
              "tier 2: Alpha Vantage daily series, 20 symbols a day (a 75-day cycle for 1,500)",
              {"tiers": [2], "provider": "alphavantage", "per_run": 20}, conserve=2),
        Entry("seed-tier3-subset", "tasks.planner.plan_refresh", "17:00", "session", 55 * 60,
              "tier 3: Polygon previous-day bars, 100 symbols a day", {"tiers": [3], "provider": "polygon", "per_run": 100},
              conserve=2),
        # Weekly for every tier-4 symbol: a fifth of the default 2,500 each session, oldest first.
        Entry("seed-tier4-weekly", "tasks.planner.plan_refresh", "06:00", "session", 3 * HOUR,
              "tier 4: Yahoo history, each symbol once a week; served from cache in between",
              {"tiers": [4], "provider": "yahoo", "per_run": 500}, conserve=1),
    ),
}
DEFAULT_PLAN = "bulk-first"
# fmt: on

ENTRIES: tuple[Entry, ...] = COMMON + INTERVALS + tuple(e for plan in TIER_PLANS.values() for e in plan)


def entries(plan: str = DEFAULT_PLAN) -> tuple[Entry, ...]:
    """The entries beat runs under ``plan`` (a key of ``TIER_PLANS``)."""
    if plan not in TIER_PLANS:
        raise ValueError(f"unknown tier plan {plan!r}; choose one of {', '.join(TIER_PLANS)}")
    return TIER_PLANS[plan] + COMMON + INTERVALS


BY_NAME: dict[str, Entry] = {e.name: e for e in ENTRIES}


def beat_schedule(plan: str = DEFAULT_PLAN) -> dict[str, dict]:
    """Celery's ``beat_schedule`` for ``plan`` (RedBeat stores it in Redis at beat start and removes
    entries that left the table, e.g. after a change of plan)."""
    return {
        e.name: {
            "task": e.task,
            "schedule": e.crontab(),
            "kwargs": {**e.kwargs, "_entry": e.name},
            "options": {"expires": e.expires},
        }
        for e in entries(plan)
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


def gate(entry: Entry, now: datetime, conservation_level: int = 0) -> Firing | str:
    """The firing to run now, or the reason to skip it: not due (calendar), or dropped by conservation
    mode (the budget check's ``conservation_level`` reached the entry's ``conserve`` rank)."""
    firing = due(entry, now)
    if firing is None:
        return f"not due (calendar {entry.calendar})"
    if entry.conserve and conservation_level >= entry.conserve:
        return f"conservation mode level {conservation_level}: its symbols are served from cache"
    return firing


def due_day(entry: Entry, now: datetime) -> date | None:
    """The trading day a firing of ``entry`` at the aware instant ``now`` works for, or None to skip.

    A firing is on time when New York time is within 30 minutes of one of the entry's slots (the
    other UTC firing is an hour off). Pure: the calendar comes from ``marketcal``.
    """
    firing = due(entry, now)
    return firing.day if firing else None


def next_due(
    candidates: Iterable[Entry], now: datetime, horizon_days: int = 40
) -> tuple[Entry, datetime] | None:
    """The entry of ``candidates`` that beat runs next after the aware instant ``now``, and when (New York
    time): the first slot, strictly after ``now`` and within ``horizon_days``, that the calendar gate lets
    through (ties go to the earlier entry). Interval entries (no slot) never come next. An after-session
    firing that works for the same session as the night before (a weekend, a holiday) is not counted:
    the wrapper skips it as a duplicate. None when nothing is due within the horizon."""
    local = now.astimezone(marketcal.EASTERN)
    best: tuple[Entry, datetime] | None = None
    for entry in candidates:
        at = _next_firing(entry, local, horizon_days)
        if at is not None and (best is None or at < best[1]):
            best = (entry, at)
    return best


def _next_firing(entry: Entry, local: datetime, horizon_days: int) -> datetime | None:
    for offset in range(horizon_days + 1):
        d = local.date() + timedelta(days=offset)
        for hour, minute in sorted(entry.slots()):
            at = datetime.combine(d, clock_time(hour, minute), tzinfo=marketcal.EASTERN)
            if at <= local:
                continue
            firing = due(entry, at)
            if firing is None:
                continue
            if entry.calendar == "after-session":
                before = due(entry, at - timedelta(days=1))
                if before is not None and before.day == firing.day:
                    continue
            return at
    return None


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
