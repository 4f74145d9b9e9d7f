"""The sandbox clock, fault drawing and statistics (pure parts, no server)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from sandbox.clock import Clock, ClockError, parse_instant
from sandbox.faults import ERROR, GARBAGE, NOTE, TIMEOUT, FaultBook
from sandbox.profiles import Faults, ProfileError
from sandbox.stats import Stats


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-25T21:30:00Z", datetime(2026, 11, 25, 21, 30, tzinfo=UTC)),
        ("2026-11-25T16:30:00-05:00", datetime(2026, 11, 25, 21, 30, tzinfo=UTC)),
        ("2026-11-25T21:30:00", datetime(2026, 11, 25, 21, 30, tzinfo=UTC)),  # naive = UTC
        ("2026-11-25", datetime(2026, 11, 25, 0, 0, tzinfo=UTC)),
    ],
)
def test_parse_instant(text, expected):
    assert parse_instant(text) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-01T00:00:00Z", "1795000000"])
def test_parse_instant_rejects(text):
    with pytest.raises(ClockError, match="ISO 8601"):
        parse_instant(text)


def test_frozen_clock_moves_only_when_told():
    start = datetime(2026, 11, 25, 21, 30, tzinfo=UTC)
    clock = Clock(start, frozen=True)
    assert clock.time() == start.timestamp() and clock.frozen
    clock.advance(61)
    assert clock.time() == start.timestamp() + 61
    clock.set(datetime(2026, 11, 26, tzinfo=UTC))
    assert clock.now() == datetime(2026, 11, 26, tzinfo=UTC)
    clock.restart()
    assert clock.time() == start.timestamp()


def test_pinned_clock_runs_from_its_start():
    start = datetime(2026, 11, 25, 21, 30, tzinfo=UTC)
    clock = Clock(start)
    assert not clock.frozen
    assert 0 <= clock.time() - start.timestamp() < 60  # generous: it has only just started
    clock.advance(3600)
    assert 3600 <= clock.time() - start.timestamp() < 3660


def draws(book: FaultBook, provider: str, n: int) -> list:
    return [book.draw(provider)[1] for _ in range(n)]


def test_fault_rates_and_determinism():
    faults = {"polygon": Faults(error_rate=0.2, garbage_rate=0.1, timeout_rate=0.05)}
    book = FaultBook(faults, seed=42)
    seq = draws(book, "polygon", 4000)
    counts = Counter(seq)
    assert counts[ERROR] == pytest.approx(800, rel=0.15)
    assert counts[GARBAGE] == pytest.approx(400, rel=0.2)
    assert counts[TIMEOUT] == pytest.approx(200, rel=0.3)
    assert counts[None] == pytest.approx(2600, rel=0.1)
    book.reset()
    assert draws(book, "polygon", 4000) == seq  # same seed, same sequence
    assert draws(FaultBook(faults, seed=43), "polygon", 4000) != seq
    assert set(draws(book, "finnhub", 100)) == {None}  # other providers untouched


def test_note_only_for_alpha_vantage_and_always_error():
    book = FaultBook({"*": Faults(note_rate=1.0)}, seed=1)
    assert set(draws(book, "alphavantage", 20)) == {NOTE}
    assert set(draws(book, "yahoo", 20)) == {None}
    book.update({"yahoo": {"always_error": True, "latency_ms": 250}})
    assert book.draw("yahoo") == (0.25, ERROR)
    book.update({"yahoo": None})
    assert book.effective("yahoo") == Faults(note_rate=1.0)  # back to "*"
    book.reset()
    assert book.effective("finnhub").note_rate == 1.0  # the profile's faults come back on reset


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"nasdaq": {}}, "unknown provider"),
        ({"finnhub": {"error_rate": 2}}, "faults.finnhub.error_rate"),
        ({"finnhub": {"always_error": "yes"}}, "always_error"),
        ([1], "expected a JSON object"),
    ],
)
def test_fault_updates_are_validated(body, fragment):
    book = FaultBook({}, seed=1)
    with pytest.raises(ProfileError) as info:
        book.update(body)
    assert fragment in str(info.value)
    assert book.effective("finnhub") == Faults()  # nothing half-applied


def test_stats_counts_and_log():
    stats = Stats(("finnhub", "yahoo"), log_size=3)
    stats.record("finnhub", "quote", 200, "ok", 100.0)
    stats.record("finnhub", "quote", 429, "throttled", 101.0)
    stats.record("finnhub", "stock/candle", 403, "not_entitled", 102.0)
    stats.record("yahoo", "chart", 503, "server_error", 103.0)
    snap = stats.snapshot()
    f = snap["providers"]["finnhub"]
    assert (f["calls"], f["ok"], f["throttled"], f["errors"]) == (3, 1, 1, {"not_entitled": 1})
    assert f["endpoints"] == {"quote": 2, "stock/candle": 1}
    assert snap["totals"] == {"calls": 4, "ok": 1, "throttled": 1, "errors": 2}
    assert snap["dropped"] == 1  # the log keeps the last 3
    assert [r["arrival"] for r in stats.requests(since=102.0)] == [102.0, 103.0]
    assert [r["seq"] for r in stats.requests(after_seq=3)] == [4]
