"""Every error and success body of docs/providers.md (Provider facts), copied here, mapped to exactly one outcome."""

from __future__ import annotations

import pytest

from providers import alphavantage, finnhub, polygon, yahoo
from providers.results import Outcome

OK, THR, QEX, NEN, NF, TR, BAD, CFG = (
    Outcome.OK,
    Outcome.THROTTLED,
    Outcome.QUOTA_EXHAUSTED,
    Outcome.NOT_ENTITLED,
    Outcome.NOT_FOUND,
    Outcome.TRANSIENT,
    Outcome.BAD_DATA,
    Outcome.CONFIG_ERROR,
)

FINNHUB = [
    # (id, status, headers, body, outcome, retry_after)
    (
        "limit",
        429,
        {},
        '{"error":"API limit reached. Please try again later. Remaining Limit: 0"}',
        THR,
        None,
    ),
    (
        "limit-retry-after",
        429,
        {"Retry-After": "7"},
        '{"error":"API limit reached. Please try again later. Remaining Limit: 0"}',
        THR,
        7.0,
    ),
    (
        "no-token-text",
        429,
        {},
        "API limit reached. Please sign up for a free account to continue using the API.",
        CFG,
        None,
    ),
    (
        "no-token-json",
        429,
        {},
        '{"error":"API limit reached. Please sign up for a free account to continue using the API."}',
        CFG,
        None,
    ),
    (
        "quote",
        200,
        {},
        '{"c":261.74,"d":2.29,"dp":0.88,"h":263.31,"l":260.68,"o":261.07,"pc":259.45,"t":1582641000}',
        OK,
        None,
    ),
    ("unknown-symbol", 200, {}, '{"c":0,"d":null,"dp":null,"h":0,"l":0,"o":0,"pc":0,"t":0}', NF, None),
    (
        "symbols",
        200,
        {},
        '[{"currency":"USD","description":"APPLE INC","displaySymbol":"AAPL","figi":"BBG000B9XRY4",'
        '"mic":"XNAS","symbol":"AAPL","type":"Common Stock"}]',
        OK,
        None,
    ),
    ("candle-premium", 403, {}, '{"error":"You don\'t have access to this resource."}', NEN, None),
    ("bad-key", 401, {}, '{"error":"Invalid API key"}', CFG, None),
    ("server-error", 502, {}, "<html>Bad Gateway</html>", TR, None),
    ("garbage", 200, {}, '{"c":261.7', BAD, None),
    ("html", 200, {}, "<html><body>maintenance</body></html>", BAD, None),
    ("unexpected-4xx", 422, {}, '{"error":"Wrong resolution"}', BAD, None),
]

POLYGON_LIMIT = (
    '{"status":"ERROR","request_id":"a1b2","error":"You\'ve exceeded the maximum requests per minute, please wait '
    'or upgrade your subscription to continue. https://polygon.io/pricing"}'
)
POLYGON = [
    ("limit", 429, {}, POLYGON_LIMIT, THR, None),
    ("limit-empty", 429, {}, "", THR, None),
    ("limit-retry-after", 429, {"retry-after": "12"}, POLYGON_LIMIT, THR, 12.0),
    (
        "not-entitled",
        403,
        {},
        '{"status":"NOT_AUTHORIZED","request_id":"a1b2","message":"You are not entitled to this data. '
        'Please upgrade your plan at https://massive.com/pricing"}',
        NEN,
        None,
    ),
    (
        "today-before-eod",
        403,
        {},
        '{"status":"NOT_AUTHORIZED","request_id":"a1b2","message":"Attempted to request today\'s data before '
        'end of day. Please upgrade your plan at https://massive.com/pricing"}',
        NEN,
        None,
    ),
    (
        "older-than-2-years",
        403,
        {},
        '{"status":"NOT_AUTHORIZED","request_id":"a1b2","message":"Your plan doesn\'t include this data '
        'timeframe. Please upgrade your plan at https://massive.com/pricing"}',
        NEN,
        None,
    ),
    ("bad-key-error", 401, {}, '{"status":"ERROR","request_id":"a1b2","error":"Unknown API Key"}', CFG, None),
    (
        "bad-key-message",
        401,
        {},
        '{"status":"ERROR","request_id":"a1b2","message":"Unknown API Key"}',
        CFG,
        None,
    ),
    (
        "grouped",
        200,
        {},
        '{"adjusted":true,"queryCount":12414,"resultsCount":12414,"status":"OK","request_id":"a1b2","results":'
        '[{"T":"XLRE","o":44.83,"h":45.255,"l":44.71,"c":44.98,"v":3863635.4,"vw":44.9929,"t":1786132800000,'
        '"n":26295}]}',
        OK,
        None,
    ),
    ("grouped-holiday", 200, {}, '{"status":"OK","queryCount":0,"resultsCount":0,"adjusted":true}', OK, None),
    (
        "range",
        200,
        {},
        '{"ticker":"AAPL","queryCount":1,"resultsCount":1,"adjusted":true,"results":[{"v":70790813,"vw":131.6292,'
        '"o":130.465,"c":130.15,"h":133.41,"l":129.89,"t":1673240400000,"n":645365}],"status":"OK",'
        '"request_id":"a1b2","count":1}',
        OK,
        None,
    ),
    (
        "not-found-404",
        404,
        {},
        '{"status":"NOT_FOUND","request_id":"a1b2","message":"Data not found."}',
        NF,
        None,
    ),
    ("server-error", 503, {}, "", TR, None),
    ("garbage", 200, {}, "\x00\x01garbage", BAD, None),
    ("truncated", 200, {}, '{"status":"OK","results":[{"T":"A"', BAD, None),
]

AV_DAILY_CAP = (
    '{"Information": "We have detected your API key as SECRETKEY1234567890 and our standard API rate limit is '
    "25 requests per day. Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ "
    'to instantly remove all daily rate limits."}'
)
ALPHAVANTAGE = [
    ("daily-cap", 200, {}, AV_DAILY_CAP, QEX, None),
    (
        "daily-cap-variant",
        200,
        {},
        '{"Information": "Thank you for using Alpha Vantage! Our standard API rate limit is 25 requests per day. '
        "Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly remove "
        'all daily rate limits."}',
        QEX,
        None,
    ),
    (
        "burst",
        200,
        {},
        '{"Information": "Thank you for using Alpha Vantage! Please consider spreading out your free API requests '
        "more sparingly (1 request per second). You may subscribe to any of the premium plans at "
        "https://www.alphavantage.co/premium/ to lift the free key rate limit (25 requests per day) and instantly "
        'unlock all premium endpoints"}',
        THR,
        1.0,
    ),
    (
        "legacy-note",
        200,
        {},
        '{"Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and '
        "500 calls per day. Please visit https://www.alphavantage.co/premium/ if you would like to target a "
        'higher API call frequency."}',
        THR,
        60.0,
    ),
    (
        "premium",
        200,
        {},
        '{"Information": "Thank you for using Alpha Vantage! This is a premium endpoint. You may subscribe to any '
        'of the premium plans at https://www.alphavantage.co/premium/ to instantly unlock all premium endpoints"}',
        NEN,
        None,
    ),
    (
        "bad-symbol",
        200,
        {},
        '{"Error Message": "Invalid API call. Please retry or visit the documentation '
        '(https://www.alphavantage.co/documentation/) for TIME_SERIES_DAILY."}',
        NF,
        None,
    ),
    (
        "bad-key",
        200,
        {},
        '{"Error Message": "the parameter apikey is invalid or missing. Please claim your free API key on '
        '(https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds."}',
        CFG,
        None,
    ),
    (
        "daily",
        200,
        {},
        '{"Meta Data":{"1. Information":"Daily Prices (open, high, low, close) and Volumes","2. Symbol":"IBM",'
        '"3. Last Refreshed":"2024-11-01","4. Output Size":"Compact","5. Time Zone":"US/Eastern"},'
        '"Time Series (Daily)":{"2024-11-01":{"1. open":"207.0000","2. high":"208.3500","3. low":"205.5000",'
        '"4. close":"206.0000","5. volume":"3324851"}}}',
        OK,
        None,
    ),
    (
        "global-quote",
        200,
        {},
        '{"Global Quote":{"01. symbol":"IBM","02. open":"207.0000","03. high":"208.3500","04. low":"205.5000",'
        '"05. price":"206.0000","06. volume":"3324851","07. latest trading day":"2024-11-01",'
        '"08. previous close":"207.5400","09. change":"-1.5400","10. change percent":"-0.7438%"}}',
        OK,
        None,
    ),
    ("global-quote-unknown", 200, {}, '{"Global Quote":{}}', NF, None),
    ("garbage", 200, {}, "<html>oops", BAD, None),
    ("server-error", 500, {}, "Internal Server Error", TR, None),
]

YAHOO_CHART = (
    '{"chart":{"result":[{"meta":{"symbol":"AAPL"},"timestamp":[1730467800],"indicators":{"quote":[{"open":[220.9],'
    '"high":[225.3],"low":[220.3],"close":[222.9],"volume":[65276700]}],"adjclose":[{"adjclose":[222.6]}]},'
    '"events":{"splits":{},"dividends":{}}}],"error":null}}'
)
YAHOO = [
    ("too-many", 429, {}, "Too Many Requests", THR, 600.0),
    ("edge-too-many", 429, {}, "Edge: Too Many Requests", THR, 600.0),
    ("too-many-long-retry-after", 429, {"Retry-After": "1800"}, "Too Many Requests", THR, 1800.0),
    ("chart", 200, {}, YAHOO_CHART, OK, None),
    (
        "unknown-symbol",
        404,
        {},
        '{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}',
        NF,
        None,
    ),
    (
        "invalid-crumb",
        401,
        {},
        '{"finance":{"result":null,"error":{"code":"Unauthorized","description":"Invalid Crumb"}}}',
        CFG,
        None,
    ),
    ("server-error", 500, {}, "", TR, None),
    ("garbage", 200, {}, '{"chart":{"result":[{"timestamp":[1', BAD, None),
]


def _ids(table):
    return [row[0] for row in table]


@pytest.mark.parametrize(
    ("name", "status", "headers", "body", "outcome", "retry"), FINNHUB, ids=_ids(FINNHUB)
)
def test_finnhub(name, status, headers, body, outcome, retry):
    verdict = finnhub.classify(status, headers, body)
    assert (verdict.outcome, verdict.retry_after) == (outcome, retry)
    assert verdict.message.startswith("finnhub")


@pytest.mark.parametrize(
    ("name", "status", "headers", "body", "outcome", "retry"), POLYGON, ids=_ids(POLYGON)
)
def test_polygon(name, status, headers, body, outcome, retry):
    verdict = polygon.classify(status, headers, body)
    assert (verdict.outcome, verdict.retry_after) == (outcome, retry)


@pytest.mark.parametrize(
    ("name", "status", "headers", "body", "outcome", "retry"), ALPHAVANTAGE, ids=_ids(ALPHAVANTAGE)
)
def test_alphavantage(name, status, headers, body, outcome, retry):
    verdict = alphavantage.classify(status, headers, body)
    assert (verdict.outcome, verdict.retry_after) == (outcome, retry)


@pytest.mark.parametrize(("name", "status", "headers", "body", "outcome", "retry"), YAHOO, ids=_ids(YAHOO))
def test_yahoo(name, status, headers, body, outcome, retry):
    verdict = yahoo.classify(status, headers, body)
    assert (verdict.outcome, verdict.retry_after) == (outcome, retry)


@pytest.mark.parametrize(
    ("message_part", "body"),
    [
        ("before the end of day", POLYGON[4][3]),
        ("older than", POLYGON[5][3]),
        ("not entitled", POLYGON[3][3]),
    ],
)
def test_polygon_403_messages_say_which_refusal(message_part, body):
    assert message_part in polygon.classify(403, {}, body).message


@pytest.mark.parametrize(
    ("body", "csv_expected", "outcome"),
    [
        (
            "symbol,name,exchange,assetType,ipoDate,delistingDate,status\nA,Agilent,NYSE,Stock,1999-11-18,null,Active\n",
            True,
            OK,
        ),
        ("symbol,name,exchange,assetType,ipoDate,delistingDate,status\n", False, BAD),
        (AV_DAILY_CAP, True, QEX),
        ('{"Meta Data":{}}', True, BAD),
        ("", True, BAD),
    ],
    ids=["csv-listing", "csv-where-json-expected", "cap-on-csv-endpoint", "json-where-csv-expected", "empty"],
)
def test_alphavantage_csv_endpoint(body, csv_expected, outcome):
    assert alphavantage.classify(200, {}, body, csv_expected=csv_expected).outcome is outcome


def test_alphavantage_daily_cap_message_hides_the_echoed_key():
    verdict = alphavantage.classify(200, {}, AV_DAILY_CAP)
    assert "SECRETKEY1234567890" not in verdict.message
    assert "25 requests per day" in verdict.message


def test_yahoo_block_is_configurable():
    assert yahoo.classify(429, {}, "Too Many Requests", block_seconds=120.0).retry_after == 120.0


@pytest.mark.parametrize(
    ("headers", "now", "expected"),
    [
        ({"Retry-After": "30"}, None, 30.0),
        ({"retry-after": " 2.5 "}, None, 2.5),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT"}, 1445412480.0, 30.0),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 1445412480.0 + 10, 0.0),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT"}, None, None),
        ({"Retry-After": "soon"}, 0.0, None),
        ({"Retry-After": "-5"}, None, 0.0),
        ({}, None, None),
    ],
)
def test_retry_after_header(headers, now, expected):
    from providers.wire import retry_after

    assert retry_after(headers, now) == expected
