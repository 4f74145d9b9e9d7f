"""Limit enforcement over real HTTP, on the free profile's documented numbers.

The clock is frozen at a Tuesday afternoon and moved with ``/_sandbox/clock`` instead of waiting real
minutes; every request at one frozen instant arrives "at the same time". Expected bodies come from
docs/providers.md.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 24, 14, 0, tzinfo=NY)
FINNHUB_LIMIT = {"error": "API limit reached. Please try again later. Remaining Limit: 0"}
POLYGON_LIMIT = (
    "You've exceeded the maximum requests per minute, please wait or upgrade your subscription to continue. "
    "https://polygon.io/pricing"
)
AV_DAILY = (
    "We have detected your API key as ",
    "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day.",
)
AV_BURST = (
    "Thank you for using Alpha Vantage! Please consider spreading out your free API requests more sparingly "
    "(1 request per second)."
)
YAHOO_LIMIT = {"Too Many Requests", "Edge: Too Many Requests"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from sandbox.testing import SandboxError, SandboxProcess
    from tests.conftest import require

    sp = SandboxProcess(profile="free", symbols=300, now=NOW, frozen=True)
    try:
        sp.start()
    except SandboxError as exc:
        require(False, f"the provider sandbox could not start: {exc}")
    yield sp
    sp.stop()


@pytest.fixture
def sb(server):
    server.reset()
    return server


@pytest.fixture(scope="module")
def symbol(server):
    return next(s["symbol"] for s in server.universe() if s["active"] and s["listed"] < "2020")


def finnhub(sb, symbol, key="k1"):
    return requests.get(
        f"{sb.base_urls['finnhub']}/quote", params={"symbol": symbol, "token": key}, timeout=30
    )


def test_finnhub_61st_call_in_a_minute_is_refused(sb, symbol):
    statuses = [finnhub(sb, symbol).status_code for _ in range(30)]
    refused = finnhub(sb, symbol)  # the 31st in the same second: 30/second
    assert statuses == [200] * 30
    assert (refused.status_code, refused.json()) == (429, FINNHUB_LIMIT)
    sb.clock(advance_seconds=1)
    statuses = [finnhub(sb, symbol).status_code for _ in range(30)]
    assert statuses == [200] * 30  # 60 admitted in the minute (the refused call did not count)
    sb.clock(advance_seconds=1)
    sixty_first = finnhub(sb, symbol)
    assert (sixty_first.status_code, sixty_first.json()) == (429, FINNHUB_LIMIT)
    assert finnhub(sb, symbol, key="k2").status_code == 200  # per key
    sb.clock(advance_seconds=58)  # 60 s after the first 30: they leave the window
    assert [finnhub(sb, symbol).status_code for _ in range(30)] == [200] * 30
    stats = sb.stats()["providers"]["finnhub"]
    assert (stats["calls"], stats["ok"], stats["throttled"]) == (30 + 1 + 30 + 1 + 1 + 30, 91, 2)


def test_polygon_6th_call_in_a_minute_is_refused(sb, symbol):
    url = f"{sb.base_urls['polygon']}/v2/aggs/ticker/{symbol}/prev"
    assert [requests.get(url, params={"apiKey": "k"}, timeout=30).status_code for _ in range(5)] == [200] * 5
    for _ in range(3):
        r = requests.get(url, params={"apiKey": "k"}, timeout=30)
        assert r.status_code == 429
        if r.content:  # docs/providers.md: "sometimes an empty body"
            body = r.json()
            assert body["status"] == "ERROR" and body["error"] == POLYGON_LIMIT and body["request_id"]
    sb.clock(advance_seconds=59.9)
    assert requests.get(url, params={"apiKey": "k"}, timeout=30).status_code == 429
    sb.clock(advance_seconds=0.1)
    assert requests.get(url, params={"apiKey": "k"}, timeout=30).status_code == 200
    assert sb.stats()["providers"]["polygon"]["throttled"] == 4


def av(sb, symbol, key="k"):
    params = {"function": "GLOBAL_QUOTE", "symbol": symbol, "apikey": key}
    r = requests.get(f"{sb.base_urls['alphavantage']}/query", params=params, timeout=30)
    assert r.status_code == 200  # always 200
    return r.json()


def test_alpha_vantage_burst_and_daily_cap(sb, symbol):
    assert "Global Quote" in av(sb, symbol)
    burst = av(sb, symbol)  # two calls within one second
    assert list(burst) == ["Information"] and burst["Information"].startswith(AV_BURST)
    for _ in range(24):
        sb.clock(advance_seconds=1.0)
        assert "Global Quote" in av(sb, symbol)
    sb.clock(advance_seconds=1.0)
    daily = av(sb, symbol)  # the 26th call of the day
    assert list(daily) == ["Information"] and daily["Information"].startswith(AV_DAILY)
    assert "25 requests per day" in daily["Information"]
    sb.clock(advance_seconds=3600)
    assert "Information" in av(sb, symbol)  # stop until the next reset ...
    sb.clock(now=datetime(2026, 11, 25, 0, 0, 1, tzinfo=NY))
    assert "Global Quote" in av(sb, symbol)  # ... midnight New York
    stats = sb.stats()["providers"]["alphavantage"]
    assert (stats["ok"], stats["throttled"]) == (26, 3)


def yahoo(sb, symbol):
    return requests.get(
        f"{sb.base_urls['yahoo']}/v8/finance/chart/{symbol}", params={"range": "5d"}, timeout=30
    )


def test_yahoo_block_is_sticky(sb, symbol):
    assert {yahoo(sb, symbol).status_code for _ in range(60)} == {200}
    blocked = yahoo(sb, symbol)
    assert blocked.status_code == 429 and blocked.text in YAHOO_LIMIT
    assert blocked.headers["Content-Type"].startswith("text/plain")
    sb.clock(advance_seconds=61)  # the minute window would admit again, the block does not
    assert yahoo(sb, symbol).status_code == 429
    sb.clock(advance_seconds=200)
    assert yahoo(sb, symbol).text in YAHOO_LIMIT
    sb.clock(advance_seconds=40)  # 301 s after the block began
    assert yahoo(sb, symbol).status_code == 200


def test_reset_clears_limits_blocks_and_counters(sb, symbol):
    for _ in range(61):
        yahoo(sb, symbol)
    assert yahoo(sb, symbol).status_code == 429
    sb.reset()
    assert yahoo(sb, symbol).status_code == 200
    assert sb.stats()["totals"]["calls"] == 1


def test_a_crowd_at_one_instant_gets_exactly_the_window(sb, symbol):
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda _: finnhub(sb, symbol).status_code, range(100)))
    assert statuses.count(200) == 30 and statuses.count(429) == 70


def test_request_log_records_sandbox_arrival_times(sb, symbol):
    finnhub(sb, symbol)
    sb.clock(advance_seconds=10)
    finnhub(sb, symbol, key="")
    log = sb.requests()
    assert [(e["provider"], e["endpoint"], e["status"], e["outcome"]) for e in log] == [
        ("finnhub", "quote", 200, "ok"),
        ("finnhub", "quote", 429, "auth"),  # a missing key is a configuration error, not throttling
    ]
    assert log[0]["arrival"] == pytest.approx(NOW.timestamp()) and log[1]["arrival"] == pytest.approx(
        NOW.timestamp() + 10
    )
    assert [e["seq"] for e in sb.requests(since=NOW.timestamp() + 5)] == [log[1]["seq"]]
    assert "k1" not in json.dumps(log) and "token" not in json.dumps(log)


def test_documented_variants_when_quirks_are_certain(make_sandbox, tmp_path):
    """With every quirk rate at 1: Polygon's empty 429 and ``message`` 401, Yahoo's ``Edge:`` text, and the
    "Thank you" daily-cap variant of Alpha Vantage."""
    profile = tmp_path / "quirky.json"
    quirks = {
        "polygon_empty_429_rate": 1,
        "polygon_401_message_rate": 1,
        "yahoo_edge_rate": 1,
        "av_daily_variant_rate": 1,
    }
    limits = {"polygon": {"windows": [{"limit": 1, "seconds": 60}]}, "yahoo": {"windows": [{"limit": 1, "seconds": 60}]},
              "alphavantage": {"windows": [], "daily": {"limit": 1}}}  # fmt: skip
    profile.write_text(json.dumps({"quirks": quirks, "limits": limits}))
    sb = make_sandbox(profile="free", symbols=50, now=NOW, frozen=True, profile_file=profile)
    symbol = next(s["symbol"] for s in sb.universe() if s["active"])
    prev = f"{sb.base_urls['polygon']}/v2/aggs/ticker/{symbol}/prev"
    assert requests.get(prev, params={"apiKey": "k"}, timeout=30).status_code == 200
    empty = requests.get(prev, params={"apiKey": "k"}, timeout=30)
    assert (empty.status_code, empty.content) == (429, b"")
    unknown = requests.get(prev, timeout=30)
    assert unknown.status_code == 401 and unknown.json()["message"] == "Unknown API Key"
    assert yahoo(sb, symbol).status_code == 200
    assert yahoo(sb, symbol).text == "Edge: Too Many Requests"
    assert "Global Quote" in av(sb, symbol)
    sb.clock(advance_seconds=5)
    assert av(sb, symbol)["Information"].startswith(AV_DAILY[1])
