"""Runs Redis lost are submitted again from the database, and a run's usage counts once however often its
callback runs. The jobs are called directly (``ctx``: the test Redis, a migrated database, the free tiers);
Redis losing its data is a FLUSHALL; a call made is a release settled as a worker settles it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from dispatch import Release, RunSpec
from jobs import names, planner, redrive, runs
from jobs.feeder import feed_all
from storage import upsert_bars, upsert_quotes, upsert_symbols, usage_for
from storage.runs import open_runs, run_state

DAY = "2026-11-25"


def _symbols(ctx, names_: list[str]) -> None:
    with ctx.db.session() as s, s.begin():
        upsert_symbols(s, [{"ticker": t, "name": t, "source": "test", "tier": 1} for t in names_])


def _sent(ctx, queue: str) -> list[dict]:
    """The messages waiting in ``queue``: task name and keyword arguments."""
    out = []
    for raw in ctx.redis.lrange(queue, 0, -1):
        envelope = json.loads(raw)
        out.append({"task": envelope["headers"]["task"], "kwargs": envelope["headers"].get("kwargsrepr")})
    return out


def _make_calls(ctx, provider: str, n: int = 1000, outcome: str = "ok") -> list[str]:
    """Settle up to ``n`` calls of ``provider`` as made, as the workers would: those the feeder let out
    already, then more let out of the line."""
    flying = [Release(m.decode()) for m in ctx.redis.zrange(ctx.backlog.flight_key(provider), 0, n - 1)]
    made = []
    for release in flying + ctx.backlog.take(provider, n - len(flying)):
        runs.conclude(ctx, release, ctx.backlog.settle(provider, release, "made", outcome), "test")
        made.append(release.key)
    return made


def _quote(symbol: str, at: datetime) -> dict:
    return {"symbol": symbol, "at": at, "price": 10.0, "source": "finnhub", "fetched_at": at}


def test_a_sweep_redis_lost_is_admitted_again_for_the_symbols_not_yet_quoted(ctx):
    symbols = [f"S{i:02d}" for i in range(10)]
    _symbols(ctx, symbols)
    done = planner.plan_refresh(ctx, "refresh:a", [1], DAY, "finnhub", None, window_seconds=600)
    assert done["admitted"] == 10
    made = _make_calls(ctx, "finnhub", 4)  # four calls made (their quotes stored), then Redis loses it all
    with ctx.db.session() as s, s.begin():
        upsert_quotes(s, [_quote(sym, datetime.now(UTC)) for sym in made])
    spec = ctx.backlog.spec("refresh:a")
    ctx.redis.flushall()
    assert ctx.backlog.ledger("refresh:a") is None

    report = feed_all(ctx)  # the next feeder pass notices at once (its check marker went with Redis)

    assert report["finnhub"]["released"] + report["finnhub"]["in_line"] == 6
    ledger = ctx.backlog.ledger("refresh:a")
    assert ledger.admitted == 6 and ledger.problems() == []
    assert sorted(ctx.backlog.keys("refresh:a")) == sorted(set(symbols) - set(made))
    assert ctx.backlog.spec("refresh:a") == spec  # the same run: its window, callback and carry list
    with ctx.db.session() as s:
        (durable,) = open_runs(s)
    assert durable.redriven == 1
    assert redrive.redrive(ctx)["redriven"] == []  # Redis has it again: nothing submitted twice

    _make_calls(ctx, "finnhub")  # the rest made: the callback is sent once
    assert [m["task"] for m in _sent(ctx, "compute")] == [names.ANALYSE_RUN]
    with ctx.db.session() as s:
        assert run_state(s, "refresh:a") == "fired"
    with ctx.db.session() as s, s.begin():  # what the callback does first: the run is done
        planner.record_run_usage(s, ctx.backlog.ledger("refresh:a"))
    with ctx.db.session() as s:
        assert run_state(s, "refresh:a") == "done" and open_runs(s) == []
    ctx.redis.flushall()
    assert redrive.redrive(ctx) == {"redriven": [], "refired": [], "abandoned": []}  # done: left alone


def test_a_callback_redis_lost_with_its_run_is_sent_again(ctx):
    symbols = ["AAA", "BBB"]
    _symbols(ctx, symbols)
    planner.plan_refresh(ctx, "refresh:b", [1], DAY, "finnhub", None, window_seconds=600)
    with ctx.db.session() as s, s.begin():
        upsert_quotes(s, [_quote(sym, datetime.now(UTC)) for sym in _make_calls(ctx, "finnhub")])
    assert [m["task"] for m in _sent(ctx, "compute")] == [names.ANALYSE_RUN]
    ctx.redis.flushall()  # the callback's message, and the run, lost before the callback ran

    assert redrive.redrive(ctx)["redriven"] == ["refresh:b"]
    assert [m["task"] for m in _sent(ctx, "compute")] == [names.ANALYSE_RUN]  # every symbol served: sent now
    assert ctx.backlog.ledger("refresh:b").admitted == 0


def test_fallbacks_redis_lost_skip_the_symbols_whose_bar_is_stored(ctx):
    symbols = ["AAA", "BBB", "CCC"]
    _symbols(ctx, symbols)
    spec = RunSpec(f"eod-alphavantage:{DAY}", "alphavantage", names.ALPHAVANTAGE_DAILY, "symbol", DAY,
                   kind="alphavantage.fallback", common={"start": "2026-11-24", "end": DAY},
                   callback=names.ANALYSE_RUN, callback_kwargs={"day": DAY}, priority=0, on_expiry="stale",
                   track_ok=True)  # fmt: skip
    runs.submit(ctx, spec, symbols)
    with ctx.db.session() as s, s.begin():
        upsert_bars(s, [{"symbol": "BBB", "day": date.fromisoformat(DAY), "open": 1.0, "high": 1.0, "low": 1.0,
                         "close": 1.0, "volume": 1.0, "source": "alphavantage"}])  # fmt: skip
    ctx.redis.flushall()

    assert redrive.redrive(ctx)["redriven"] == [spec.id]
    assert ctx.backlog.keys(spec.id) == ["AAA", "CCC"]  # Alpha Vantage's 25 a day are not spent twice


def test_a_run_done_whose_callback_was_not_recorded_fires_it_again(ctx):
    spec = RunSpec("history:x", "polygon", names.POLYGON_GROUPED_DAILY, "day", DAY, kind="polygon.backfill",
                   callback=names.AFTER_BACKFILL, callback_kwargs={"day": DAY}, priority=2)  # fmt: skip
    runs.submit(ctx, spec, ["2026-11-24"])
    release = ctx.backlog.take("polygon", 1)[0]
    ctx.backlog.settle("polygon", release, "made", "ok")  # done in Redis; the worker died before firing
    assert _sent(ctx, "control") == [{"task": names.FEED, "kwargs": "{}"}]

    assert redrive.redrive(ctx)["refired"] == [spec.id]
    assert sorted(m["task"] for m in _sent(ctx, "control")) == sorted([names.FEED, names.AFTER_BACKFILL])
    with ctx.db.session() as s:
        assert run_state(s, spec.id) == "fired"
    assert redrive.redrive(ctx)["refired"] == []  # sent: its message waits in Redis, not sent twice


def test_a_run_lost_too_long_ago_is_abandoned_with_a_reason(ctx, caplog):
    spec = RunSpec("eod:old", "polygon", names.POLYGON_GROUPED_DAILY, "day", DAY, kind="polygon.eod",
                   callback=names.AFTER_EOD, callback_kwargs={"day": DAY}, priority=0)  # fmt: skip
    runs.submit(ctx, spec, [DAY])
    ctx.redis.flushall()
    later = datetime.now(UTC) + redrive.ABANDON_AFTER + timedelta(hours=1)

    assert redrive.redrive(ctx, now=later)["abandoned"] == ["eod:old"]
    assert ctx.backlog.ledger("eod:old") is None
    with ctx.db.session() as s:
        assert run_state(s, "eod:old") == "abandoned"
    assert "eod:old: lost from Redis and not submitted again" in caplog.text


def test_a_callback_that_runs_twice_counts_its_calls_once(ctx):
    spec = RunSpec("history:y", "polygon", names.POLYGON_GROUPED_DAILY, "day", DAY, kind="polygon.backfill",
                   callback=names.AFTER_BACKFILL, callback_kwargs={"day": DAY}, priority=2)  # fmt: skip
    runs.submit(ctx, spec, ["2026-11-23", "2026-11-24"])
    _make_calls(ctx, "polygon")
    other = RunSpec("history:z", "polygon", names.POLYGON_GROUPED_DAILY, "day", DAY, kind="polygon.backfill",
                    priority=2)  # fmt: skip
    runs.submit(ctx, other, ["2026-11-20"])
    _make_calls(ctx, "polygon")

    for _ in range(2):  # the callback delivered twice (a redelivery, or fired again by the watchdog)
        planner.after_backfill(ctx, "history:y", DAY)
    with ctx.db.session() as s, s.begin():
        planner.record_run_usage(s, ctx.backlog.ledger("history:z"))

    with ctx.db.session() as s:
        assert usage_for(s, DAY)["polygon"]["calls"] == 3  # two runs, three calls: each counted once
        assert usage_for(s, DAY)["polygon"]["ok"] == 3
