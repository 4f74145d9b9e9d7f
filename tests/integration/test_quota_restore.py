"""The quota engine after Redis loses its data (a restart without persistence, a flush): on a real Redis and
a real database (SQLite and PostgreSQL), at the free tiers' real shapes. Whatever was granted before the
loss, the first decision after it is never earlier than it would have been without the loss (so a day's
quota is never granted twice), and costs little: the journal's margin on a day quota, one window on a minute
quota, nothing on a fresh install. Without a journal the engine would grant the day again (the first test
says by how much)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from jobs.quotas import check_quotas
from ratelimits import Limiter, QuotaUnavailable, QuotaWait, journaled, parse_policy
from ratelimits.periods import next_reset
from ratelimits.restore import CLOCK_MARGIN_SECONDS
from ratelimits.schedule import earliest_schedule, next_slot
from runtime.plans import PROVIDER_PLANS
from storage import Database
from storage.models import QuotaGrant
from storage.usage import GrantJournal

FREE = {provider: plans["free"].policy for provider, plans in PROVIDER_PLANS.items()}  # the free tiers
GUARD = 0.25
WAIT = 3 * 86400.0  # a decision that may wait (to see when the next call would go)
# Grants before the loss: past a window of each binding limit (Yahoo's day cap is the pure test's; here its
# 30/minute), Alpha Vantage's whole day.
FILL = {"finnhub": 120, "polygon": 10, "yahoo": 61, "alphavantage": 25}
FILL_WAIT = 2.0  # seconds a grant before the loss may wait for its slot (its journal margin)


def _fill(limiter: Limiter, provider: str, policy, n: int, start: float) -> float:
    """``n`` grants at the quota's pace from ``start`` (the decisions' clock, ``test_now``), each asked for
    at the previous one's slot, or at the slot a refusal named; returns the instant of the last."""
    t = start
    for _ in range(n):
        decision = limiter.decide(provider, policy, max_wait=FILL_WAIT, test_now=t)
        t = decision.at
        if not decision.booked:
            assert limiter.decide(provider, policy, max_wait=FILL_WAIT, test_now=t).booked
    return t


@pytest.mark.parametrize("provider", sorted(FREE))
def test_the_first_decision_after_redis_lost_its_data_is_never_earlier(db, redis_client, provider):
    policy = parse_policy(FREE[provider])
    limiter = Limiter(redis_client, guard=GUARD, journal=GrantJournal(db))
    # the quota used up at its own pace, the last grant just now (a restore reads the Redis clock)
    start = time.time() - earliest_schedule(policy, FILL[provider], 0.0, GUARD)[-1]
    last = _fill(limiter, provider, policy, FILL[provider], start)
    bookings, _ = limiter.bookings(provider, policy)
    at = max(last, time.time())
    lost = next_slot(policy, bookings, at, GUARD)  # when the next call would go had nothing been lost
    assert lost > at
    redis_client.flushall()

    fresh = Limiter(redis_client, guard=GUARD)  # no journal: what the engine did before
    assert fresh.decide(provider, policy, max_wait=WAIT, test_now=at).at < lost  # the quota granted again...

    redis_client.flushall()
    again = limiter.decide(provider, policy, max_wait=WAIT, test_now=at)
    assert again.booked and again.at >= lost  # ...never with the journal
    window = max(w.seconds for w in policy.windows)
    if journaled(policy):  # a day quota: at most the journal's margin later
        assert again.at <= lost + FILL_WAIT + CLOCK_MARGIN_SECONDS + 1.0, again.at - lost
    else:  # a minute quota: at most one window from now
        assert again.at <= time.time() + window + GUARD + 1.0
    for w in policy.calendar:  # Alpha Vantage's 25 of the New York day are gone: the next call is tomorrow's
        if next_reset(w, start) > at:
            assert again.at >= next_reset(w, at)


def test_a_fresh_install_restores_nothing_and_waits_for_nothing(db, redis_client):
    limiter = Limiter(redis_client, guard=GUARD, journal=GrantJournal(db))
    for provider, text in FREE.items():
        grant = limiter.reserve(provider, parse_policy(text), max_wait=0.0)
        assert grant.wait == 0.0
    assert limiter.restore_marks(sorted(FREE)) == {p: limiter.server_id() for p in sorted(FREE)}


def test_no_journal_no_grant(tmp_path, redis_client):
    broken = Database(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")  # its directory does not exist
    limiter = Limiter(redis_client, guard=GUARD, journal=GrantJournal(broken))
    with pytest.raises(QuotaUnavailable, match="journal"):
        limiter.reserve("alphavantage", parse_policy(FREE["alphavantage"]), max_wait=0.0)
    assert not redis_client.exists("tickerbeat:quota:{alphavantage}:w:roll:86400")  # nothing booked


def test_a_refused_decision_leaves_no_journal_entry(db, redis_client):
    policy = parse_policy("1/minute, 10/day")
    limiter = Limiter(redis_client, guard=GUARD, journal=GrantJournal(db))
    limiter.reserve("alphavantage", policy, max_wait=0.0)
    with pytest.raises(QuotaWait):
        limiter.reserve("alphavantage", policy, max_wait=0.0)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(QuotaGrant)) == 1


def test_a_restart_with_the_data_merges_the_last_second_back(redis_client, ctx):
    """AOF with ``appendfsync everysec`` may lose the last second of bookings in a crash; the restore mark
    (the server's run id) tells the feeder's check that Redis restarted, and it merges the journal back."""
    policy = ctx.policy("alphavantage")
    limiter = ctx.limiter
    day_key = limiter.key("alphavantage", "w:roll:86400")
    for _ in range(3):
        grant = limiter.reserve("alphavantage", policy, max_wait=5.0)
    expected = next_slot(policy, limiter.bookings("alphavantage", policy)[0], grant.at, GUARD)
    redis_client.rpop(day_key)  # the crash lost the last booking...
    redis_client.hset(limiter.key("alphavantage", "state"), "ready", "the-previous-run")  # ...and restarted
    assert check_quotas(ctx) == {
        "alphavantage": "merged after a Redis restart",
        **{p: "restored after Redis lost it" for p in ("finnhub", "polygon", "yahoo")},
    }
    assert redis_client.llen(day_key) == 3
    restored = next_slot(policy, limiter.bookings("alphavantage", policy)[0], grant.at, GUARD)
    assert restored >= expected
    assert check_quotas(ctx) == {}  # marked with this server's run id: nothing more to do
