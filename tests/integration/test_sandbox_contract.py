"""Contract tests: every endpoint and error class of providers.md, over real HTTP to ``python -m sandbox``.

Expected keys and texts below are copied from /work/shared/providers.md (the documentation), never from the
sandbox's own output. The server runs the free profile's plan rules with its rate limits lifted (the limits
have their own tests), a frozen clock at Wednesday 2026-11-25 17:00 ET (after the close; Thursday is
Thanksgiving, Friday a half day), and two valid keys.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
import requests

from sandbox.testing import SandboxError, SandboxProcess
from tests.conftest import require

NY = ZoneInfo("America/New_York")
NOW = "2026-11-25T22:00:00Z"
KEY = "good-key"
NO_LIMITS = {
    "base": "free",
    "limits": {
        "finnhub": {"windows": []},
        "polygon": {"windows": []},
        "alphavantage": {"windows": [], "daily": None},
        "yahoo": {"windows": [], "block_seconds": 0},
    },
    "quirks": {
        "polygon_empty_429_rate": 0,
        "polygon_401_message_rate": 0,
        "yahoo_edge_rate": 0,
        "av_daily_variant_rate": 0,
    },
}

# -- documented bodies (providers.md) --------------------------------------------------------------------
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
AV_PREMIUM = "Thank you for using Alpha Vantage! This is a premium endpoint."
AV_BAD_SYMBOL = (
    "Invalid API call. Please retry or visit the documentation (https://www.alphavantage.co/documentation/) for "
    "TIME_SERIES_DAILY."
)
AV_BAD_KEY = "apikey is invalid or missing"
AV_META_KEYS = ["1. Information", "2. Symbol", "3. Last Refreshed", "4. Output Size", "5. Time Zone"]
AV_ROW_KEYS = ["1. open", "2. high", "3. low", "4. close", "5. volume"]
AV_QUOTE_KEYS = [
    "01. symbol", "02. open", "03. high", "04. low", "05. price", "06. volume", "07. latest trading day",
    "08. previous close", "09. change", "10. change percent",
]  # fmt: skip
AV_LISTING_HEADER = ["symbol", "name", "exchange", "assetType", "ipoDate", "delistingDate", "status"]
YAHOO_NOT_FOUND = {
    "chart": {
        "result": None,
        "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"},
    }
}


@pytest.fixture(scope="module")
def sb(tmp_path_factory):
    profile = tmp_path_factory.mktemp("sandbox") / "contract.json"
    profile.write_text(json.dumps(NO_LIMITS))
    server = SandboxProcess(
        symbols=300, now=NOW, frozen=True, profile_file=profile, extra_args=("--keys", f"{KEY},other-key")
    )
    try:
        server.start()
    except SandboxError as exc:
        require(False, f"the provider sandbox could not start: {exc}")
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _reset(sb):
    sb.reset()


@pytest.fixture(scope="module")
def universe(sb):
    return {s["symbol"]: s for s in sb.universe()}


@pytest.fixture(scope="module")
def plain(universe):
    """An active common stock without splits or halts, listed long ago."""
    return next(
        s for s, v in universe.items()
        if v["active"] and not v["splits"] and not v["halts"] and v["type"] == "Common Stock" and v["listed"] < "2020"
    )  # fmt: skip


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


def test_finnhub_symbol_list(sb, universe):
    rows = get(sb, "finnhub", "/stock/symbol", exchange="US", token=KEY).json()
    assert all(FINNHUB_SYMBOL_KEYS <= set(row) for row in rows)
    assert {row["symbol"] for row in rows} == {s for s, v in universe.items() if v["active"]}
    assert {row["mic"] for row in rows} >= {"XNYS", "XNAS", "ARCX"}
    assert {row["currency"] for row in rows} == {"USD"}
    assert any("." in row["symbol"] for row in rows)  # class shares


# -- Polygon ---------------------------------------------------------------------------------------------


def test_polygon_grouped_daily(sb, universe):
    day = date(2026, 11, 24)
    body = get(
        sb, "polygon", f"/v2/aggs/grouped/locale/us/market/stocks/{day}", adjusted="true", apiKey=KEY
    ).json()
    assert body["status"] == "OK" and body["adjusted"] is True and body["request_id"]
    assert body["queryCount"] == body["resultsCount"] == len(body["results"])
    assert all(set(bar) == POLYGON_GROUPED_BAR_KEYS for bar in body["results"])
    assert {bar["t"] for bar in body["results"]} == {ms(day, 16)}  # 16:00 ET, epoch ms
    traded = {
        s for s, v in universe.items() if v["listed"] <= str(day) and (v["delisted"] or "9999") > str(day)
    }
    halted = {s for s in traded for h in universe[s]["halts"] if h["first"] <= str(day) <= h["last"]}
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


def test_polygon_tickers_paginate_over_every_active_symbol(sb, universe):
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
    assert set(tickers) == {s for s, v in universe.items() if v["active"]} and len(tickers) == len(
        set(tickers)
    )
    delisted = get(
        sb, "polygon", "/v3/reference/tickers", market="stocks", active="false", limit=1000, apiKey=KEY
    ).json()
    assert {r["ticker"] for r in delisted["results"]} == {s for s, v in universe.items() if not v["active"]}
    assert all(r["active"] is False and "delisted_utc" in r for r in delisted["results"])


# -- Alpha Vantage ---------------------------------------------------------------------------------------


def test_av_time_series_daily_compact(sb, plain):
    r = get(sb, "alphavantage", "/query", function="TIME_SERIES_DAILY", symbol=plain, apikey=KEY)
    body = r.json()
    assert r.status_code == 200 and list(body) == ["Meta Data", "Time Series (Daily)"]
    meta, series = body["Meta Data"], body["Time Series (Daily)"]
    assert list(meta) == AV_META_KEYS and meta["2. Symbol"] == plain and meta["4. Output Size"] == "Compact"
    assert meta["3. Last Refreshed"] == "2026-11-25" and meta["5. Time Zone"] == "US/Eastern"
    assert len(series) == 100 and list(series) == sorted(series, reverse=True)  # newest first
    assert "2026-11-26" not in series and "2026-11-25" in series
    for row in series.values():
        assert list(row) == AV_ROW_KEYS and all(isinstance(v, str) for v in row.values())
        float(row["4. close"]), int(row["5. volume"])


@pytest.mark.parametrize(
    ("params", "key", "text"),
    [
        ({"function": "TIME_SERIES_DAILY", "symbol": "ZZZZZZ"}, "Error Message", AV_BAD_SYMBOL),
        (
            {"function": "TIME_SERIES_DAILY", "symbol": "{sym}", "outputsize": "full"},
            "Information",
            AV_PREMIUM,
        ),
        ({"function": "TIME_SERIES_DAILY_ADJUSTED", "symbol": "{sym}"}, "Information", AV_PREMIUM),
        ({"function": "REALTIME_BULK_QUOTES", "symbol": "{sym}"}, "Information", AV_PREMIUM),
    ],
)
def test_av_errors_are_http_200(sb, plain, params, key, text):
    params = {k: v.format(sym=plain) for k, v in params.items()}
    r = get(sb, "alphavantage", "/query", apikey=KEY, **params)
    body = r.json()
    assert r.status_code == 200 and list(body) == [key] and body[key].startswith(text)


@pytest.mark.parametrize("apikey", [None, "", "stolen"])
def test_av_bad_key(sb, plain, apikey):
    params = {"function": "GLOBAL_QUOTE", "symbol": plain} | ({} if apikey is None else {"apikey": apikey})
    r = get(sb, "alphavantage", "/query", **params)
    body = r.json()
    assert r.status_code == 200 and list(body) == ["Error Message"] and AV_BAD_KEY in body["Error Message"]


def test_av_global_quote(sb, plain):
    quote = get(sb, "alphavantage", "/query", function="GLOBAL_QUOTE", symbol=plain, apikey=KEY).json()[
        "Global Quote"
    ]
    assert list(quote) == AV_QUOTE_KEYS and quote["01. symbol"] == plain
    assert quote["07. latest trading day"] == "2026-11-25" and quote["10. change percent"].endswith("%")
    price, prev = float(quote["05. price"]), float(quote["08. previous close"])
    assert float(quote["09. change"]) == pytest.approx(price - prev, abs=1e-3)
    unknown = get(sb, "alphavantage", "/query", function="GLOBAL_QUOTE", symbol="ZZZZZZ", apikey=KEY)
    assert (unknown.status_code, unknown.json()) == (200, {"Global Quote": {}})


def test_av_listing_status_csv(sb, universe):
    for state, status in (("active", "Active"), ("delisted", "Delisted")):
        r = get(sb, "alphavantage", "/query", function="LISTING_STATUS", state=state, apikey=KEY)
        rows = list(csv.reader(io.StringIO(r.text)))
        assert r.status_code == 200 and rows[0] == AV_LISTING_HEADER
        assert {row[6] for row in rows[1:]} == {status}
        assert {row[0] for row in rows[1:]} == {
            s for s, v in universe.items() if v["active"] == (state == "active")
        }


# -- Yahoo -----------------------------------------------------------------------------------------------


def _yahoo(sb, symbol: str, first: date, last: date, **params) -> requests.Response:
    p1 = int(datetime.combine(first, time(0), NY).timestamp())
    p2 = int(datetime.combine(last, time(23, 59), NY).timestamp())
    return get(sb, "yahoo", f"/v8/finance/chart/{symbol}", period1=p1, period2=p2, interval="1d", **params)


def test_yahoo_chart_shape(sb, plain):
    r = _yahoo(sb, plain, date(2026, 10, 1), date(2026, 11, 25), events="div,splits")
    chart = r.json()["chart"]
    assert r.status_code == 200 and chart["error"] is None
    (result,) = chart["result"]
    assert {"meta", "timestamp", "indicators", "events"} <= set(result)
    quote = result["indicators"]["quote"][0]
    n = len(result["timestamp"])
    assert n == 22 + 18 and all(len(quote[k]) == n for k in ("open", "high", "low", "close", "volume"))
    assert len(result["indicators"]["adjclose"][0]["adjclose"]) == n
    assert set(result["events"]) == {"splits", "dividends"}
    assert result["meta"]["symbol"] == plain and result["meta"]["currency"] == "USD"
    opens = [datetime.fromtimestamp(t, NY) for t in result["timestamp"]]
    assert all((t.hour, t.minute) == (9, 30) for t in opens)  # session open instants, epoch seconds


def test_yahoo_unknown_and_delisted_symbols_are_404(sb, universe):
    gone = next(s for s, v in universe.items() if not v["active"])
    for symbol in ("ZZZZZZ", gone):
        r = _yahoo(sb, symbol, date(2026, 10, 1), date(2026, 11, 25))
        assert (r.status_code, r.json()) == (404, YAHOO_NOT_FOUND)


def test_yahoo_halted_session_is_null(sb, universe):
    halted = [
        (s, h) for s, v in universe.items() for h in v["halts"] if v["active"] and "2025-01-01" < h["first"]
    ]
    require(bool(halted), "no halt in the window for this seed")
    symbol, halt = halted[0]
    first, last = date.fromisoformat(halt["first"]), date.fromisoformat(halt["last"])
    result = _yahoo(sb, symbol, first, last).json()["chart"]["result"][0]
    if "timestamp" in result:  # a halt over a weekend only has no session to show
        assert set(result["indicators"]["quote"][0]["close"]) == {None}


def test_yahoo_splits_are_events_and_prices_are_split_adjusted(sb, universe):
    split = [
        (s, x) for s, v in universe.items() for x in v["splits"] if v["active"] and "2025-01-01" < x["date"]
    ]
    require(bool(split), "no split in the window for this seed")
    symbol, s = split[-1]
    day = date.fromisoformat(s["date"])
    result = _yahoo(sb, symbol, date(2025, 1, 1), date(2026, 11, 25), events="div,splits").json()["chart"][
        "result"
    ][0]
    events = list(result["events"]["splits"].values())
    assert {"date": events[-1]["date"], "numerator": s["numerator"], "denominator": s["denominator"]} == {
        k: events[-1][k] for k in ("date", "numerator", "denominator")
    }
    assert datetime.fromtimestamp(events[-1]["date"], NY).date() == day
    closes = dict(zip(result["timestamp"], result["indicators"]["quote"][0]["close"], strict=True))
    k = result["timestamp"].index(events[-1]["date"])
    before, after = closes[result["timestamp"][k - 1]], closes[result["timestamp"][k]]
    assert 0.7 < before / after < 1.4  # no jump: Yahoo's close is split-adjusted


# -- one market behind every provider ---------------------------------------------------------------------


def test_the_providers_agree_on_a_bar(sb, plain):
    day = date(2026, 11, 24)
    polygon = get(
        sb, "polygon", f"/v2/aggs/ticker/{plain}/range/1/day/{day}/{day}", adjusted="false", apiKey=KEY
    )
    bar = polygon.json()["results"][0]
    av = get(sb, "alphavantage", "/query", function="TIME_SERIES_DAILY", symbol=plain, apikey=KEY).json()
    row = av["Time Series (Daily)"][str(day)]
    assert float(row["4. close"]) == pytest.approx(bar["c"]) and int(row["5. volume"]) == bar["v"]
    yahoo = _yahoo(sb, plain, day, day).json()["chart"]["result"][0]["indicators"]["quote"][0]
    assert yahoo["close"][0] == pytest.approx(bar["c"], rel=1e-6)  # float32 noise only
    grouped = get(sb, "polygon", f"/v2/aggs/grouped/locale/us/market/stocks/{day}", apiKey=KEY).json()
    assert next(b for b in grouped["results"] if b["T"] == plain)["c"] == bar["c"]
    finnhub = get(sb, "finnhub", "/quote", symbol=plain, token=KEY).json()
    assert finnhub["pc"] == bar["c"]


def test_unadjusted_vs_adjusted_around_a_split(sb, universe):
    split = [
        (s, x)
        for s, v in universe.items()
        for x in v["splits"]
        if v["active"] and "2026-01-01" < x["date"] < "2026-11-20"
    ]
    require(bool(split), "no split in 2026 for this seed")
    symbol, s = split[0]
    ratio = s["numerator"] / s["denominator"]
    path = f"/v2/aggs/ticker/{symbol}/range/1/day/2025-12-01/2026-11-24"
    raw = get(sb, "polygon", path, adjusted="false", apiKey=KEY).json()["results"]
    adj = get(sb, "polygon", path, adjusted="true", apiKey=KEY).json()["results"]
    k = next(
        i
        for i, b in enumerate(raw)
        if datetime.fromtimestamp(b["t"] / 1000, UTC).date().isoformat() >= s["date"]
    )
    assert raw[k - 1]["c"] / raw[k]["c"] == pytest.approx(ratio, rel=0.35)
    assert adj[k - 1]["c"] == pytest.approx(raw[k - 1]["c"] / ratio, rel=1e-3)
    assert adj[k]["c"] == pytest.approx(raw[k]["c"], rel=1e-6)
