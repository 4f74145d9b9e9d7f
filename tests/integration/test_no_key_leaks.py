"""A recognisable key runs through every client, in successes and failures, with every logger at DEBUG
(urllib3's included): it must appear in no log record, exception text, result, record, repr, or Redis."""

from __future__ import annotations

import json
import logging
import socket
from datetime import UTC, datetime, timedelta

import pytest
import redis
import requests
from redis.backoff import NoBackoff
from redis.retry import Retry

import marketcal
import ratelimits
from providers import (
    AlphaVantageClient,
    ConfigError,
    FetchResult,
    FinnhubClient,
    InvalidSymbol,
    Outcome,
    PolygonClient,
    ProviderConfig,
    YahooClient,
)
from tests.integration.test_providers_flow import Scripted

pytestmark = pytest.mark.redis

KEY = "SECRETKEY1234567890"


def make(cls, base_url, limiter, policy, **kwargs):
    key = "" if cls is YahooClient else KEY
    read_timeout = kwargs.pop("read_timeout", 10.0)
    config = ProviderConfig(cls.provider, base_url, key, connect_timeout=2.0, read_timeout=read_timeout)
    return cls(config, requests.Session(), limiter, ratelimits.parse_policy(policy), **kwargs)


def redis_texts(client: redis.Redis) -> list[str]:
    """Every key and value in the test Redis, as text."""
    out = []
    for key in client.scan_iter():
        kind = client.type(key).decode()
        value = {
            "string": lambda k: client.get(k),
            "hash": lambda k: client.hgetall(k),
            "set": lambda k: client.smembers(k),
            "zset": lambda k: client.zrange(k, 0, -1, withscores=True),
            "list": lambda k: client.lrange(k, 0, -1),
        }.get(kind, lambda k: b"")(key)
        out.append(f"{key!r} {value!r}")
    return out


def test_the_key_never_shows(sandbox, redis_client, caplog):
    limiter = ratelimits.Limiter(redis_client, guard=0.25)
    urls = sandbox.base_urls
    symbols = sorted(s["symbol"] for s in sandbox.universe() if s["active"])
    symbol, missing = symbols[0], "ZZZZZ"
    day = marketcal.previous_trading_day(datetime.now(UTC).astimezone(marketcal.EASTERN).date())
    results: list[FetchResult] = []
    errors: list[BaseException] = []
    scripted = Scripted()
    scripted.thread.start()

    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="urllib3"):
        # Successes and plain failures, paced by the free plans' policies.
        fh = make(FinnhubClient, urls["finnhub"], limiter, "30/second, 60/minute")
        results += [fh.quote(symbol), fh.symbols(), fh.quote(missing)]
        pg = make(PolygonClient, urls["polygon"], limiter, "1000/second", max_wait=0.0)
        results += [pg.grouped_daily(day), pg.daily_range(symbol, day - timedelta(days=10), day)]
        results += [pg.previous_close(symbol), pg.tickers(), pg.previous_close(missing)]
        results += [pg.previous_close(symbol), pg.previous_close(symbol)]  # THROTTLED, then DEFERRED
        av = make(AlphaVantageClient, urls["alphavantage"], limiter, "1/second")
        results += [av.daily(symbol), av.global_quote(symbol), av.listing_status(), av.global_quote(missing)]
        burst = make(AlphaVantageClient, urls["alphavantage"], limiter, "1000/second", max_wait=0.0)
        results += [burst.daily(symbol), burst.daily(symbol), burst.daily(symbol)]  # OK/THROTTLED/DEFERRED
        yh = make(YahooClient, urls["yahoo"], limiter, "1/second")
        results += [yh.daily_history(symbol, day - timedelta(days=10), day)]

        # Finnhub's 429 from a tight loop.
        loop = make(
            FinnhubClient, urls["finnhub"], ratelimits.Limiter(redis_client), "1000/second", max_wait=0.0
        )
        for _ in range(80):
            results.append(loop.quote(symbol))
            if results[-1].outcome is not Outcome.OK:
                break

        # Faults on the key-in-the-URL provider: timeout, garbage, server errors, refused connections.
        limiter.unblock("alphavantage")
        fast = make(AlphaVantageClient, urls["alphavantage"], limiter, "100000/second", read_timeout=0.3)
        sandbox.set_faults("alphavantage", latency_ms=1000)
        results.append(fast.daily(symbol))
        sandbox.set_faults("alphavantage", garbage_rate=1.0)
        results += [fast.daily(symbol), fast.global_quote(symbol), fast.listing_status()]
        sandbox.set_faults("alphavantage", error_rate=1.0)
        results.append(fast.daily(symbol))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{s.getsockname()[1]}"
        results.append(make(AlphaVantageClient, dead, limiter, "100000/second").daily(symbol))

        # Bodies that echo the key, and a next_url that carries it.
        scripted.add(
            "/query",
            200,
            f'{{"Information": "We have detected your API key as {KEY} and our standard API rate limit is 25 '
            'requests per day."}',
        )
        results.append(make(AlphaVantageClient, scripted.url, limiter, "100000/second").daily(symbol))
        scripted.add(
            "/v3/reference/tickers",
            200,
            f'{{"results":[{{"ticker":"A"}}],"status":"OK","next_url":"{scripted.url}/v3/p2?cursor=x&apiKey={KEY}"}}',
        )
        scripted.add("/v3/p2", 500, f"upstream said apiKey={KEY}")
        results.append(make(PolygonClient, scripted.url, limiter, "100000/second").tickers())
        scripted.add("/api/v1/quote", 429, f'{{"error":"API limit reached for token {KEY}"}}')
        results.append(make(FinnhubClient, scripted.url + "/api/v1", limiter, "100000/second").quote(symbol))

        # Caller mistakes raise: their texts must be clean too.
        for bad in (lambda: fh.quote(f"A{KEY}"), lambda: fh.quote(KEY)):
            with pytest.raises(InvalidSymbol) as info:
                bad()
            errors.append(info.value)
        with pytest.raises(ConfigError) as info:
            ProviderConfig("alphavantage", f"https://x/?apikey={KEY}", KEY)
        errors.append(info.value)
        dead_redis = redis.Redis(
            host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
        )
        with pytest.raises(ratelimits.QuotaUnavailable) as info:
            make(AlphaVantageClient, urls["alphavantage"], ratelimits.Limiter(dead_redis), "1/second").daily(
                symbol
            )
        errors.append(info.value)

    scripted.server.shutdown()
    scripted.server.server_close()

    outcomes = {r.outcome for r in results}
    # The run really went through the interesting paths (else the test would prove nothing).
    assert {
        Outcome.OK,
        Outcome.THROTTLED,
        Outcome.QUOTA_EXHAUSTED,
        Outcome.DEFERRED,
        Outcome.NOT_FOUND,
    } <= outcomes
    assert {Outcome.TRANSIENT, Outcome.BAD_DATA} <= outcomes
    url_lines = [
        r.getMessage() for r in caplog.records if r.name.startswith("urllib3") and "/query?" in r.getMessage()
    ]
    assert url_lines and all("apikey=***" in line for line in url_lines)

    texts = (
        [repr(r) for r in results] + [r.message for r in results] + [json.dumps(r.summary()) for r in results]
    )
    texts += [repr(rec) for r in results for rec in r.records] + [str(r.cursor) for r in results]
    texts += [str(e) for e in errors] + [repr(e) for e in errors]
    texts += [repr(c) for c in (fh, pg, av, yh)] + [repr(fh.config), str(av.config)]
    for record in caplog.records:
        texts += [record.getMessage(), repr(record.args), record.exc_text or ""]
    texts.append(caplog.text)
    texts += redis_texts(redis_client)
    leaks = [t for t in texts if KEY in t]
    assert leaks == []
