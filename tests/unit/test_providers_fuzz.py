"""Fuzzing every provider endpoint end to end: whatever a provider answers, the client returns a classified
outcome, never an exception, and every record it returns passes validation and fits the storage columns.

Each endpoint's client (the real one, with a real ``Limiter`` on the private Redis) calls a local HTTP
server (``tests/canned.py``) that answers what Hypothesis draws: a status (200 mostly, 4xx, 5xx, anything),
sometimes a ``Retry-After``, and a body that is either arbitrary JSON or text, or the endpoint's own shape
with every field drawn from nasty values: huge, negative, NaN/inf and number-looking strings; dates of any
shape (``9999-12-31`` included); text of any length with control characters and lone surrogates. After
each example the provider's throttle block is lifted, so a 429 does not turn every later answer into
DEFERRED.

``storage.rows.fit`` is the storage side's own judgement (the bounds of ``storage/models.py``): a record
it would refuse is one storage cannot hold. Text longer than a column is allowed (fit cuts it); a value fit
would refuse is not.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import ratelimits
from providers import CLIENTS, FetchResult, Outcome, ProviderConfig
from providers.records import DailyBar, Quote, SymbolInfo
from providers.validation import record_problem
from storage.rows import fit
from storage.writes import BARS, QUOTES, SYMBOLS
from tests.canned import canned_server

pytestmark = pytest.mark.redis

SPECS = {DailyBar: BARS, Quote: QUOTES, SymbolInfo: SYMBOLS}
START, END = date(2026, 11, 2), date(2026, 11, 25)
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def server():
    with canned_server() as httpd:
        yield httpd


@pytest.fixture
def clients(server, redis_client):
    """Every provider's real client against the canned server, with a real limiter that never waits."""
    limiter = ratelimits.Limiter(redis_client, guard=0.0)
    policy = ratelimits.parse_policy("1000000/second")
    base = server.url
    built = {}
    for name, cls in CLIENTS.items():
        config = ProviderConfig(name, base, "" if name == "yahoo" else "FUZZKEY123", read_timeout=5.0)
        built[name] = cls(config, requests.Session(), limiter, policy, max_wait=1.0)
    return built, limiter


ENDPOINTS = {
    "finnhub.quote": ("finnhub", lambda c: c.quote("AAPL")),
    "finnhub.symbols": ("finnhub", lambda c: c.symbols()),
    "polygon.grouped_daily": ("polygon", lambda c: c.grouped_daily(END)),
    "polygon.daily_range": ("polygon", lambda c: c.daily_range("AAPL", START, END)),
    "polygon.previous_close": ("polygon", lambda c: c.previous_close("AAPL")),
    "polygon.tickers": ("polygon", lambda c: c.tickers(max_pages=2)),
    "alphavantage.daily": ("alphavantage", lambda c: c.daily("IBM")),
    "alphavantage.global_quote": ("alphavantage", lambda c: c.global_quote("IBM")),
    "alphavantage.listing_status": ("alphavantage", lambda c: c.listing_status()),
    "yahoo.daily_history": ("yahoo", lambda c: c.daily_history("AAPL", START, END)),
}


def check(server, clients, endpoint: str, status: int, headers: dict[str, str], body: str) -> FetchResult:
    """Serve the answer to ``endpoint``'s call; the result must be classified and its records storable."""
    built, limiter = clients
    provider, call = ENDPOINTS[endpoint]
    server.serve(body, status, headers)
    try:
        result = call(built[provider])
    finally:
        limiter.unblock(provider)
    assert isinstance(result, FetchResult) and isinstance(result.outcome, Outcome)
    assert result.outcome is Outcome.OK or not result.records or result.cursor is not None
    for record in result.records:
        assert record_problem(record) is None, record
        fitted = fit(SPECS[type(record)], [record])
        assert fitted.refused == [], (record, fitted.refused)
    return result


# -- what answers are made of ------------------------------------------------------------------------------

NASTY_TEXT = st.text(st.characters(exclude_categories=()), max_size=40) | st.sampled_from(
    ["", " ", "\x00", "A\x00B", "\ud800", "x" * 300, "é" * 256, "Apple\u2028Inc", "null", "NaN"]
)
NUMBER_TEXT = st.sampled_from(
    ["1e999", "-1e999", "NaN", "Infinity", "-0", "0x10", "1_000", " 12 ", "12%", "1" * 500, "1e-400", "", "."]
) | st.from_regex(r"\A-?[0-9]{1,25}(\.[0-9]{0,25})?([eE][+-]?[0-9]{1,4})?\Z")
NUMBERS = (
    st.integers(min_value=-(10**30), max_value=10**30)
    | st.sampled_from([10**400, -(10**400), 2**63, 0, -1, 1e308, 5e-324])
    | st.floats(allow_nan=True, allow_infinity=True)
    | NUMBER_TEXT
)
DAYS = (
    st.dates().map(date.isoformat)
    | st.sampled_from(
        ["9999-12-31", "0001-01-01", "2026-02-30", "2026-11-25", "20261125", "2026-W47-3", "yesterday"]
    )
    | NASTY_TEXT
)
EPOCHS = NUMBERS | st.sampled_from([1786132800000, 253402300799000, -62135596800000, 1e30, 1764104400])
SCALARS = st.none() | st.booleans() | NUMBERS | NASTY_TEXT | DAYS
ANY_JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(NASTY_TEXT, inner, max_size=4),
    max_leaves=20,
)
# Final statuses with a body (1xx are not answers; 204 and 304 have no body by definition).
STATUSES = st.sampled_from([200] * 6 + [400, 401, 403, 404, 408, 429, 500, 503]) | st.integers(
    200, 599
).filter(lambda s: s not in (204, 304))
HEADERS = st.just({}) | st.fixed_dictionaries(
    {"Retry-After": st.sampled_from(["5", "-3", "1e999", "NaN", "Fri, 31 Dec 9999 23:59:59 GMT", "soon"])}
)
SYMBOLS_IN = st.sampled_from(["AAPL", "BRK.B", "BRK-B", "aapl", "", "TOOLONGSYMBOL", "A" * 40]) | NASTY_TEXT


def _json(value: object) -> str:
    return json.dumps(value, allow_nan=True)


def _maybe(value_strategy, keys: tuple[str, ...]):
    """Objects with each of ``keys`` present or not, each value drawn from ``value_strategy``."""
    return st.fixed_dictionaries({}, optional={k: value_strategy for k in keys})


BODIES = {
    "finnhub.quote": _maybe(NUMBERS | st.none(), ("c", "d", "dp", "h", "l", "o", "pc"))
    .flatmap(lambda d: st.builds(lambda t: {**d, "t": t}, EPOCHS))
    .map(_json),
    "finnhub.symbols": st.lists(
        st.fixed_dictionaries(
            {"symbol": SYMBOLS_IN},
            optional={k: NASTY_TEXT for k in ("description", "mic", "type", "currency")},
        ),
        max_size=5,
    ).map(_json),
    "polygon.bars": st.builds(
        lambda rows, adjusted: {"status": "OK", "adjusted": adjusted, "results": rows},
        st.lists(
            st.fixed_dictionaries(
                {"T": SYMBOLS_IN, "t": EPOCHS}, optional={k: NUMBERS for k in "ohlcv"} | {"vw": NUMBERS}
            ),
            max_size=5,
        ),
        SCALARS,
    ).map(_json),
    "polygon.tickers": st.builds(
        lambda rows: {"status": "OK", "results": rows},
        st.lists(
            st.fixed_dictionaries(
                {"ticker": SYMBOLS_IN},
                optional={
                    "name": NASTY_TEXT,
                    "primary_exchange": NASTY_TEXT,
                    "type": NASTY_TEXT,
                    "currency_name": NASTY_TEXT,
                    "active": SCALARS,
                },
            ),  # fmt: skip
            max_size=5,
        ),
    ).map(_json),
    "alphavantage.daily": st.dictionaries(
        DAYS, _maybe(NUMBERS, ("1. open", "2. high", "3. low", "4. close", "5. volume")), max_size=5
    ).map(lambda series: _json({"Meta Data": {}, "Time Series (Daily)": series})),
    "alphavantage.global_quote": st.builds(
        lambda fields, day: {"Global Quote": {**fields, "07. latest trading day": day}},
        _maybe(
            NUMBERS,
            (
                "02. open",
                "03. high",
                "04. low",
                "05. price",
                "08. previous close",
                "09. change",
                "10. change percent",
            ),
        ),  # fmt: skip
        DAYS,
    ).map(_json),
    "alphavantage.listing_status": st.lists(
        st.lists(NASTY_TEXT.filter(lambda t: "\r" not in t), min_size=5, max_size=8), max_size=5
    ).map(
        lambda rows: (
            "symbol,name,exchange,assetType,ipoDate,delistingDate,status\r\n"
            + "".join(
                ",".join(json.dumps(c) if c and c[0] in '",' else c for c in row) + "\r\n" for row in rows
            )
        )
    ),
    "yahoo.daily_history": st.integers(0, 4)
    .flatmap(
        lambda n: st.fixed_dictionaries(
            {
                "timestamp": st.lists(EPOCHS, min_size=n, max_size=n),
                "indicators": st.fixed_dictionaries(
                    {
                        "quote": st.tuples(
                            st.fixed_dictionaries(
                                {
                                    k: st.lists(NUMBERS | st.none(), min_size=n, max_size=n)
                                    for k in ("open", "high", "low", "close", "volume")
                                }
                            )
                        )
                    }  # fmt: skip
                ),
            }
        )
    )
    .map(lambda result: _json({"chart": {"result": [result], "error": None}})),
}
BODIES |= {
    "polygon.grouped_daily": BODIES["polygon.bars"],
    "polygon.daily_range": BODIES["polygon.bars"],
    "polygon.previous_close": BODIES["polygon.bars"],
}
ANY_BODY = ANY_JSON.map(_json) | st.text(st.characters(exclude_categories=()), max_size=200)

# Answers that broke the parsers before they were guarded (all but the deep JSON raised out of the client).
AV_9999 = _json({"Meta Data": {}, "Time Series (Daily)": {"9999-12-31": {
    "1. open": "1", "2. high": "1", "3. low": "1", "4. close": "1", "5. volume": "1"}}})  # fmt: skip
AV_QUOTE_9999 = _json({"Global Quote": {"02. open": "1", "03. high": "1", "04. low": "1", "05. price": "1",
                                        "08. previous close": "1", "07. latest trading day": "9999-12-31"}})  # fmt: skip
HUGE_PRICE = '{"c": 1' + "0" * 400 + ', "h": 1, "l": 1, "o": 1, "pc": 1, "t": 1764104400}'


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
@FUZZ
@given(status=STATUSES, headers=HEADERS, body=st.data())
def test_any_answer_ends_in_a_classified_outcome_with_storable_records(server, clients, endpoint, status, headers,
                                                                        body):  # fmt: skip
    shaped = body.draw(BODIES[endpoint] | ANY_BODY, label="body")
    check(server, clients, endpoint, status, headers, shaped)


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("alphavantage.daily", AV_9999),
        ("alphavantage.global_quote", AV_QUOTE_9999),
        ("finnhub.quote", HUGE_PRICE),
        ("polygon.grouped_daily", '{"status": "OK", "results": [{"T": "A", "t": 1' + "0" * 400 + "}]}"),
        (
            "yahoo.daily_history",
            '{"chart": {"result": [{"timestamp": [1' + "0" * 400 + '], "indicators": {"quote": '
            '[{"open": [1], "high": [1], "low": [1], "close": [1], "volume": [1]}]}}]}}',
        ),
        ("alphavantage.listing_status", "symbol,status\r\n" + "A" * 200_000 + ",Active\r\n"),
        ("finnhub.symbols", "[" * 100_000 + "]" * 100_000),
    ],
    ids=[
        "av-9999-12-31",
        "av-quote-9999-12-31",
        "huge-price",
        "huge-stamp",
        "yahoo-huge-stamp",
        "csv-field-too-large",
        "deep-json",
    ],  # fmt: skip
)
def test_answers_that_broke_the_parsers_are_bad_data(server, clients, endpoint, body):
    result = check(server, clients, endpoint, 200, {}, body)
    assert result.outcome is Outcome.BAD_DATA and not result.records, result


@FUZZ
@given(description=st.text(st.characters(exclude_categories=()), min_size=256, max_size=2000))
@example(description="x" * 300)
def test_a_long_finnhub_description_is_cut_to_its_column_not_refused(server, clients, description):
    body = _json([{"symbol": "AAPL", "description": description, "mic": "XNAS", "currency": "USD"}])
    result = check(server, clients, "finnhub.symbols", 200, {}, body)
    (info,) = result.records
    fitted = fit(SYMBOLS, [info])
    assert len(fitted.rows[0].get("name") or "") <= 255
