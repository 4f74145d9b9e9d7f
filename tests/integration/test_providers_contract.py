"""Contract tests: every endpoint's real sandbox answer parses, and every error the sandbox can produce is
classified correctly, through the clients and a real Limiter on the private test Redis.

The sandbox is an independent double of the network (it shares no code with providers/); its universe
(``sandbox.universe()``) is the reference the records are checked against.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
import requests

import marketcal
import ratelimits
from providers import (
    AlphaVantageClient,
    FinnhubClient,
    Outcome,
    PolygonClient,
    ProviderConfig,
    YahooClient,
    alphavantage,
    finnhub,
    polygon,
)
from runtime.plans import PROVIDER_PLANS

pytestmark = pytest.mark.redis

KEY = "CONTRACTKEY123"
CLASSES = {
    "finnhub": FinnhubClient,
    "polygon": PolygonClient,
    "alphavantage": AlphaVantageClient,
    "yahoo": YahooClient,
}


@pytest.fixture
def limiter(redis_client):
    return ratelimits.Limiter(redis_client, guard=0.02)


def client(sandbox, limiter, provider, *, key=KEY, policy=None, **kwargs):
    """A client of ``provider`` against ``sandbox`` with the free plan's policy unless ``policy`` is given."""
    read_timeout = kwargs.pop("read_timeout", 10.0)
    config = ProviderConfig(
        provider, sandbox.base_urls[provider], key if provider != "yahoo" else "", read_timeout=read_timeout
    )
    policy = ratelimits.parse_policy(policy or PROVIDER_PLANS[provider]["free"].policy)
    return CLASSES[provider](config, requests.Session(), limiter, policy, **kwargs)


def active_symbols(sandbox) -> list[str]:
    return sorted(s["symbol"] for s in sandbox.universe() if s["active"])


def unknown_symbol(sandbox) -> str:
    listed = {s["symbol"] for s in sandbox.universe()}
    return next(s for s in ("ZZZZZ", "ZZZZY", "ZZZZX", "QQQQZ") if s not in listed)


def last_session() -> date:
    """The latest session a free plan serves: the one before today's (ET) date."""
    return marketcal.previous_trading_day(datetime.now(UTC).astimezone(marketcal.EASTERN).date())


# -- every endpoint parses ---------------------------------------------------------------------------


def test_finnhub_quote_and_symbols(sandbox, limiter):
    fh = client(sandbox, limiter, "finnhub")
    symbols = active_symbols(sandbox)
    for symbol in symbols[:3]:
        result = fh.quote(symbol)
        assert result.outcome is Outcome.OK, result.message
        (quote,) = result.records
        assert quote.symbol == symbol and quote.at.tzinfo is not None and quote.source == "finnhub"
        assert quote.low <= quote.price <= quote.high
    listing = fh.symbols()
    assert listing.outcome is Outcome.OK
    assert {s.symbol for s in listing.records} == set(symbols)


def test_polygon_endpoints(sandbox, limiter):
    pg = client(sandbox, limiter, "polygon")
    day = last_session()
    symbols = active_symbols(sandbox)
    grouped = pg.grouped_daily(day)
    assert grouped.outcome is Outcome.OK, grouped.message
    assert {b.day for b in grouped.records} == {day}
    by_symbol = {b.symbol: b for b in grouped.records}
    assert len(by_symbol) > 0.9 * len(symbols) and set(by_symbol) <= set(symbols)
    symbol = next(s for s in symbols if s in by_symbol)
    prev = pg.previous_close(symbol)
    assert prev.outcome is Outcome.OK
    assert replace(prev.records[0], fetched_at=None) == replace(by_symbol[symbol], fetched_at=None)
    ranged = pg.daily_range(symbol, day - timedelta(days=30), day)
    assert ranged.outcome is Outcome.OK
    days = [b.day for b in ranged.records]
    assert days == sorted(days) and days[-1] == day and all(marketcal.is_trading_day(d) for d in days)
    assert ranged.records[-1].close == by_symbol[symbol].close
    tickers = pg.tickers()
    assert tickers.outcome is Outcome.OK and tickers.cursor is None
    assert {s.symbol for s in tickers.records} == set(symbols)
    assert sandbox.stats()["providers"]["polygon"]["throttled"] == 0


def test_alphavantage_endpoints(sandbox, limiter):
    av = client(sandbox, limiter, "alphavantage")
    symbol = active_symbols(sandbox)[0]
    daily = av.daily(symbol)
    assert daily.outcome is Outcome.OK, daily.message
    assert 50 <= len(daily.records) <= 100 and not any(b.adjusted for b in daily.records)
    quote = av.global_quote(symbol)
    assert quote.outcome is Outcome.OK
    assert quote.records[0].price == daily.records[-1].close
    listing = av.listing_status()
    assert listing.outcome is Outcome.OK
    assert {s.symbol for s in listing.records if s.active} == set(active_symbols(sandbox))


def test_yahoo_history_of_a_class_share(sandbox, limiter):
    yh = client(sandbox, limiter, "yahoo")
    dotted = [s for s in active_symbols(sandbox) if "." in s]
    symbol = dotted[0] if dotted else active_symbols(sandbox)[0]
    day = last_session()
    result = yh.daily_history(symbol, day - timedelta(days=20), day)
    assert result.outcome is Outcome.OK, result.message
    assert {b.symbol for b in result.records} == {symbol}
    assert result.records[-1].day == day
    assert all(math.isfinite(b.close) and b.adjusted for b in result.records)


# -- every error the sandbox can produce -------------------------------------------------------------


def test_missing_key_answers_are_config_errors(sandbox, limiter):
    symbol = active_symbols(sandbox)[0]
    urls = sandbox.base_urls
    answer = requests.get(urls["finnhub"] + "/quote", params={"symbol": symbol}, timeout=10)
    assert finnhub.classify(answer.status_code, answer.headers, answer.text).outcome is Outcome.CONFIG_ERROR
    answer = requests.get(urls["polygon"] + f"/v2/aggs/ticker/{symbol}/prev", timeout=10)
    assert polygon.classify(answer.status_code, answer.headers, answer.text).outcome is Outcome.CONFIG_ERROR
    answer = requests.get(
        urls["alphavantage"] + "/query", params={"function": "GLOBAL_QUOTE", "symbol": symbol}, timeout=10
    )
    assert (
        alphavantage.classify(answer.status_code, answer.headers, answer.text).outcome is Outcome.CONFIG_ERROR
    )
    before = sandbox.stats()["totals"]["calls"]
    calls = {
        "finnhub": lambda c: c.quote(symbol),
        "polygon": lambda c: c.previous_close(symbol),
        "alphavantage": lambda c: c.global_quote(symbol),
    }
    for provider, call in calls.items():
        assert call(client(sandbox, limiter, provider, key="")).outcome is Outcome.CONFIG_ERROR
    assert sandbox.stats()["totals"]["calls"] == before  # refused before any request


def test_wrong_key_is_a_config_error(make_sandbox, limiter):
    keyed = make_sandbox(profile="free", symbols=50, extra_args=["--keys", "RIGHTKEY1"])
    symbol = active_symbols(keyed)[0]
    assert client(keyed, limiter, "finnhub", key="WRONGKEY1").quote(symbol).outcome is Outcome.CONFIG_ERROR
    assert (
        client(keyed, limiter, "polygon", key="WRONGKEY1").previous_close(symbol).outcome
        is Outcome.CONFIG_ERROR
    )
    assert (
        client(keyed, limiter, "alphavantage", key="WRONGKEY1").daily(symbol).outcome is Outcome.CONFIG_ERROR
    )
    assert client(keyed, limiter, "finnhub", key="RIGHTKEY1").quote(symbol).outcome is Outcome.OK


def test_unknown_symbols_are_not_found(sandbox, limiter):
    missing = unknown_symbol(sandbox)
    day = last_session()
    assert client(sandbox, limiter, "finnhub").quote(missing).outcome is Outcome.NOT_FOUND
    pg = client(sandbox, limiter, "polygon")
    assert pg.previous_close(missing).outcome is Outcome.NOT_FOUND
    assert pg.daily_range(missing, day - timedelta(days=10), day).outcome is Outcome.NOT_FOUND
    av = client(sandbox, limiter, "alphavantage")
    assert av.daily(missing).outcome is Outcome.NOT_FOUND
    assert av.global_quote(missing).outcome is Outcome.NOT_FOUND
    assert (
        client(sandbox, limiter, "yahoo").daily_history(missing, day - timedelta(days=10), day).outcome
        is Outcome.NOT_FOUND
    )


def test_premium_endpoints_are_not_entitled(sandbox):
    symbol = active_symbols(sandbox)[0]
    urls = sandbox.base_urls
    answer = requests.get(
        urls["finnhub"] + "/stock/candle",
        params={"symbol": symbol, "resolution": "D", "from": "1700000000", "to": "1700900000"},
        headers={"X-Finnhub-Token": KEY},
        timeout=10,
    )
    assert finnhub.classify(answer.status_code, answer.headers, answer.text).outcome is Outcome.NOT_ENTITLED
    params = {"function": "TIME_SERIES_DAILY_ADJUSTED", "symbol": symbol, "apikey": KEY}
    answer = requests.get(urls["alphavantage"] + "/query", params=params, timeout=10)
    assert (
        alphavantage.classify(answer.status_code, answer.headers, answer.text).outcome is Outcome.NOT_ENTITLED
    )


def test_polygon_today_before_end_of_day_and_beyond_two_years(sandbox, limiter):
    day = last_session()
    sandbox.clock(now=marketcal.session_open(day) + timedelta(hours=1))  # the sandbox is mid-session on `day`
    pg = client(sandbox, limiter, "polygon")
    today = pg.grouped_daily(day)
    assert today.outcome is Outcome.NOT_ENTITLED and "end of day" in today.message
    old = marketcal.previous_trading_day(day - timedelta(days=3 * 365))
    ancient = pg.grouped_daily(old)
    assert ancient.outcome is Outcome.NOT_ENTITLED and "older" in ancient.message
    assert ancient.retry_at is None and limiter.blocked_until("polygon") is None  # permanent, not a throttle


def test_finnhub_throttle_is_reported(sandbox, limiter):
    fh = client(sandbox, limiter, "finnhub", policy="1000/second", max_wait=0.0)
    symbol = active_symbols(sandbox)[0]
    outcomes = []
    for _ in range(80):
        outcomes.append(fh.quote(symbol).outcome)
        if outcomes[-1] is not Outcome.OK:
            break
    assert outcomes[-1] is Outcome.THROTTLED and outcomes.count(Outcome.OK) >= 30
    assert limiter.blocked_until("finnhub") is not None
    assert fh.quote(symbol).outcome is Outcome.DEFERRED
    assert sandbox.stats()["providers"]["finnhub"]["throttled"] == 1


def test_polygon_throttle_is_reported(sandbox, limiter):
    pg = client(sandbox, limiter, "polygon", policy="1000/second", max_wait=0.0)
    symbol = active_symbols(sandbox)[0]
    results = [pg.previous_close(symbol) for _ in range(6)]
    assert [r.outcome for r in results] == [Outcome.OK] * 5 + [Outcome.THROTTLED]
    assert results[-1].retry_at > time.time()
    assert pg.previous_close(symbol).outcome is Outcome.DEFERRED


def test_alphavantage_burst_is_throttled(sandbox, limiter):
    av = client(sandbox, limiter, "alphavantage", policy="1000/second", max_wait=0.0)
    symbol = active_symbols(sandbox)[0]
    first, second = av.global_quote(symbol), av.global_quote(symbol)
    assert (first.outcome, second.outcome) == (Outcome.OK, Outcome.THROTTLED)
    assert second.retry_at >= time.time() + 0.2


def test_alphavantage_daily_cap_is_quota_exhausted(sandbox, limiter):
    day = last_session()
    sandbox.clock(now=marketcal.session_open(day) + timedelta(hours=2), frozen=True)
    # Our own daily window is set high so that the sandbox, not our limiter, refuses the 26th call.
    policy = "1000/second, 1000/day@America/New_York"
    av = client(sandbox, limiter, "alphavantage", policy=policy, max_wait=0.0)
    symbol = active_symbols(sandbox)[0]
    outcomes = []
    for _ in range(26):
        outcomes.append(av.global_quote(symbol).outcome)
        sandbox.clock(advance_seconds=2.0)  # keep the sandbox's 1/second burst rule out of the way
    assert outcomes == [Outcome.OK] * 25 + [Outcome.QUOTA_EXHAUSTED]
    assert limiter.blocked_until("alphavantage") > time.time() + 60


def test_yahoo_block_lasts_minutes(sandbox, limiter):
    yh = client(sandbox, limiter, "yahoo", policy="1000/second", max_wait=0.0)
    symbol = active_symbols(sandbox)[0]
    day = last_session()
    result = None
    for _ in range(120):
        result = yh.daily_history(symbol, day - timedelta(days=5), day)
        if result.outcome is not Outcome.OK:
            break
    assert result.outcome is Outcome.THROTTLED
    assert result.retry_at >= time.time() + 500  # BLOCK_SECONDS (600 s), not a one-second pause
    assert yh.daily_history(symbol, day - timedelta(days=5), day).outcome is Outcome.DEFERRED
