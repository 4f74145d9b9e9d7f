"""The planner's and the bootstrap's jobs, called directly with the resources and clock they are given
(``ctx`` from tests/conftest.py: the test Redis, a migrated database, the free tiers' real quota shapes).
No worker runs: what a job sends stays as a message in the test Redis, where the test reads it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from jobs import names, planner, universe
from runtime import keys
from storage import stale_for, upsert_symbols

DAY = "2026-11-25"  # a Wednesday session
AFTER_CLOSE = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)  # an hour after Wednesday's close


def _symbols(ctx, tiers: dict[str, int]) -> None:
    with ctx.db.session() as s, s.begin():
        upsert_symbols(
            s, [{"ticker": t, "name": t, "source": "test", "tier": tier} for t, tier in tiers.items()]
        )


def _sent(ctx, queue: str) -> list[str]:
    """The task names of the messages waiting in ``queue`` (kombu's Redis list of JSON envelopes)."""
    return [json.loads(m)["headers"]["task"] for m in ctx.redis.lrange(queue, 0, -1)]


def test_a_refresh_admits_what_finnhubs_free_minute_serves_and_carries_the_rest_first_in_line(ctx):
    # tier 3 listed first, so the admitted ones being tier 1 shows the priority order at work
    tiers = (
        {f"C{i:03d}": 3 for i in range(40)}
        | {f"A{i:03d}": 1 for i in range(60)}
        | {f"B{i:03d}": 2 for i in range(20)}
    )
    _symbols(ctx, tiers)

    done = planner.plan_refresh(ctx, "refresh:1", [1, 2, 3], DAY, "finnhub", None, window_seconds=30)

    # Finnhub's free tier serves 60 calls in any minute: a 30 s window from an idle quota takes 60
    assert (done["planned"], done["admitted"], done["carried"]) == (120, 60, 60)
    ledger = ctx.backlog.ledger("refresh:1")
    assert ledger.admitted == 60 and ledger.pending == 60
    assert set(ctx.backlog.keys("refresh:1")) == {s for s, t in tiers.items() if t == 1}
    carried = [k.decode() for k in ctx.redis.lrange(keys.carry("finnhub", "refresh"), 0, -1)]
    assert carried == sorted(s for s, t in tiers.items() if t == 2) + sorted(
        s for s, t in tiers.items() if t == 3
    )
    assert _sent(ctx, "control") == [names.FEED]  # the feeder is woken, nothing goes straight to finnhub
    assert json.loads(ctx.redis.hget(keys.decisions(DAY), "finnhub:tiers=1,2,3"))["carried"] == 60

    # the next sweep: the quota is now booked by the first run's 60 calls still in line, so nothing fits,
    # and the carried symbols stay first in line, none lost and none twice
    again = planner.plan_refresh(ctx, "refresh:2", [1, 2, 3], DAY, "finnhub", None, window_seconds=30)
    assert (again["admitted"], again["carried"]) == (0, 120)
    carried = [k.decode() for k in ctx.redis.lrange(keys.carry("finnhub", "refresh"), 0, -1)]
    assert carried[:60] == sorted(s for s, t in tiers.items() if t == 2) + sorted(
        s for s, t in tiers.items() if t == 3
    )
    assert len(carried) == len(set(carried)) == 120


def test_the_evening_fallbacks_go_to_yahoo_then_alpha_vantage_and_the_rest_is_marked_stale(ctx):
    tiers = {f"Z{i:02d}": 3 for i in range(50)} | {f"M{i:02d}": 1 for i in range(50)}
    _symbols(ctx, tiers)

    done = planner.after_eod(ctx, "eod:none", DAY, window_seconds=45)

    # free Yahoo: 30 a minute; free Alpha Vantage: 25 a day; none had a bar, so 100 were missing
    assert (done["missing"], done["yahoo"], done["alphavantage"], done["stale"]) == (100, 30, 25, 45)
    tier1 = sorted(s for s, t in tiers.items() if t == 1)
    assert sorted(ctx.backlog.keys(f"eod-yahoo:{DAY}")) == tier1[:30]  # tier 1 first
    assert sorted(ctx.backlog.keys(f"eod-alphavantage:{DAY}")) == tier1[30:] + sorted(tiers)[50:55]
    with ctx.db.session() as s:
        stale = stale_for(s, date.fromisoformat(DAY))
    assert sorted(stale) == sorted(tiers)[55:]  # the tier-3 symbols neither could take
    assert {m.reason for m in stale.values()} == {"no provider could serve it within its quota"}


def test_the_first_pass_on_an_empty_database_asks_for_the_listing_and_nothing_else(ctx):
    done = universe.bootstrap(ctx, AFTER_CLOSE)
    assert done.start == [("universe", {"day": "2026-11-24"})]  # the session before the last completed one
    assert ctx.redis.hget(keys.BOOTSTRAP, "status").decode() == done.status
    assert ctx.redis.hget(keys.BOOTSTRAP, "updated").decode() == AFTER_CLOSE.isoformat()


def test_with_a_universe_and_no_bars_the_pass_plans_the_history_once_a_day(ctx):
    _symbols(ctx, {"AAA": 4, "BBB": 4})
    first = universe.bootstrap(ctx, AFTER_CLOSE, history_days=30)
    assert first.start == [("history", {"day": "2026-11-24", "history_days": 30})]
    # planned today, not yet open (the planner task has not run): not planned again the same day
    assert universe.bootstrap(ctx, AFTER_CLOSE).start == []
