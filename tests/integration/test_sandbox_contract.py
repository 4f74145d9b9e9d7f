"""Contract tests, Finnhub and Polygon: every endpoint and error class of docs/providers.md, over real HTTP.

Expected keys and texts are copied from docs/providers.md (Provider facts: the documentation), never from the
sandbox's own output. The server (``sandbox_contract`` in conftest.py) runs the free profile's plan rules
with its rate limits lifted, a frozen clock at Wednesday 2026-11-25 17:00 ET (after the close; Thursday is
Thanksgiving, Friday a half day), and two valid keys.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
import requests

NY = ZoneInfo("America/New_York")
KEY = "good-key"  # valid on sandbox_contract

# -- documented bodies (docs/providers.md) --------------------------------------------------------------------
FINNHUB_SIGN_UP = "API limit reached. Please sign up for a free account to continue using the API."
FINNHUB_NO_ACCESS = {"error": "You don't have access to this resource."}
FINNHUB_UNKNOWN = {"c": 0, "d": None, "dp": None, "h": 0, "l": 0, "o": 0, "pc": 0, "t": 0}
FINNHUB_QUOTE_KEYS = {"c", "d", "dp", "h", "l", "o", "pc", "t"}
FINNHUB_SYMBOL_KEYS = {"currency", "description", "displaySymbol", "figi", "mic", "symbol", "type"}
POLYGON_EMPTY_DAY = {"status": "OK", "queryCount": 0, "resultsCount": 0, "adjusted": True}
POLYGON_TODAY = "Attempted to request today's data before end of day."
POLYGON_TIMEFRAME = "Your plan doesn't include this data timeframe."
POLYGON_NOT_ENTITLED = (
    "You are not entitled to this data. Please upgrade your plan at https://massive.com/pricing"
)
POLYGON_GROUPED_BAR_KEYS = {"T", "o", "h", "l", "c", "v", "vw", "t", "n"}
POLYGON_RANGE_BAR_KEYS = {"v", "vw", "o", "c", "h", "l", "t", "n"}
POLYGON_RANGE_KEYS = {
    "ticker",
    "queryCount",
    "resultsCount",
    "adjusted",
    "results",
    "status",
    "request_id",
    "count",
}


def get(sb, provider: str, path: str, **params) -> requests.Response:
    return requests.get(sb.base_urls[provider] + path, params=params, timeout=30)


def ms(d: date, hour: int) -> int:
    return int(datetime.combine(d, time(hour), NY).timestamp() * 1000)


# -- Finnhub ---------------------------------------------------------------------------------------------


def test_finnhub_quote_after_the_close(sb, plain):
    r = get(sb, "finnhub", "/quote", symbol=plain, token=KEY)
    q = r.json()
    assert r.status_code == 200 and set(q) == FINNHUB_QUOTE_KEYS
    assert q["t"] == int(datetime(2026, 11, 25, 16, 0, tzinfo=NY).timestamp())  # the close, unix seconds
    assert q["l"] <= q["c"] <= q["h"] and q["l"] <= q["o"] <= q["h"]
    assert q["d"] == pytest.approx(q["c"] - q["pc"], abs=0.011)
    assert q["dp"] == pytest.approx(100 * q["d"] / q["pc"], abs=0.01)


def test_finnhub_quote_during_the_session_moves_with_time(sb, plain):
    noon = datetime(2026, 11, 24, 12, 0, tzinfo=NY)
    sb.clock(now=noon)
    first = get(sb, "finnhub", "/quote", symbol=plain, token=KEY).json()
    assert first["t"] == int(noon.timestamp())
    sb.clock(advance_seconds=3600)
    later = get(sb, "finnhub", "/quote", symbol=plain, token=KEY).json()
    assert later["t"] == int(noon.timestamp()) + 3600
    assert later["pc"] == first["pc"] and later["o"] == first["o"]
    assert later["h"] >= first["h"] and later["l"] <= first["l"]  # running high and low
    for q in (first, later):
        assert q["l"] <= q["c"] <= q["h"]


@pytest.mark.parametrize(
    ("params", "headers", "status", "body"),
    [
        ({"symbol": "AAPL"}, {}, 429, {"error": FINNHUB_SIGN_UP}),  # no token
        ({"symbol": "AAPL", "token": ""}, {}, 429, {"error": FINNHUB_SIGN_UP}),  # empty token
        ({"symbol": "ZZZZZZ", "token": KEY}, {}, 200, FINNHUB_UNKNOWN),  # unknown symbol
        ({"symbol": "ZZZZZZ"}, {"X-Finnhub-Token": KEY}, 200, FINNHUB_UNKNOWN),  # key in the header
    ],
)
def test_finnhub_quote_errors(sb, params, headers, status, body):
    r = requests.get(sb.base_urls["finnhub"] + "/quote", params=params, headers=headers, timeout=30)
    assert (r.status_code, r.json()) == (status, body)


def test_finnhub_candle_is_not_on_the_free_plan(sb, plain):
    r = get(sb, "finnhub", "/stock/candle", symbol=plain, resolution="D", token=KEY)
    assert (r.status_code, r.json()) == (403, FINNHUB_NO_ACCESS)


def test_finnhub_symbol_list(sb, contract_universe):
    rows = get(sb, "finnhub", "/stock/symbol", exchange="US", token=KEY).json()
    assert all(FINNHUB_SYMBOL_KEYS <= set(row) for row in rows)
    assert {row["symbol"] for row in rows} == {s for s, v in contract_universe.items() if v["active"]}
    assert {row["mic"] for row in rows} >= {"XNYS", "XNAS", "ARCX"}
    assert {row["currency"] for row in rows} == {"USD"}
    assert any("." in row["symbol"] for row in rows)  # class shares


# -- Polygon ---------------------------------------------------------------------------------------------


def test_polygon_grouped_daily(sb, contract_universe):
    day = date(2026, 11, 24)
    body = get(
        sb, "polygon", f"/v2/aggs/grouped/locale/us/market/stocks/{day}", adjusted="true", apiKey=KEY
    ).json()
    assert body["status"] == "OK" and body["adjusted"] is True and body["request_id"]
    assert body["queryCount"] == body["resultsCount"] == len(body["results"])
    assert all(set(bar) == POLYGON_GROUPED_BAR_KEYS for bar in body["results"])
    assert {bar["t"] for bar in body["results"]} == {ms(day, 16)}  # 16:00 ET, epoch ms
    traded = {
        s
        for s, v in contract_universe.items()
        if v["listed"] <= str(day) and (v["delisted"] or "9999") > str(day)
    }
    halted = {s for s in traded for h in contract_universe[s]["halts"] if h["first"] <= str(day) <= h["last"]}
    assert {bar["T"] for bar in body["results"]} == traded - halted


@pytest.mark.parametrize(
    "day",
    [date(2026, 11, 22), date(2025, 12, 25), date(2025, 11, 27)],  # a Sunday, Christmas, Thanksgiving
)
def test_polygon_grouped_daily_closed_market_is_an_empty_ok(sb, day):
    r = get(sb, "polygon", f"/v2/aggs/grouped/locale/us/market/stocks/{day}", adjusted="true", apiKey=KEY)
    assert (r.status_code, r.json()) == (200, POLYGON_EMPTY_DAY)


def test_polygon_grouped_daily_half_day_is_there(sb):
    body = get(sb, "polygon", "/v2/aggs/grouped/locale/us/market/stocks/2025-11-28", apiKey=KEY).json()
    assert body["resultsCount"] > 250 and body["results"][0]["t"] == ms(date(2025, 11, 28), 16)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v2/aggs/grouped/locale/us/market/stocks/2026-11-25", POLYGON_TODAY),  # today, before midnight ET
        ("/v2/aggs/grouped/locale/us/market/stocks/2024-11-22", POLYGON_TIMEFRAME),  # older than 2 years
        ("/v2/aggs/ticker/{sym}/range/1/day/2026-11-01/2026-11-25", POLYGON_TODAY),
        ("/v2/aggs/ticker/{sym}/range/1/day/2024-01-02/2024-02-01", POLYGON_TIMEFRAME),
        ("/v2/snapshot/locale/us/markets/stocks/tickers", POLYGON_NOT_ENTITLED),  # no snapshots on free
    ],
)
def test_polygon_permanent_403s(sb, plain, path, message):
    r = get(sb, "polygon", path.format(sym=plain), apiKey=KEY)
    body = r.json()
    assert r.status_code == 403 and body["status"] == "NOT_AUTHORIZED" and body["request_id"]
    assert body["message"].startswith(message)


def test_polygon_today_becomes_available_after_midnight_eastern(sb):
    path = "/v2/aggs/grouped/locale/us/market/stocks/2026-11-25"
    sb.clock(now=datetime(2026, 11, 25, 23, 59, 59, tzinfo=NY))
    assert get(sb, "polygon", path, apiKey=KEY).status_code == 403
    sb.clock(now=datetime(2026, 11, 26, 0, 0, 1, tzinfo=NY))
    body = get(sb, "polygon", path, apiKey=KEY).json()
    assert body["status"] == "OK" and body["resultsCount"] > 250


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        ({}, {}),
        ({"apiKey": "stolen"}, {}),
        ({}, {"Authorization": "Bearer stolen"}),
        ({}, {"Authorization": "Basic x"}),
    ],
)
def test_polygon_unknown_key(sb, params, headers):
    r = requests.get(
        sb.base_urls["polygon"] + "/v2/aggs/ticker/AAPL/prev", params=params, headers=headers, timeout=30
    )
    body = r.json()
    assert r.status_code == 401 and body["status"] == "ERROR"
    assert "Unknown API Key" in (body.get("error", "") + body.get("message", ""))


def test_polygon_bearer_header_is_accepted(sb, plain):
    r = requests.get(
        f"{sb.base_urls['polygon']}/v2/aggs/ticker/{plain}/prev",
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=30,
    )
    assert r.status_code == 200 and r.json()["resultsCount"] == 1


def test_polygon_range_paginates_with_next_url(sb, plain):
    path = f"/v2/aggs/ticker/{plain}/range/1/day/2026-10-01/2026-11-24"
    first = get(sb, "polygon", path, adjusted="true", sort="asc", limit=10, apiKey=KEY).json()
    assert POLYGON_RANGE_KEYS <= set(first) and first["status"] == "OK" and first["ticker"] == plain
    assert first["resultsCount"] == first["count"] == 10 and "next_url" in first
    assert all(set(bar) == POLYGON_RANGE_BAR_KEYS for bar in first["results"])
    assert first["results"][0]["t"] == ms(date(2026, 10, 1), 0)  # 00:00 ET, epoch ms
    bars = list(first["results"])
    page = first
    while "next_url" in page:  # the client re-appends its key
        page = requests.get(page["next_url"], params={"apiKey": KEY}, timeout=30).json()
        bars += page.get("results", [])
    whole = get(sb, "polygon", path, limit=50000, apiKey=KEY).json()
    assert "next_url" not in whole and bars == whole["results"]
    days = [datetime.fromtimestamp(b["t"] / 1000, NY).date() for b in bars]
    assert (
        days[0] == date(2026, 10, 1) and days[-1] == date(2026, 11, 24) and len(days) == 22 + 17
    )  # Oct + Nov


def test_polygon_range_descending(sb, plain):
    path = f"/v2/aggs/ticker/{plain}/range/1/day/2026-11-02/2026-11-24"
    asc = get(sb, "polygon", path, sort="asc", apiKey=KEY).json()["results"]
    desc = get(sb, "polygon", path, sort="desc", limit=5, apiKey=KEY).json()
    assert desc["results"] == asc[::-1][:5] and "next_url" in desc


def test_polygon_unknown_ticker_has_no_results(sb):
    for path in ("/v2/aggs/ticker/ZZZZZZ/range/1/day/2026-11-02/2026-11-24", "/v2/aggs/ticker/ZZZZZZ/prev"):
        r = get(sb, "polygon", path, apiKey=KEY)
        body = r.json()
        assert r.status_code == 200 and body["status"] == "OK" and body["resultsCount"] == 0
        assert "results" not in body


def test_polygon_prev_is_the_last_available_session(sb, plain):
    body = get(sb, "polygon", f"/v2/aggs/ticker/{plain}/prev", apiKey=KEY).json()
    (bar,) = body["results"]
    assert body["resultsCount"] == 1 and bar["T"] == plain
    assert bar["t"] == ms(date(2026, 11, 24), 16)  # 11-25 is not available before midnight ET


def test_polygon_tickers_paginate_over_every_active_symbol(sb, contract_universe):
    page = get(
        sb, "polygon", "/v3/reference/tickers", market="stocks", active="true", limit=120, apiKey=KEY
    ).json()
    tickers = [r["ticker"] for r in page["results"]]
    pages = 1
    while "next_url" in page:
        page = requests.get(page["next_url"], params={"apiKey": KEY}, timeout=30).json()
        tickers += [r["ticker"] for r in page["results"]]
        pages += 1
    assert pages >= 3 and tickers == sorted(tickers)
    assert set(tickers) == {s for s, v in contract_universe.items() if v["active"]} and len(tickers) == len(
        set(tickers)
    )
    delisted = get(
        sb, "polygon", "/v3/reference/tickers", market="stocks", active="false", limit=1000, apiKey=KEY
    ).json()
    assert {r["ticker"] for r in delisted["results"]} == {
        s for s, v in contract_universe.items() if not v["active"]
    }
    assert all(r["active"] is False and "delisted_utc" in r for r in delisted["results"])
