"""Re-drives are capped and counted: a released call whose message is lost again and again (its task dies
each time, spending quota each time it reached the provider) is put back in line at most
``TICKERBEAT_MAX_REDRIVES`` times per run, then marked stale with the reason ``lost N times``; the ledger
still adds up, and operators see re-drives and give-ups in the metrics, ``as_record`` (``inspect plan``),
``inspect quotas`` and ``python -m stack.ops quotas``.

The EOD path is covered like every run: ``plan_eod``'s run is fed by the feeder the watchdog drives, so a
stalled EOD call is re-driven, then given up, and ``after_eod`` (the fallback cascade) still fires.

The feeder and the watchdog run in the test process on the test Redis and a migrated database; what they
send (releases, callbacks) stays as messages in Redis, where the test reads it. "Lost" is a release whose
message no worker settles: its in-flight instant is moved past the lost-after time, as hours passing would.
"""

from __future__ import annotations

import base64
import json
from datetime import date

import pytest

import marketcal
from dispatch import Release, RunSpec
from jobs import names, planner
from jobs.feeder import feed_all
from jobs.maintenance import watchdog
from monitoring import operations, recording
from monitoring.ledgers import record
from monitoring.redis_source import read_outcome_counts
from stack.ops import plan_lines, quota_lines
from storage import stale_for, upsert_symbols
from tests.integration.fetching import fetch_ctx

pytestmark = pytest.mark.redis

DAY = "2026-11-25"  # a Wednesday session


@pytest.fixture
def ctx(tmp_path, redis_url, database_url):
    with fetch_ctx(tmp_path, redis_url, database_url, {"TICKERBEAT_MAX_REDRIVES": "2"}) as built:
        yield built


def lose_everything_in_flight(ctx, provider: str) -> int:
    """Every release of ``provider`` in flight was released two hours ago and never settled."""
    flight = ctx.backlog.flight_key(provider)
    members = ctx.redis.zrange(flight, 0, -1)
    if members:
        ctx.redis.zadd(flight, {m: ctx.backlog.now() - 7200 for m in members})
    return len(members)


def sent(ctx) -> list[dict]:
    """Every task message waiting in any queue: its task name and keyword arguments."""
    out = []
    for key in ctx.redis.keys("*"):
        if ctx.redis.type(key) == b"list":
            for raw in ctx.redis.lrange(key, 0, -1):
                try:
                    message = json.loads(raw)
                    body = json.loads(base64.b64decode(message["body"]))
                except (ValueError, KeyError, TypeError):
                    continue
                out.append({"task": message["headers"]["task"], "kwargs": body[1]})
    return out


def test_a_call_lost_max_redrives_times_is_marked_stale_with_the_reason_and_counted(ctx):
    with ctx.db.session() as s, s.begin():
        upsert_symbols(s, [{"ticker": t, "name": t, "source": "test"} for t in ("AAA", "BBB", "CCC")])
    spec = RunSpec(f"sweep:{DAY}", "finnhub", names.FINNHUB_QUOTE, "symbol", DAY, "finnhub.sweep",
                   common={"day": DAY}, callback=names.ANALYSE_RUN, callback_kwargs={"day": DAY}, track_ok=True)  # fmt: skip
    assert ctx.backlog.submit(spec, ["AAA", "BBB", "CCC"]) == 3

    assert feed_all(ctx)["finnhub"]["released"] == 3
    # CCC's task runs and settles; AAA's and BBB's are lost, re-driven once, lost again: given up
    ccc = next(m for m in ctx.redis.zrange(ctx.backlog.flight_key("finnhub"), 0, -1) if b"|CCC|" in m)
    assert ctx.backlog.settle("finnhub", Release(ccc.decode()), "made", "ok").what == "made"
    rounds = []
    for _ in range(6):  # uncapped, this would go on for ever
        if not lose_everything_in_flight(ctx, "finnhub"):
            break
        rounds.append(feed_all(ctx)["finnhub"])
    assert [(r["reclaimed"], r["released"]) for r in rounds] == [(2, 2), (2, 0)]

    ledger = ctx.backlog.ledger(spec.id)
    assert (ledger.made, ledger.reclaimed, ledger.given_up, ledger.stale, ledger.pending) == (1, 2, 2, 2, 0)
    assert ledger.done and ledger.problems() == []
    with ctx.db.session() as s:
        marks = stale_for(s, date.fromisoformat(DAY))
    assert sorted(marks) == ["AAA", "BBB"]
    assert {m.reason for m in marks.values()} == {
        "finnhub.sweep: lost 2 times: released, never settled (TICKERBEAT_MAX_REDRIVES)"
    }
    # the run's callback is sent once, when the last call is given up
    assert [m["kwargs"]["run_id"] for m in sent(ctx) if m["task"] == names.ANALYSE_RUN] == [spec.id]

    # counted where operators look: metrics, the plan record (inspect plan), inspect quotas, stack.ops quotas
    counts = recording.counts(ctx.redis.hgetall(recording.REDRIVES_KEY), 2)
    assert counts == {("finnhub", "requeued"): 2, ("finnhub", "given_up"): 2}
    served = dict(read_outcome_counts(ctx.redis).values["tickerbeat_dispatch_redrives_total"])
    assert served[("finnhub", "given_up")] == 2
    assert served[("yahoo", "requeued")] == 0  # every provider's series is served, 0 until the first
    assert {k: record(ledger)[k] for k in ("reclaimed", "given_up", "stale", "adds_up")} == {
        "reclaimed": 2, "given_up": 2, "stale": 2, "adds_up": True}  # fmt: skip
    reports = operations.quotas(ctx, ["finnhub", "polygon"])
    assert reports["finnhub"]["redrives"] == {"requeued": 2, "given_up": 2}
    assert reports["polygon"]["redrives"] == {"requeued": 0, "given_up": 0}
    lines = quota_lines(reports, {}, "test")
    assert any("2 lost calls re-driven, 2 given up" in line for line in lines if line.startswith("finnhub"))
    (line,) = [line for line in plan_lines(operations.plan(ctx, DAY)) if spec.id in line]
    assert "stale 2 · pending 0 · reclaimed 2 · given up 2 · adds up" in line


def test_a_stalled_eod_run_is_redriven_then_given_up_and_the_fallbacks_still_follow(ctx):
    """The night's official bars: ``plan_eod`` admits the session and the one before to Polygon's line.
    Their messages are lost over and over (a worker dying on each); the hourly watchdog re-drives them,
    gives them up after the cap, and the run completes: ``after_eod`` is sent, so the fallbacks serve
    the symbols (or mark them stale) instead of the night ending with nothing."""
    day = DAY
    previous = marketcal.previous_trading_day(date.fromisoformat(day)).isoformat()
    planner.plan_eod(ctx, day, window_seconds=3 * 3600)
    spec = ctx.backlog.spec(f"eod:{day}")
    assert spec is not None and spec.callback == names.AFTER_EOD

    reports = [watchdog(ctx)]  # releases both calls
    for _ in range(6):  # uncapped, this would go on for ever
        if not lose_everything_in_flight(ctx, "polygon"):
            break
        reports.append(watchdog(ctx))
    assert [r["fed"]["polygon"]["reclaimed"] for r in reports] == [0, 2, 2]
    assert reports[0]["fed"]["polygon"]["released"] == 2 and reports[1]["fed"]["polygon"]["released"] == 2

    ledger = ctx.backlog.ledger(spec.id)
    assert (ledger.admitted, ledger.given_up, ledger.stale, ledger.pending, ledger.done) == (2, 2, 2, 0, True)
    assert ledger.problems() == []
    grouped = [m["kwargs"]["day"] for m in sent(ctx) if m["task"] == names.POLYGON_GROUPED_DAILY]
    assert sorted(grouped) == sorted([day, previous] * 2)  # released twice each, never a third time
    callbacks = [m["kwargs"] for m in sent(ctx) if m["task"] == names.AFTER_EOD]
    assert callbacks == [{"day": day, "run_id": spec.id}]
