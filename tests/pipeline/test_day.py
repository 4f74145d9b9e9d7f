"""End to end: real workers, real Redis, the sandbox over HTTP, a real database. Slow by nature."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from sqlalchemy import func, select

from stack.local import day_coverage
from storage.models import DailyBar, Quote, Symbol
from tests.pipeline.conftest import DAYS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _assert_no_duplicates(db):
    """Natural keys are primary keys; still, count rows against distinct keys as a tripwire."""
    with db.session() as s:
        rows = s.scalar(select(func.count()).select_from(DailyBar))
        distinct = s.scalar(
            select(func.count()).select_from(select(DailyBar.symbol, DailyBar.day).distinct().subquery())
        )
        assert rows == distinct
        quotes = s.scalar(select(func.count()).select_from(Quote))
        qdistinct = s.scalar(
            select(func.count()).select_from(select(Quote.symbol, Quote.at).distinct().subquery())
        )
        assert quotes == qdistinct


def test_a_whole_day_covers_every_symbol_without_violations(stack):
    day = DAYS[0]
    before = stack.sandbox.stats()["totals"]["throttled"]
    results = stack.driver.run_day(day)
    c = day_coverage(stack.db, day)
    symbols, indicators, recommended = c.symbols, c.indicators, c.recommended
    assert len(symbols) >= 150
    # every symbol has its official bar after the overnight phase (or is marked stale with a reason)
    assert not c.without_bar, sorted(c.without_bar)[:10]
    # every symbol is analysed and recommended, or has a recorded reason why not
    assert not c.unexplained, sorted(c.unexplained)[:10]
    assert len(recommended) >= 0.9 * len(symbols)
    assert len(indicators) >= 0.9 * len(symbols)
    assert stack.sandbox.stats()["totals"]["throttled"] == before  # 0 violations during the day
    # the budget check runs on the day's usage: free plans cost nothing, so no conservation
    from stack.day import Phase

    budget = stack.driver.phase(
        Phase("budget", "tasks.planner.check_budget", "+0 21:00"), day, day=day.isoformat()
    )
    assert (budget["level"], budget["projection_usd"]) == (0, 0.0)
    assert json.loads(stack.redis.get("tickerbeat:conservation"))["level"] == 0
    # the evening ranks what has a bar or provisional close; the pre-market refresh ranks everyone
    assert results["recommendations"]["recommendations"] <= len(recommended)
    _assert_no_duplicates(stack.db)


def _child_pids(parent: int) -> list[int]:
    path = f"/proc/{parent}/task/{parent}/children"
    with open(path) as f:
        return [int(p) for p in f.read().split()]


def _in_hand(stack, queue: str) -> bool:
    """True while a message of ``queue`` is delivered to a worker and not yet acknowledged (kombu's
    Redis transport keeps those in the ``unacked`` hash until the late ack)."""
    marker = f'"routing_key": "{queue}"'.encode()
    return any(marker in v for v in stack.redis.hvals("unacked"))


def _kill_child_when_busy(stack, queue: str, timeout: float = 120.0) -> bool:
    """SIGKILL the pool processes of ``queue``'s worker while one of its messages is in hand."""
    worker = stack.procs.procs[f"worker-{queue}"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _in_hand(stack, queue):
            children = _child_pids(worker.pid)
            for child in children:
                os.kill(child, signal.SIGKILL)
            if children:
                return True
        time.sleep(0.02)
    return False


def test_killed_workers_mid_batch_and_mid_callback_lose_nothing(stack):
    import threading

    day = DAYS[1]
    killed = {}

    def killer():
        killed["finnhub"] = _kill_child_when_busy(stack, "finnhub")
        time.sleep(1.0)
        killed["compute"] = _kill_child_when_busy(stack, "compute")

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    stack.driver.run_day(day)
    t.join(timeout=5)
    assert killed.get("finnhub") and killed.get("compute"), killed
    c = day_coverage(stack.db, day)
    assert not c.without_bar and not c.unexplained
    _assert_no_duplicates(stack.db)


def test_a_provider_answering_only_errors_falls_back_and_reports_gaps(stack):
    day = DAYS[2]
    stack.sandbox.set_faults("polygon", always_error=True)
    try:
        results = stack.driver.run_day(day)
    finally:
        stack.sandbox.set_faults("polygon", always_error=False)
    c = day_coverage(stack.db, day)
    # both grouped calls were made and answered with errors (not skipped, not deferred)
    from dispatch import Backlog

    eod = Backlog(stack.redis).ledger(results["eod-bars"]["run"])
    assert eod.made == 2 and eod.outcomes.get("ok", 0) == 0, eod
    # Polygon failed, so the bars came from the fallbacks; whatever they could not serve is marked stale
    assert not c.without_bar
    assert len(c.bars) >= 0.5 * len(c.symbols)
    with stack.db.session() as s:
        sources = set(s.scalars(select(DailyBar.source).where(DailyBar.day == day)))
    assert "polygon" not in sources and sources, sources
    assert not c.unexplained


def test_the_seed_tier_plan_runs_its_rotations(stack):
    """The seed's table as configuration: tier 2 from Alpha Vantage (20 a run), tier 3 from Polygon's
    per-ticker bars, tier 4 from Yahoo, each through its own quota, with no violations."""
    from stack.day import day_phases
    from storage import upsert_symbols

    day = DAYS[3]
    with stack.db.session() as s:
        symbols = sorted(s.scalars(select(Symbol.ticker).where(Symbol.active.is_(True))))
    pinned = {2: symbols[:30], 3: symbols[30:60], 4: symbols[60:90]}
    with stack.db.session() as s, s.begin():
        upsert_symbols(s, [{"ticker": t, "pinned_tier": tier} for tier, ts in pinned.items() for t in ts])
    before = stack.sandbox.stats()["providers"]
    try:
        results = stack.driver.run_day(day, day_phases("seed"))
    finally:
        with stack.db.session() as s, s.begin():
            upsert_symbols(s, [{"ticker": t, "pinned_tier": None} for ts in pinned.values() for t in ts])
    after = stack.sandbox.stats()["providers"]
    calls = {p: after[p]["calls"] - before[p]["calls"] for p in after}
    assert results["seed-tier2-rotation"]["admitted"] == 20  # per_run
    assert calls["alphavantage"] == 20
    assert results["seed-tier3-subset"]["admitted"] == 30 and calls["polygon"] == 30
    assert results["seed-tier4-weekly"]["admitted"] == 30 and calls["yahoo"] == 30
    assert all(after[p]["throttled"] == before[p]["throttled"] for p in after)


def test_the_watchdog_puts_back_releases_whose_messages_were_lost(stack):
    """Calls released from the line whose messages never reached a worker (a lost broker, say): once they
    have been in flight longer than the lost-after time, the watchdog puts them back in line and the
    feeder releases them again; each is made once, and the lost message, should it turn up late, makes
    no call (its release no longer holds)."""
    from dispatch import Backlog, RunSpec
    from stack.day import Phase

    day = DAYS[0].isoformat()
    with stack.db.session() as s:
        symbols = sorted(s.scalars(select(Symbol.ticker).where(Symbol.active.is_(True))))[:3]
    backlog = Backlog(stack.redis)
    spec = RunSpec(f"lost-releases:{day}", "finnhub", "tasks.finnhub.fetch_quote", "symbol", day, "finnhub.test",
                   common={"day": day}, track_ok=True)  # fmt: skip
    assert backlog.submit(spec, symbols) == 3
    lost = backlog.take("finnhub", 3)  # released, but no message is ever sent
    assert [r.key for r in lost] == symbols
    # two hours pass for them (the in-flight score is the release instant)
    flight = backlog.flight_key("finnhub")
    stack.redis.zadd(flight, {r.member: backlog.now() - 7200 for r in lost})
    before = stack.sandbox.stats()["providers"]["finnhub"]["calls"]

    stack.driver.phase(Phase("watchdog", "tasks.maintenance.watchdog", "+0 21:00"), DAYS[0])
    ledger = backlog.ledger(spec.id)
    assert (ledger.made, ledger.reclaimed, ledger.pending, ledger.problems()) == (3, 3, 0, [])
    assert backlog.ok_keys(spec.id) == symbols
    assert stack.sandbox.stats()["providers"]["finnhub"]["calls"] - before == 3
    # the lost message turns up after all: its release was reclaimed, so it makes no call
    late = stack.driver.app.send_task("tasks.finnhub.fetch_quote",
                                      kwargs={"symbol": symbols[0], "day": day, "_dispatch": lost[0].member})  # fmt: skip
    assert stack.driver._result(late.id, "late message")["outcome"] == "superseded"
    assert stack.sandbox.stats()["providers"]["finnhub"]["calls"] - before == 3
    assert backlog.ledger(spec.id).made == 3
