"""End to end at the REAL free rates and shapes, in real time: the sandbox's ``free`` profile (Finnhub
30/s + 60/min, Polygon 5/min, Yahoo 60/min + a 5-minute block, Alpha Vantage 1/s + 25/day), the client's
``free`` plans, a private Redis, a database and a real Celery worker per queue.

- The first start, from an empty universe: the bootstrap loads the universe and starts the paced history
  within minutes; a second start starts nothing again.
- That history (21 sessions at Polygon's 5/minute: four windows, about 4 minutes) and a Finnhub sweep of
  every symbol (about 200 at 60/minute: four windows, about 3 minutes) run at once; a Finnhub pool process
  is SIGKILLed once mid-sweep. Every admitted call is made exactly once, answered 200, the sandbox counts no
  throttle answer, every ledger adds up with nothing pending, carried or stale, and both runs take about
  the quota's floor (not a benchmark: a correctness bound of the pacing, generous above).

One stack for the module (about 6 minutes in all): the tests share the first start's history run.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

import marketcal
from dispatch import Backlog
from ratelimits import parse_policy, quota_floor
from runtime import keys
from sandbox.testing import SandboxError
from stack.day import phase_instant
from stack.local import LIGHT_CONCURRENCY, local_stack
from stack.redis_server import RedisServerError
from storage import active_symbols, upsert_bars
from storage.models import DailyBar, Quote
from tests.conftest import require

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

SYMBOLS = 200
TODAY = date(2026, 11, 20)  # a Friday; the sandbox's clock starts at 08:00 New York on it
# The free plan serves a session from 00:00 New York the next day: the history ends the day before.
HISTORY_END = marketcal.previous_trading_day(TODAY)
HISTORY_DAYS = 730  # jobs.planner.HISTORY_DAYS: the free plan's two years
BACKFILL_SESSIONS = 21  # at least 20, and the 21st opens a fourth 5/minute window: a floor of 241 s
SWEEP_TIERS = [1, 2, 3, 4]
FIRST_START_SECONDS = 180  # "within minutes": universe loaded and paced history making calls
KILL_AFTER = 45.0  # seconds into the sweep: its first 60 calls are made, the next wait for 60 s + guard

BACKFILL_KEY = keys.BACKFILL_RUN
BOOTSTRAP_KEY = keys.BOOTSTRAP


def _history_sessions() -> list[date]:
    """The sessions of the two-year history ending on ``HISTORY_END``, as ``missing_sessions`` counts them."""
    return marketcal.trading_days(HISTORY_END - timedelta(days=HISTORY_DAYS - 1), HISTORY_END)


@pytest.fixture(scope="module")
def free_stack(tmp_path_factory):
    work = tmp_path_factory.mktemp("free")
    try:
        with local_stack(
            work, symbols=SYMBOLS, sandbox_now=phase_instant(TODAY, "08:00"), profile="free",
            database_url=os.environ.get("TEST_DATABASE_URL"), private_schema=True, concurrency=LIGHT_CONCURRENCY,
            loglevel="INFO", timeout=480, say=lambda _: None,
        ) as local:  # fmt: skip
            yield local
    except (RedisServerError, SandboxError) as exc:
        require(False, f"the local stack could not start: {exc}")


def _preload_history(stack) -> list[date]:
    """Store the sandbox's own bars for every session of the history but the ``BACKFILL_SESSIONS`` most
    recent ones; returns the sessions left to the backfill, oldest first.

    Why: the whole two-year history is about 500 grouped calls, 100 minutes at 5/minute, and no argument
    of the bootstrap shortens it (``plan_backfill``'s ``history_days`` is not passed by the bootstrap, and
    the sandbox serves every session of the window). The universe itself stays empty (no symbol rows), so
    the bootstrap still begins from nothing: it loads the universe from the provider and only then plans
    the history, finding exactly the recent sessions missing. The bars are those the sandbox would serve
    (its market model, same seed and size), split-adjusted as of today like a grouped call's.
    """
    from sandbox.market import Market
    from sandbox.universe import build_universe

    sessions = _history_sessions()
    stored, left = sessions[:-BACKFILL_SESSIONS], sessions[-BACKFILL_SESSIONS:]
    universe = build_universe(stack.sandbox.seed, SYMBOLS)
    market = Market(universe, stack.sandbox.seed, TODAY)
    records = []
    for d in stored:
        bars = market.cross_section(market.index[d], TODAY)
        for i, sec in enumerate(universe.securities):
            if bars["present"][i]:
                records.append({"symbol": sec.symbol, "day": d, "open": float(bars["open"][i]),
                                "high": float(bars["high"][i]), "low": float(bars["low"][i]),
                                "close": float(bars["close"][i]), "volume": float(bars["volume"][i]),
                                "vwap": None, "adjusted": True, "source": "polygon"})  # fmt: skip
    with stack.db.session() as s, s.begin():
        upsert_bars(s, records)
    return left


def _send(stack, task: str, **kwargs) -> str:
    return stack.driver.app.signature(task, kwargs=kwargs).apply_async().id


def _result(stack, task_id: str, timeout: float = 120.0):
    """A task's return value, read as plain result meta (as ``DayDriver`` does)."""
    backend, deadline = stack.driver.app.backend, time.monotonic() + timeout
    while (meta := backend.get_task_meta(task_id, cache=False))["status"] not in ("SUCCESS", "FAILURE"):
        stack.procs.check_alive()
        assert time.monotonic() < deadline, f"task {task_id}: no result after {timeout:.0f} s"
        time.sleep(0.2)
    assert meta["status"] == "SUCCESS", meta["result"]
    return meta["result"]


def _requests(stack, provider: str, endpoint: str) -> list[dict]:
    return [r for r in stack.sandbox.requests() if r["provider"] == provider and r["endpoint"] == endpoint]


def _state(stack) -> str:
    """What the first start has done so far, for a failure message."""
    backlog = Backlog(stack.redis)
    runs = {i: backlog.ledger(i) for i in backlog.run_ids(HISTORY_END.isoformat())}
    status = stack.redis.hget(BOOTSTRAP_KEY, "status")
    return f"bootstrap status: {status!r}; runs: {runs}; logs in {stack.work / 'logs'}"


@pytest.fixture(scope="module")
def first_start(free_stack):
    """The first start: the history mostly stored (see ``_preload_history``), the universe empty; the
    bootstrap is sent as beat or ``DayDriver.prepare`` send it. Returns when the paced history is making
    calls (not when it is done), with the timings."""
    stack = free_stack
    with stack.db.session() as s:
        assert active_symbols(s) == []
    backfill_sessions = _preload_history(stack)
    start = time.monotonic()
    _send(stack, "tasks.tiers.bootstrap", history_end=HISTORY_END.isoformat())
    backlog = Backlog(stack.redis)
    universe_at = history_at = None
    while history_at is None:
        stack.procs.check_alive()
        elapsed = time.monotonic() - start
        assert elapsed < FIRST_START_SECONDS, (
            f"first start not under way after {elapsed:.0f} s: {_state(stack)}"
        )
        if universe_at is None:
            with stack.db.session() as s:
                if active_symbols(s):
                    universe_at = elapsed
        run = stack.redis.get(BACKFILL_KEY)
        ledger = backlog.ledger(run.decode()) if run else None
        if universe_at is not None and ledger is not None and ledger.made > 0:
            history_at = elapsed
        time.sleep(0.25)
    return {"universe_seconds": universe_at, "history_seconds": history_at, "backfill_run": run.decode(),
            "backfill_sessions": backfill_sessions}  # fmt: skip


def test_first_start_loads_the_universe_and_starts_the_paced_history_once(free_stack, first_start):
    stack, backlog = free_stack, Backlog(free_stack.redis)
    # within minutes: the universe from the provider's list, then the history's first calls
    assert first_start["universe_seconds"] <= first_start["history_seconds"] < FIRST_START_SECONDS
    with stack.db.session() as s:
        universe = active_symbols(s)
    assert len(universe) >= SYMBOLS * 0.9
    assert len(_requests(stack, "finnhub", "stock/symbol")) == 1
    run = first_start["backfill_run"]
    ledger = backlog.ledger(run)
    assert ledger.kind == "polygon.backfill" and ledger.deadline is None  # carries on until done
    assert ledger.admitted == BACKFILL_SESSIONS  # exactly the sessions the database lacks
    assert ledger.made > 0 and ledger.pending > 0 and ledger.problems() == []
    assert run in {spec.id for spec in backlog.open_runs()}
    universe_run = stack.redis.hget(BOOTSTRAP_KEY, "universe_run")
    assert backlog.ledger(universe_run.decode()).done
    runs_before = backlog.run_ids(HISTORY_END.isoformat())
    assert sorted(r.split(":")[0] for r in runs_before) == ["backfill", "universe"]

    # A second start (beat's first bootstrap tick after a restart: no arguments) starts nothing again.
    again = _result(stack, _send(stack, "tasks.tiers.bootstrap"))
    assert again["started"] == [], again
    time.sleep(5.0)  # anything it had sent would be under way by now
    assert stack.redis.get(BACKFILL_KEY).decode() == run
    assert stack.redis.hget(BOOTSTRAP_KEY, "universe_run") == universe_run
    assert backlog.run_ids(HISTORY_END.isoformat()) == runs_before
    assert backlog.ledger(run).admitted == BACKFILL_SESSIONS
    assert len(_requests(stack, "finnhub", "stock/symbol")) == 1  # the universe was not asked for again


def _child_pids(parent: int) -> set[int]:
    with open(f"/proc/{parent}/task/{parent}/children") as f:
        return {int(p) for p in f.read().split()}


def _kill_one_busy_child(stack, queue: str, task: str) -> dict | None:
    """SIGKILL the pool process of ``queue``'s worker that is running a ``task`` (as ``inspect active``
    reports it); returns what was killed, or None when no such process was busy."""
    children = _child_pids(stack.procs.procs[f"worker-{queue}"].pid)
    replies = stack.driver.app.control.inspect(timeout=2.0).active() or {}
    for node_tasks in replies.values():
        for t in node_tasks:
            if t.get("name") == task and t.get("worker_pid") in children:
                os.kill(t["worker_pid"], signal.SIGKILL)
                return {"pid": t["worker_pid"], "symbol": (t.get("kwargs") or {}).get("symbol")}
    return None


def _killer(stack, after_seq: int, killed: dict) -> None:
    """Once the sweep has made its first window's calls and its next calls wait for their slots, kill
    one Finnhub pool process that holds one of them. Only in the quiet gap between windows: no quote call
    can be on the wire then (the quota allows none), so the killed task had not made its call."""
    try:
        deadline = time.monotonic() + 120
        first = None
        while first is None and time.monotonic() < deadline:
            quotes = [r for r in stack.sandbox.requests(after_seq=after_seq) if r["endpoint"] == "quote"]
            first = quotes[0]["arrival"] if quotes else None
            time.sleep(0.2)
        if first is None:
            killed["error"] = "the sweep made no call within 120 s"
            return
        while stack.sandbox.clock()["epoch"] < first + KILL_AFTER:
            time.sleep(0.2)
        while (now := stack.sandbox.clock()["epoch"]) < first + 58.0:
            last = max(
                r["arrival"] for r in stack.sandbox.requests(after_seq=after_seq) if r["endpoint"] == "quote"
            )
            if now - last > 3.0 and (
                victim := _kill_one_busy_child(stack, "finnhub", "tasks.finnhub.fetch_quote")
            ):
                killed.update(victim, at=now - first, last_call=last - first)
                return
            time.sleep(0.5)
        killed["error"] = "no Finnhub pool process held a quote call in the gap between windows"
    except Exception as exc:  # noqa: BLE001 - reported by the test
        killed["error"] = repr(exc)


def test_history_and_sweep_at_the_free_floor_make_every_call_once_with_a_worker_killed(
    free_stack, first_start
):
    from jobs.planner import missing_sessions

    stack, backlog = free_stack, Backlog(free_stack.redis)
    guard = stack.settings.quota_guard_seconds
    # every symbol in a tier once the bootstrap's provisional tier assignment has run
    deadline = time.monotonic() + 120
    while True:
        with stack.db.session() as s:
            universe = active_symbols(s)
            tiered = sum(len(active_symbols(s, tier=t)) for t in SWEEP_TIERS)
        if tiered == len(universe):
            break
        assert time.monotonic() < deadline, f"{tiered} of {len(universe)} symbols have a tier after 120 s"
        time.sleep(1.0)
    assert len(universe) >= 150

    mark = stack.sandbox.requests()[-1]["seq"]
    sweep = _result(stack, _send(stack, "tasks.planner.plan_refresh", tiers=SWEEP_TIERS, day=TODAY.isoformat(),
                                 provider="finnhub"))  # fmt: skip
    assert sweep["admitted"] == len(universe) >= 150 and sweep["carried"] == 0, sweep
    killed: dict = {}
    killer = threading.Thread(target=_killer, args=(stack, mark, killed), daemon=True)
    killer.start()
    stack.driver.wait_idle("free-rate history and sweep")
    killer.join(timeout=5)
    assert killed.get("pid") and not killed.get("error"), killed

    log = stack.sandbox.requests()
    stats = stack.sandbox.stats()["providers"]
    # 0 throttle answers, every answer a 200; only the calls the runs admitted
    assert {p: s["throttled"] for p, s in stats.items()} == {p: 0 for p in stats}, stats
    assert {r["status"] for r in log} == {200}
    assert (stats["yahoo"]["calls"], stats["alphavantage"]["calls"]) == (0, 0)

    # Nothing pending anywhere, and every run's ledger adds up with every admitted call made.
    assert all(backlog.depth(p) == (0, 0) for p in ("finnhub", "polygon", "yahoo", "alphavantage"))
    universe_run = stack.redis.hget(BOOTSTRAP_KEY, "universe_run").decode()
    ledgers = {name: backlog.ledger(run) for name, run in
               (("universe", universe_run), ("backfill", first_start["backfill_run"]), ("sweep", sweep["run"]))}  # fmt: skip
    for name, ledger in ledgers.items():
        assert ledger.problems() == [] and ledger.done, (name, ledger)
        assert (ledger.pending, ledger.carried_total, ledger.stale) == (0, 0, 0), (name, ledger)
        assert ledger.made == ledger.admitted and ledger.outcomes == {"ok": ledger.made}, (name, ledger)
        # a deferral is only ever a call given back to its place in line, then made
        assert ledger.deferred_made <= ledger.made and (ledger.deferred + ledger.reclaimed == 0
                                                        or ledger.deferred_made > 0), (name, ledger)  # fmt: skip

    # The history: one grouped call per missing session, each made exactly once. The count of calls equals
    # the count of sessions, and each session now has its bars (the preload held none of them), so no
    # session was asked for twice and none was left out.
    grouped = [r for r in log if r["endpoint"] == "grouped"]
    assert len(grouped) == ledgers["backfill"].made == BACKFILL_SESSIONS
    with stack.db.session() as s:
        per_day = dict(s.execute(select(DailyBar.day, func.count()).where(DailyBar.day.in_(first_start["backfill_sessions"]))
                                 .group_by(DailyBar.day)).all())  # fmt: skip
        quoted = set(s.scalars(select(Quote.symbol).distinct()))
        assert missing_sessions(s, HISTORY_END.isoformat()) == ([], len(_history_sessions()))
    assert sorted(per_day) == first_start["backfill_sessions"]
    assert min(per_day.values()) >= 0.9 * len(universe), per_day

    # The sweep: one quote call per admitted symbol, each made exactly once, the killed one included:
    # as many calls as symbols, and every symbol answered ok (the run's ok set) and stored.
    quotes = [r for r in log if r["endpoint"] == "quote"]
    keys = backlog.keys(sweep["run"])
    assert len(keys) == sweep["admitted"] and len(quotes) == ledgers["sweep"].made == len(keys)
    assert backlog.ok_keys(sweep["run"]) == keys and quoted == set(keys)
    assert killed["symbol"] in keys

    # Pacing: the quota's floor for that many calls (+ the guard per window), at most 5 % + 5 s more
    # (measured on the loaded 2-core machine: 1.000 for the history, 1.002 for the sweep).
    polygon, finnhub = parse_policy("5/minute"), parse_policy("30/second, 60/minute")
    history_span = grouped[-1]["arrival"] - grouped[0]["arrival"]
    history_floor = quota_floor(polygon, len(grouped), guard)
    sweep_span = quotes[-1]["arrival"] - quotes[0]["arrival"]
    # the killed call's booked slot went unused: the sweep's floor counts one call more
    sweep_floor = quota_floor(finnhub, len(quotes) + 1, guard)
    figures = {"history": (len(grouped), round(history_span, 1), round(history_floor, 1),
                           round(history_span / history_floor, 3)),
               "sweep": (len(quotes), round(sweep_span, 1), round(sweep_floor, 1), round(sweep_span / sweep_floor, 3)),
               "first_start": (round(first_start["universe_seconds"], 1), round(first_start["history_seconds"], 1)),
               "calls": {p: s["calls"] for p, s in stats.items()}, "killed": killed,
               "deferred": {n: (lg.deferred, lg.deferred_made, lg.reclaimed) for n, lg in ledgers.items()}}  # fmt: skip
    print(f"free-rate pacing: {figures}")
    # below: the sandbox's own windows (no guard) already forbid faster; above: the bound of the pacing
    assert quota_floor(polygon, len(grouped)) <= history_span <= 1.05 * history_floor + 5.0, figures
    assert 60.0 < sweep_span <= 1.05 * sweep_floor + 5.0, figures  # spans windows, at the floor's pace
