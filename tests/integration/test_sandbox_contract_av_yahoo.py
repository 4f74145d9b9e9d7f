"""Contract tests, Alpha Vantage and Yahoo, and one market behind all four providers (see
test_sandbox_contract.py for the server: free plan rules, no limits, clock frozen at 2026-11-25 17:00 ET).

Expected keys and texts are copied from docs/providers.md (Provider facts), never from the sandbox's own output.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.conftest import require

NY = ZoneInfo("America/New_York")
KEY = "good-key"  # valid on sandbox_contract

# -- documented bodies (docs/providers.md) --------------------------------------------------------------------
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


def get(sb, provider: str, path: str, **params) -> requests.Response:
    return requests.get(sb.base_urls[provider] + path, params=params, timeout=30)


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


def test_av_listing_status_csv(sb, contract_universe):
    for state, status in (("active", "Active"), ("delisted", "Delisted")):
        r = get(sb, "alphavantage", "/query", function="LISTING_STATUS", state=state, apikey=KEY)
        rows = list(csv.reader(io.StringIO(r.text)))
        assert r.status_code == 200 and rows[0] == AV_LISTING_HEADER
        assert {row[6] for row in rows[1:]} == {status}
        assert {row[0] for row in rows[1:]} == {
            s for s, v in contract_universe.items() if v["active"] == (state == "active")
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


def test_yahoo_unknown_and_delisted_symbols_are_404(sb, contract_universe):
    gone = next(s for s, v in contract_universe.items() if not v["active"])
    for symbol in ("ZZZZZZ", gone):
        r = _yahoo(sb, symbol, date(2026, 10, 1), date(2026, 11, 25))
        assert (r.status_code, r.json()) == (404, YAHOO_NOT_FOUND)


def test_yahoo_halted_session_is_null(sb, contract_universe):
    halted = [
        (s, h)
        for s, v in contract_universe.items()
        for h in v["halts"]
        if v["active"] and "2025-01-01" < h["first"]
    ]
    require(bool(halted), "no halt in the window for this seed")
    symbol, halt = halted[0]
    first, last = date.fromisoformat(halt["first"]), date.fromisoformat(halt["last"])
    result = _yahoo(sb, symbol, first, last).json()["chart"]["result"][0]
    if "timestamp" in result:  # a halt over a weekend only has no session to show
        assert set(result["indicators"]["quote"][0]["close"]) == {None}


def test_yahoo_splits_are_events_and_prices_are_split_adjusted(sb, contract_universe):
    split = [
        (s, x)
        for s, v in contract_universe.items()
        for x in v["splits"]
        if v["active"] and "2025-01-01" < x["date"]
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


def test_unadjusted_vs_adjusted_around_a_split(sb, contract_universe):
    split = [
        (s, x)
        for s, v in contract_universe.items()
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
