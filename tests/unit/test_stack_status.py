"""``make status``'s lines and the demo's free-profile helpers, from tables."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import pytest

import marketcal
from beat_schedule import BY_NAME, entries
from stack.demo import BACKFILL_TASK, day_phases, history_days, main
from stack.status import Pacing, next_text, pacing_line, slot_text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "now"),
        (0.04, "now"),
        (0.86, "in 0.9 s"),
        (9.94, "in 9.9 s"),
        (12.4, "in 12 s"),
        (119.0, "in 119 s"),
        (240.0, "in 4 min"),
        (9000.0, "in 2.5 h"),
        (math.inf, "blocked until lifted"),
    ],
)
def test_slot_text(seconds, text):
    assert slot_text(seconds) == text


@pytest.mark.parametrize(
    ("pacing", "line"),
    [
        (Pacing("yahoo", 0, 0, 0.0), "yahoo        0 in line · 0 in flight · next slot now"),
        (
            Pacing("finnhub", 1200, 18, 0.9, (("finnhub.refresh", 62, 1280),)),
            "finnhub      1,200 in line · 18 in flight · finnhub.refresh 62/1,280 made · next slot in 0.9 s",
        ),
        (
            Pacing("polygon", 3, 0, math.inf, (("polygon.eod", 0, 2), ("polygon.backfill", 137, 500))),
            "polygon      3 in line · 0 in flight · polygon.eod 0/2 made · polygon.backfill 137/500 made · "
            "next slot blocked until lifted",
        ),
    ],
)
def test_pacing_line(pacing, line):
    assert pacing_line(pacing) == line


def ny(*args) -> datetime:
    return datetime(*args, tzinfo=marketcal.EASTERN)


@pytest.mark.parametrize(
    ("now", "text"),
    [
        (ny(2026, 11, 25, 9, 0), "tier1-quotes-hourly 09:30 ET"),
        (ny(2026, 11, 25, 17, 30), "technical-analysis 18:00 ET"),
        (ny(2026, 11, 25, 21, 0), "eod-bars Thu 00:30 ET"),  # tomorrow: the weekday says so
        (datetime(2026, 11, 25, 14, 0, tzinfo=UTC), "tier1-quotes-hourly 09:30 ET"),  # 09:00 EST
        # hourly upkeep (run watchdog, budget check) is never "next"
        (ny(2026, 11, 28, 12, 0), "universe-refresh Mon 07:00 ET"),
    ],
)
def test_next_text(now, text):
    assert next_text(entries(), now) == text


def test_next_text_is_empty_when_nothing_is_due():
    assert next_text([BY_NAME["dispatch-feed"], BY_NAME["run-watchdog"]], ny(2026, 11, 25, 9, 0)) == ""


@pytest.mark.parametrize(
    ("end", "sessions", "days"),
    [
        (date(2026, 11, 27), 30, 43),  # 2026-10-16 .. 11-27: 30 sessions (Thanksgiving closed)
        (date(2026, 11, 25), 1, 1),
        (date(2026, 11, 30), 2, 4),  # Friday and Monday
    ],
)
def test_history_days_hold_the_sessions_asked_for(end, sessions, days):
    assert history_days(end, sessions) == days
    # what tasks.planner.missing_sessions counts for that many days
    start = date.fromordinal(end.toordinal() - days + 1)
    assert len(marketcal.trading_days(start, end)) == sessions


def test_a_short_history_reaches_the_nights_backfill_too():
    short = day_phases(43)
    (backfill,) = [p for p in short if p.task == BACKFILL_TASK]
    assert backfill.kwargs["history_days"] == 43
    assert [p.name for p in short] == [p.name for p in day_phases(None)]
    assert all("history_days" not in p.kwargs for p in day_phases(None))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profile", "paid"], "invalid choice: 'paid'"),
        (["--history-sessions", "3"], "--history-sessions must be between 5 and 520"),
        (["--symbols", "10"], "--symbols must be between 50 and 15000"),
    ],
)
def test_demo_usage_errors(args, message, capsys):
    with pytest.raises(SystemExit) as stop:
        main(args)
    assert stop.value.code == 2 and message in capsys.readouterr().err
