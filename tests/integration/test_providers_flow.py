"""The clients' call discipline over real HTTP and a real Limiter on the private test Redis.

A tiny scripted HTTP server (``Scripted``) answers with exactly the bytes a test queues, so the edges
the sandbox cannot be made to produce on demand (redirects, foreign ``next_url``, truncated bodies,
``Retry-After`` values, a Redis outage) are exercised through the real client code path.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import defaultdict, deque
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
import requests
from redis.backoff import NoBackoff
from redis.retry import Retry
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry as HttpRetry

import ratelimits
from providers import (
    AlphaVantageClient,
    FinnhubClient,
    InvalidSymbol,
    Outcome,
    PolygonClient,
    ProviderConfig,
    YahooClient,
)

pytestmark = pytest.mark.redis

QUOTE = '{"c":261.74,"d":2.29,"dp":0.88,"h":263.31,"l":260.68,"o":261.07,"pc":259.45,"t":1582641000}'


class Scripted:
    """An HTTP server on 127.0.0.1 that answers each path from a queue of (status, headers, body | action).

    ``body`` may be bytes/str, or ``("sleep", seconds, body)`` to answer late, or ``("truncate", body)`` to
    promise more bytes than it sends. Unscripted paths answer 599. ``requests`` lists what arrived.
    """

    def __init__(self) -> None:
        self.queues: dict[str, deque] = defaultdict(deque)
        self.requests: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                owner.requests.append(
                    {"path": parts.path, "query": parse_qs(parts.query), "headers": dict(self.headers)}
                )
                queue = owner.queues.get(parts.path)
                status, headers, body = queue.popleft() if queue else (599, {}, "unscripted")
                promised = None
                if isinstance(body, tuple) and body[0] == "sleep":
                    time.sleep(body[1])
                    body = body[2]
                elif isinstance(body, tuple) and body[0] == "truncate":
                    body = body[1]
                    promised = len(body.encode()) + 100
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(promised or len(data)))
                if promised:
                    self.send_header("Connection", "close")
                self.end_headers()
                try:
                    self.wfile.write(data)
                    self.wfile.flush()
                except OSError:
                    pass
                if promised:
                    self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def add(self, path: str, status: int, body="", headers: dict | None = None) -> None:
        self.queues[path].append((status, headers or {}, body))

    def hits(self, path: str) -> int:
        return sum(1 for r in self.requests if r["path"] == path)


@pytest.fixture
def scripted():
    server = Scripted()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def limiter(redis_client):
    return ratelimits.Limiter(redis_client, guard=0.0)


def make(cls, base_url, limiter, key="TESTKEY12345", policy="100/second", **kwargs):
    name = cls.provider
    config = ProviderConfig(
        name, base_url, key, connect_timeout=2.0, read_timeout=kwargs.pop("read_timeout", 5.0)
    )
    return cls(config, requests.Session(), limiter, ratelimits.parse_policy(policy), **kwargs)


def test_finnhub_sends_the_key_in_a_header_and_returns_a_quote(scripted, limiter):
    scripted.add("/api/v1/quote", 200, QUOTE)
    result = make(FinnhubClient, scripted.url + "/api/v1", limiter).quote("AAPL")
    assert result.outcome is Outcome.OK and result.records[0].price == 261.74
    (sent,) = scripted.requests
    assert sent["headers"]["X-Finnhub-Token"] == "TESTKEY12345"
    assert sent["query"] == {"symbol": ["AAPL"]}


def test_every_call_is_booked_before_it_is_sent(scripted, limiter):
    for _ in range(2):
        scripted.add("/api/v1/quote", 200, QUOTE)
    client = make(FinnhubClient, scripted.url + "/api/v1", limiter, policy="1/minute", max_wait=0.0)
    assert client.quote("AAPL").outcome is Outcome.OK
    before = time.time()
    second = client.quote("AAPL")
    assert second.outcome is Outcome.DEFERRED
    assert before + 50 < second.retry_at < before + 70
    assert scripted.hits("/api/v1/quote") == 1  # the deferred call never left


def test_a_429_is_reported_so_every_worker_backs_off(scripted, limiter):
    scripted.add(
        "/api/v1/quote",
        429,
        '{"error":"API limit reached. Please try again later. Remaining Limit: 0"}',
        {"Retry-After": "40"},
    )
    client = make(FinnhubClient, scripted.url + "/api/v1", limiter, max_wait=0.0)
    before = time.time()
    result = client.quote("AAPL")
    assert result.outcome is Outcome.THROTTLED
    assert before + 35 < result.retry_at < before + 45
    other_worker = make(
        FinnhubClient, scripted.url + "/api/v1", ratelimits.Limiter(limiter._client), max_wait=1.0
    )
    assert other_worker.quote("MSFT").outcome is Outcome.DEFERRED
    assert scripted.hits("/api/v1/quote") == 1


def test_missing_key_is_a_config_error_and_spends_nothing(scripted, limiter):
    client = make(FinnhubClient, scripted.url + "/api/v1", limiter, key="", policy="1/minute", max_wait=0.0)
    result = client.quote("AAPL")
    assert result.outcome is Outcome.CONFIG_ERROR and "FINNHUB_API_KEY" in result.message
    keyed = make(FinnhubClient, scripted.url + "/api/v1", limiter, policy="1/minute", max_wait=0.0)
    scripted.add("/api/v1/quote", 200, QUOTE)
    assert keyed.quote("AAPL").outcome is Outcome.OK  # the quota slot was not spent by the keyless call
    assert scripted.hits("/api/v1/quote") == 1


def test_redis_down_fails_closed_without_a_call(scripted):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    scripted.add("/api/v1/quote", 200, QUOTE)
    client = make(FinnhubClient, scripted.url + "/api/v1", ratelimits.Limiter(dead))
    with pytest.raises(ratelimits.QuotaUnavailable):
        client.quote("AAPL")
    assert scripted.requests == []


def test_invalid_symbols_never_reach_a_url(scripted, limiter):
    client = make(PolygonClient, scripted.url, limiter)
    for bad in ("aapl", "AAPL/../x", "AAPL?apiKey=1", ""):
        with pytest.raises(InvalidSymbol):
            client.previous_close(bad)
    assert scripted.requests == []


def test_alphavantage_daily_cap_blocks_until_the_reset(scripted, limiter):
    body = (
        '{"Information": "We have detected your API key as TESTKEY12345 and our standard API rate limit is 25 '
        "requests per day. Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ "
        'to instantly remove all daily rate limits."}'
    )
    scripted.add("/query", 200, body)
    policy = "1/second, 25/day@America/New_York"
    client = make(AlphaVantageClient, scripted.url, limiter, policy=policy, max_wait=5.0)
    result = client.global_quote("IBM")
    assert result.outcome is Outcome.QUOTA_EXHAUSTED
    assert result.retry_at > time.time() + 60  # the next New York midnight, not a second later
    assert "TESTKEY12345" not in result.message and "TESTKEY12345" not in repr(result)
    assert scripted.requests[0]["query"]["apikey"] == ["TESTKEY12345"]
    assert client.global_quote("IBM").outcome is Outcome.DEFERRED


@pytest.mark.parametrize(
    ("body", "outcome", "min_block"),
    [
        (
            '{"Information": "Thank you for using Alpha Vantage! Please consider spreading out your free API '
            'requests more sparingly (1 request per second)."}',
            Outcome.THROTTLED,
            0.5,
        ),
        (
            '{"Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute."}',
            Outcome.THROTTLED,
            50,
        ),
    ],
    ids=["burst", "note"],
)
def test_alphavantage_throttle_bodies_are_reported(scripted, limiter, body, outcome, min_block):
    scripted.add("/query", 200, body)
    client = make(AlphaVantageClient, scripted.url, limiter)
    before = time.time()
    result = client.daily("IBM")
    assert result.outcome is outcome and result.retry_at >= before + min_block
    assert limiter.blocked_until("alphavantage") is not None


def test_redirects_are_not_followed(scripted, limiter):
    scripted.add("/api/v1/quote", 301, "", {"Location": "http://127.0.0.1:9/api/v1/quote"})
    result = make(FinnhubClient, scripted.url + "/api/v1", limiter).quote("AAPL")
    assert result.outcome is Outcome.CONFIG_ERROR and result.http_status == 301


def test_read_timeout_is_transient(scripted, limiter):
    scripted.add("/api/v1/quote", 200, ("sleep", 1.5, QUOTE))
    result = make(FinnhubClient, scripted.url + "/api/v1", limiter, read_timeout=0.3).quote("AAPL")
    assert result.outcome is Outcome.TRANSIENT and "timeout" in result.message


def test_connection_refused_is_transient(limiter):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = make(AlphaVantageClient, f"http://127.0.0.1:{port}", limiter).daily("IBM")
    assert result.outcome is Outcome.TRANSIENT
    assert "TESTKEY12345" not in result.message  # requests' text holds the URL, and with it apikey=


def test_truncated_body_is_bad_data(scripted, limiter):
    scripted.add("/api/v1/quote", 200, ("truncate", QUOTE))
    result = make(FinnhubClient, scripted.url + "/api/v1", limiter).quote("AAPL")
    assert result.outcome is Outcome.BAD_DATA and result.records == ()


def test_a_retrying_session_is_made_to_call_once(scripted, limiter):
    session = requests.Session()
    session.mount(
        "http://", HTTPAdapter(max_retries=HttpRetry(total=3, status_forcelist=[500], backoff_factor=0))
    )
    for _ in range(4):
        scripted.add("/v8/finance/chart/AAPL", 500, "oops")
    config = ProviderConfig("yahoo", scripted.url, "", connect_timeout=2.0, read_timeout=5.0)
    client = YahooClient(config, session, limiter, ratelimits.parse_policy("100/second"))
    result = client.daily_history("AAPL", date(2024, 10, 28), date(2024, 11, 1))
    assert result.outcome is Outcome.TRANSIENT
    assert scripted.hits("/v8/finance/chart/AAPL") == 1


def test_yahoo_429_blocks_for_minutes(scripted, limiter):
    scripted.add("/v8/finance/chart/BRK-B", 429, "Too Many Requests", {"Content-Type": "text/plain"})
    client = make(YahooClient, scripted.url, limiter, key="", block_seconds=300.0)
    before = time.time()
    result = client.daily_history("BRK.B", date(2024, 10, 28), date(2024, 11, 1))
    assert result.outcome is Outcome.THROTTLED and result.retry_at >= before + 290
    assert result.symbol == "BRK.B"


def _tickers_page(tickers, next_url=None):
    rows = ",".join(
        f'{{"ticker":"{t}","name":"{t} Inc","primary_exchange":"XNYS","type":"CS","active":true}}'
        for t in tickers
    )
    extra = f',"next_url":"{next_url}"' if next_url else ""
    return f'{{"results":[{rows}],"status":"OK","request_id":"r"{extra}}}'


def test_polygon_tickers_follow_pages_and_resume_after_a_throttle(scripted, limiter):
    base = scripted.url
    scripted.add(
        "/v3/reference/tickers",
        200,
        _tickers_page(["A", "AA"], f"{base}/v3/reference/tickers/p2?cursor=2&apiKey=LEAKED"),
    )
    scripted.add("/v3/reference/tickers/p2", 429, "")
    scripted.add(
        "/v3/reference/tickers/p2", 200, _tickers_page(["AAL"], f"{base}/v3/reference/tickers/p3?cursor=3")
    )
    scripted.add("/v3/reference/tickers/p3", 200, _tickers_page(["AAPL", "ABRpD"]))
    client = make(PolygonClient, base, limiter, max_wait=0.0)
    first = client.tickers()
    assert first.outcome is Outcome.THROTTLED
    assert [s.symbol for s in first.records] == ["A", "AA"] and first.cursor is not None
    assert "apiKey" not in first.cursor
    limiter.unblock("polygon")
    rest = client.tickers(cursor=first.cursor)
    assert rest.outcome is Outcome.OK and rest.cursor is None
    assert [s.symbol for s in rest.records] == ["AAL", "AAPL"] and rest.dropped == 1
    assert all(r["headers"].get("Authorization") == "Bearer TESTKEY12345" for r in scripted.requests)
    assert all("apiKey" not in r["query"] for r in scripted.requests)


def test_polygon_never_follows_next_url_to_another_host(scripted, limiter):
    scripted.add(
        "/v3/reference/tickers", 200, _tickers_page(["A"], "http://203.0.113.9/v3/reference/tickers?cursor=2")
    )
    result = make(PolygonClient, scripted.url, limiter).tickers()
    assert result.outcome is Outcome.BAD_DATA and [s.symbol for s in result.records] == ["A"]
    assert len(scripted.requests) == 1


def test_polygon_previous_close_without_bars_is_not_found(scripted, limiter):
    scripted.add(
        "/v2/aggs/ticker/ZZZZ/prev",
        200,
        '{"ticker":"ZZZZ","queryCount":0,"resultsCount":0,"adjusted":true,"status":"OK"}',
    )
    result = make(PolygonClient, scripted.url, limiter).previous_close("ZZZZ")
    assert result.outcome is Outcome.NOT_FOUND


def test_all_rows_invalid_is_bad_data(scripted, limiter):
    body = (
        '{"ticker":"AAPL","results":[{"v":1,"vw":1,"o":5,"c":5,"h":4,"l":6,"t":1673240400000},'
        '{"v":-3,"vw":1,"o":5,"c":5,"h":6,"l":4,"t":1673326800000}],"status":"OK"}'
    )
    scripted.add("/v2/aggs/ticker/AAPL/range/1/day/2023-01-09/2023-01-10", 200, body)
    result = make(PolygonClient, scripted.url, limiter).daily_range(
        "AAPL", date(2023, 1, 9), date(2023, 1, 10)
    )
    assert (result.outcome, result.dropped, result.records) == (Outcome.BAD_DATA, 2, ())


def test_polygon_empty_range_is_ok_only_without_a_closed_session(scripted, limiter):
    empty = '{"ticker":"AAPL","queryCount":0,"resultsCount":0,"adjusted":true,"status":"OK"}'
    scripted.add("/v2/aggs/ticker/AAPL/range/1/day/2024-11-02/2024-11-03", 200, empty)  # a weekend
    scripted.add("/v2/aggs/ticker/AAPL/range/1/day/2024-11-01/2024-11-03", 200, empty)
    client = make(PolygonClient, scripted.url, limiter)
    assert client.daily_range("AAPL", date(2024, 11, 2), date(2024, 11, 3)).outcome is Outcome.OK
    assert client.daily_range("AAPL", date(2024, 11, 1), date(2024, 11, 3)).outcome is Outcome.NOT_FOUND
