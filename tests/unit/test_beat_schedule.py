"""The schedule table and its calendar gate, from a table of instants whose answers come from the
NYSE calendar (Thanksgiving 2026-11-26 closed, 2026-11-27 closes at 13:00, DST starts 2026-03-08 and
ends 2026-11-01)."""

from datetime import UTC, date, datetime

import pytest

import beat_schedule
import marketcal
from beat_schedule import BY_NAME, ENTRIES, due_day


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("entry", "now", "expected"),
    [
        ("tier2-quotes-close", utc(2026, 11, 25, 21, 0), date(2026, 11, 25)),  # 16:00 EST
        ("tier2-quotes-close", utc(2026, 11, 25, 20, 0), None),  # 15:00 EST: the EDT firing
        ("tier2-quotes-close", utc(2026, 7, 15, 20, 0), date(2026, 7, 15)),  # 16:00 EDT
        ("tier2-quotes-close", utc(2026, 7, 15, 21, 0), None),  # 17:00 EDT: the EST firing
        ("tier2-quotes-close", utc(2026, 11, 26, 21, 0), None),  # Thanksgiving
        ("tier2-quotes-close", utc(2026, 11, 28, 21, 0), None),  # Saturday
        ("tier2-quotes-close", utc(2026, 3, 9, 20, 0), date(2026, 3, 9)),  # first EDT Monday
        ("tier2-quotes-close", utc(2026, 3, 6, 21, 0), date(2026, 3, 6)),  # last EST Friday
        ("tier2-quotes-close", utc(2026, 11, 25, 21, 12), date(2026, 11, 25)),  # started a bit late
        ("tier1-quotes-hourly", utc(2026, 11, 25, 14, 30), date(2026, 11, 25)),  # 09:30 EST open
        ("tier1-quotes-hourly", utc(2026, 11, 25, 13, 30), None),  # 08:30 EST, before the open
        ("tier1-quotes-hourly", utc(2026, 11, 25, 20, 30), date(2026, 11, 25)),  # 15:30 EST
        ("tier1-quotes-hourly", utc(2026, 11, 25, 21, 30), None),  # 16:30 EST, after the close
        ("tier1-quotes-hourly", utc(2026, 11, 27, 17, 30), date(2026, 11, 27)),  # 12:30 on a half day
        ("tier1-quotes-hourly", utc(2026, 11, 27, 18, 30), None),  # 13:30: half day already closed
        ("tier1-quotes-hourly", utc(2026, 7, 15, 13, 30), date(2026, 7, 15)),  # 09:30 EDT
        ("eod-bars", utc(2026, 11, 26, 5, 30), date(2026, 11, 25)),  # 00:30 EST Thu -> Wednesday's session
        ("eod-bars", utc(2026, 11, 27, 5, 30), date(2026, 11, 25)),  # after Thanksgiving: still Wednesday
        ("eod-bars", utc(2026, 11, 28, 5, 30), date(2026, 11, 27)),  # the half day's session
        ("tier-reassignment", utc(2026, 12, 1, 11, 0), date(2026, 12, 1)),  # first session of December
        ("tier-reassignment", utc(2026, 12, 2, 11, 0), None),
        ("tier-reassignment", utc(2026, 11, 2, 11, 0), date(2026, 11, 2)),  # Monday 2 Nov, after DST ended
        ("run-watchdog", utc(2026, 11, 28, 3, 0), date(2026, 11, 27)),  # 22:00 EST Friday, any day
    ],
)
def test_calendar_gate(entry, now, expected):
    assert due_day(BY_NAME[entry], now) == expected


def test_every_slot_is_reachable_from_its_crontab():
    """The crontab fires at the slot's UTC hour under both offsets, and the gate lets one through."""
    for e in ENTRIES:
        cron = e.crontab()
        for hour, minute in e.slots():
            assert minute in cron.minute
            assert {(hour + 4) % 24, (hour + 5) % 24} <= set(cron.hour)


def test_entries_have_names_reasons_and_expiry():
    names = [e.name for e in ENTRIES]
    assert len(names) == len(set(names))
    for e in ENTRIES:
        assert e.why.strip() and e.expires > 0
        assert e.calendar in {
            "session",
            "market-hours",
            "after-session",
            "monthly",
            "weekly",
            "daily",
            "always",
        }
        # an interval entry (every > 0) and only it runs on the "always" calendar, with no New York slot
        assert (e.calendar == "always") == (e.every > 0)
        assert (e.slots() == []) == (e.every > 0)


def test_interval_entries_fire_on_a_plain_interval():
    feed = BY_NAME["dispatch-feed"]
    sched = feed.crontab()
    assert sched.run_every.total_seconds() == feed.every == 60
    # its expiry is shorter than its interval: a backlog of wake-ups never piles up
    assert feed.expires < feed.every


def test_beat_schedule_carries_the_entry_name_and_expiry():
    schedule = beat_schedule.beat_schedule()
    assert set(schedule) == {e.name for e in beat_schedule.entries("bulk-first")}
    assert "eod-bars" in schedule and "seed-tier2-rotation" not in schedule
    seed = beat_schedule.beat_schedule("seed")
    assert "seed-tier2-rotation" in seed and "eod-bars" not in seed and "recommendations" in seed
    with pytest.raises(ValueError, match="unknown tier plan 'gold'"):
        beat_schedule.beat_schedule("gold")
    for name, spec in schedule.items():
        assert spec["kwargs"]["_entry"] == name
        assert spec["options"]["expires"] == BY_NAME[name].expires


def test_firing_keys_name_the_work_once():
    from beat_schedule import due

    eod = BY_NAME["eod-bars"]
    friday_night = due(eod, utc(2026, 11, 27, 5, 30))  # Wednesday's session
    thursday_night = due(eod, utc(2026, 11, 26, 5, 30))  # Wednesday's session too
    assert friday_night.key == thursday_night.key
    hourly = BY_NAME["tier1-quotes-hourly"]
    assert due(hourly, utc(2026, 11, 25, 14, 30)).key != due(hourly, utc(2026, 11, 25, 15, 30)).key


@pytest.mark.parametrize(
    ("entry", "level", "runs"),
    [
        ("tier1-quotes-hourly", 0, True),
        ("tier1-quotes-hourly", 1, False),  # extra intraday sweeps go first
        ("tier3-quotes-close", 1, True),
        ("tier3-quotes-close", 2, False),
        ("tier2-quotes-close", 2, True),
        ("tier2-quotes-close", 3, False),
        ("technical-analysis", 3, True),  # essential work is never dropped
        ("eod-bars", 3, True),
    ],
)
def test_conservation_mode_drops_optional_entries_in_order(entry, level, runs):
    from beat_schedule import Firing, gate

    e = BY_NAME[entry]
    # an instant at which the entry is due: its first slot on a trading day (New York time)
    hour, minute = e.slots()[0]
    day = date(2026, 11, 26) if e.calendar == "after-session" else date(2026, 11, 25)
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=marketcal.EASTERN)
    result = gate(e, local, level)
    assert isinstance(result, Firing) is runs, result
    if not runs:
        assert "conservation mode" in result


def ny(*args):
    return datetime(*args, tzinfo=marketcal.EASTERN)


# What `make status` calls "next": the day's work (hourly upkeep left out, as stack.status does).
DAY_WORK = [e for e in beat_schedule.entries() if e.calendar != "daily"]


@pytest.mark.parametrize(
    ("candidates", "now", "entry", "at"),
    [
        (DAY_WORK, ny(2026, 11, 25, 15, 0), "tier1-quotes-hourly", ny(2026, 11, 25, 15, 30)),
        (DAY_WORK, ny(2026, 11, 25, 15, 30), "tier2-quotes-close", ny(2026, 11, 25, 16, 0)),  # strictly after
        (
            DAY_WORK,
            ny(2026, 11, 25, 20, 30),
            "eod-bars",
            ny(2026, 11, 26, 0, 30),
        ),  # Wednesday's bars, Thursday
        # Thanksgiving: Friday night's after-session entries would redo Wednesday (skipped as duplicates)
        (DAY_WORK, ny(2026, 11, 26, 6, 0), "universe-refresh", ny(2026, 11, 27, 7, 0)),
        # the half day closes at 13:00: no 13:30 sweep, the close sweep still runs at 16:00
        (DAY_WORK, ny(2026, 11, 27, 12, 45), "tier2-quotes-close", ny(2026, 11, 27, 16, 0)),
        # Saturday noon: Friday's night is done; Sunday's and Monday's nights would redo it
        (DAY_WORK, ny(2026, 11, 28, 12, 0), "universe-refresh", ny(2026, 11, 30, 7, 0)),
        (DAY_WORK, ny(2026, 11, 30, 23, 0), "eod-bars", ny(2026, 12, 1, 0, 30)),
        (
            DAY_WORK,
            datetime(2026, 11, 25, 20, 0, tzinfo=UTC),
            "tier1-quotes-hourly",
            ny(2026, 11, 25, 15, 30),
        ),
        ([BY_NAME["tier-reassignment"]], ny(2026, 11, 30, 8, 0), "tier-reassignment", ny(2026, 12, 1, 6, 0)),
        ([BY_NAME["run-watchdog"]], ny(2026, 11, 28, 10, 5), "run-watchdog", ny(2026, 11, 28, 11, 0)),
    ],
)
def test_next_due(candidates, now, entry, at):
    found = beat_schedule.next_due(candidates, now)
    assert found is not None
    assert (found[0].name, found[1]) == (entry, at)


def test_next_due_has_nothing_for_interval_entries_or_an_empty_horizon():
    assert (
        beat_schedule.next_due([BY_NAME["dispatch-feed"], BY_NAME["bootstrap"]], ny(2026, 11, 25, 12, 0))
        is None
    )
    assert beat_schedule.next_due([], ny(2026, 11, 25, 12, 0)) is None
    monthly = [BY_NAME["tier-reassignment"]]
    assert beat_schedule.next_due(monthly, ny(2026, 12, 2, 8, 0), horizon_days=5) is None
    assert beat_schedule.next_due(monthly, ny(2026, 12, 2, 8, 0))[1] == ny(2027, 1, 4, 6, 0)  # 1 Jan closed
