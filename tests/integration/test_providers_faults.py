"""Bad answers from the sandbox's fault injection: every call ends in a classified outcome, never an
unhandled exception and never a bad record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

import marketcal
import ratelimits
from providers import (
    AlphaVantageClient,
    FetchResult,
    FinnhubClient,
    Outcome,
    PolygonClient,
    ProviderConfig,
    YahooClient,
)
from providers.validation import record_problem

pytestmark = pytest.mark.redis

CLASSES = {
    "finnhub": FinnhubClient,
    "polygon": PolygonClient,
    "alphavantage": AlphaVantageClient,
    "yahoo": YahooClient,
}


def calls(sandbox, limiter, provider, read_timeout=5.0):
    """Every endpoint of ``provider`` as zero-argument callables, on an unlimited policy."""
    key = "" if provider == "yahoo" else "FAULTKEY123"
    config = ProviderConfig(
        provider, sandbox.base_urls[provider], key, connect_timeout=2.0, read_timeout=read_timeout
    )
    c = CLASSES[provider](config, requests.Session(), limiter, ratelimits.parse_policy("100000/second"))
    symbol = sorted(s["symbol"] for s in sandbox.universe() if s["active"])[0]
    day = marketcal.previous_trading_day(datetime.now(UTC).astimezone(marketcal.EASTERN).date())
    start = day - timedelta(days=14)
    if provider == "finnhub":
        return [lambda: c.quote(symbol), c.symbols]
    if provider == "polygon":
        return [
            lambda: c.grouped_daily(day),
            lambda: c.daily_range(symbol, start, day),
            lambda: c.previous_close(symbol),
            c.tickers,
        ]
    if provider == "alphavantage":
        return [lambda: c.daily(symbol), lambda: c.global_quote(symbol), c.listing_status]
    return [lambda: c.daily_history(symbol, start, day)]


@pytest.fixture
def limiter(redis_client):
    return ratelimits.Limiter(redis_client, guard=0.0)


def assert_sound(result: FetchResult) -> None:
    assert isinstance(result, FetchResult)
    assert all(record_problem(r) is None for r in result.records)


@pytest.mark.parametrize("provider", sorted(CLASSES))
def test_server_errors_are_transient(sandbox_fast, limiter, provider):
    sandbox_fast.set_faults(provider, error_rate=1.0)
    for call in calls(sandbox_fast, limiter, provider):
        result = call()
        assert result.outcome is Outcome.TRANSIENT and result.records == ()


@pytest.mark.parametrize("provider", sorted(CLASSES))
def test_garbage_is_bad_data(sandbox_fast, limiter, provider):
    sandbox_fast.set_faults(provider, garbage_rate=1.0)
    for call in calls(sandbox_fast, limiter, provider) * 3:  # the sandbox rotates its kinds of garbage
        result = call()
        assert_sound(result)
        assert result.outcome is Outcome.BAD_DATA, result.message


@pytest.mark.parametrize("provider", sorted(CLASSES))
def test_slow_answers_time_out_as_transient(sandbox_fast, limiter, provider):
    sandbox_fast.set_faults(provider, latency_ms=1500)
    (first, *_) = calls(sandbox_fast, limiter, provider, read_timeout=0.4)
    result = first()
    assert result.outcome is Outcome.TRANSIENT and "timeout" in result.message


def test_hung_answers_time_out_as_transient(sandbox_fast, limiter):
    sandbox_fast.set_faults("*", timeout_rate=1.0, timeout_seconds=3.0)
    for provider in sorted(CLASSES):
        (first, *_) = calls(sandbox_fast, limiter, provider, read_timeout=0.4)
        result = first()
        assert result.outcome is Outcome.TRANSIENT, result.message


def test_alphavantage_notes_are_throttles(sandbox_fast, limiter):
    sandbox_fast.set_faults("alphavantage", note_rate=1.0)
    result = calls(sandbox_fast, limiter, "alphavantage")[1]()
    assert result.outcome is Outcome.THROTTLED and result.retry_at is not None


@pytest.mark.parametrize("provider", sorted(CLASSES))
def test_mixed_faults_never_escape(sandbox_fast, limiter, provider):
    sandbox_fast.set_faults(provider, error_rate=0.3, garbage_rate=0.3)
    seen = set()
    for call in calls(sandbox_fast, limiter, provider) * 4:
        result = call()
        assert_sound(result)
        seen.add(result.outcome)
    assert seen <= {Outcome.OK, Outcome.TRANSIENT, Outcome.BAD_DATA, Outcome.THROTTLED}
    # the faults really happened, and so did answers that got through (a client failing every call
    # would otherwise pass)
    assert Outcome.OK in seen and seen & {Outcome.TRANSIENT, Outcome.BAD_DATA}, seen
