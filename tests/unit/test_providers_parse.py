"""Documented success bodies (docs/providers.md) parse into the records they describe; broken ones raise BadBody."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import pytest

from providers import alphavantage, finnhub, polygon, yahoo
from providers.records import DailyBar, Quote, SymbolInfo
from providers.validation import keep_valid
from providers.wire import BadBody

AT = datetime(2026, 8, 10, 12, 0, tzinfo=UTC)


def test_finnhub_quote():
    body = '{"c":261.74,"d":2.29,"dp":0.88,"h":263.31,"l":260.68,"o":261.07,"pc":259.45,"t":1582641000}'
    (quote,) = finnhub.parse_quote(body, "AAPL", AT).records
    assert quote == Quote(
        symbol="AAPL",
        price=261.74,
        change=2.29,
        change_pct=0.88,
        open=261.07,
        high=263.31,
        low=260.68,
        prev_close=259.45,
        at=datetime(2020, 2, 25, 14, 30, tzinfo=UTC),
        source="finnhub",
        fetched_at=AT,
    )


def test_finnhub_symbols_keeps_accepted_forms_and_counts_the_rest():
    body = (
        '[{"currency":"USD","description":"APPLE INC","displaySymbol":"AAPL","figi":"BBG000B9XRY4","mic":"XNAS",'
        '"symbol":"AAPL","type":"Common Stock"},'
        '{"currency":"USD","description":"BERKSHIRE HATHAWAY INC-CL B","displaySymbol":"BRK.B","figi":"x",'
        '"mic":"XNYS","symbol":"BRK.B","type":"Common Stock"},'
        '{"currency":"USD","description":"SOME OTC PREF","displaySymbol":"ABCD.PRA","figi":"y","mic":"OOTC",'
        '"symbol":"ABCD.PRA","type":"Preference"}, 42]'
    )
    parsed = finnhub.parse_symbols(body, AT)
    assert [s.symbol for s in parsed.records] == ["AAPL", "BRK.B"]
    assert parsed.dropped == 2
    assert parsed.records[0] == SymbolInfo(
        "AAPL", "APPLE INC", "XNAS", "Common Stock", "USD", True, "finnhub"
    )


GROUPED = (
    '{"adjusted":true,"queryCount":12414,"resultsCount":12414,"status":"OK","request_id":"r","results":'
    '[{"T":"XLRE","o":44.83,"h":45.255,"l":44.71,"c":44.98,"v":3863635.4,"vw":44.9929,"t":1786132800000,"n":26295},'
    '{"T":"ABRpD","o":20.1,"h":20.2,"l":20.0,"c":20.1,"v":100,"vw":20.1,"t":1786132800000,"n":3}]}'
)


def test_polygon_grouped_daily_is_stamped_16_et_and_dated_in_et():
    parsed = polygon.parse_bars(GROUPED, AT)
    assert parsed.dropped == 1  # "ABRpD" is not an accepted ticker form
    assert parsed.records == (
        DailyBar(
            "XLRE", date(2026, 8, 7), 44.83, 45.255, 44.71, 44.98, 3863635.4, 44.9929, True, "polygon", AT
        ),
    )


def test_polygon_range_is_stamped_00_et_and_dated_in_et():
    body = (
        '{"ticker":"AAPL","queryCount":1,"resultsCount":1,"adjusted":true,"results":[{"v":70790813,"vw":131.6292,'
        '"o":130.465,"c":130.15,"h":133.41,"l":129.89,"t":1673240400000,"n":645365}],"status":"OK",'
        '"request_id":"r","count":1,"next_url":"https://api.polygon.io/v2/aggs/ticker/AAPL/range/1/day/x?cursor=c"}'
    )
    parsed = polygon.parse_bars(body, AT, "AAPL")
    (bar,) = parsed.records
    assert (bar.symbol, bar.day, bar.volume, bar.vwap) == ("AAPL", date(2023, 1, 9), 70790813.0, 131.6292)
    assert parsed.cursor == "https://api.polygon.io/v2/aggs/ticker/AAPL/range/1/day/x?cursor=c"


def test_polygon_previous_close_and_holiday():
    prev = (
        '{"ticker":"AAPL","queryCount":1,"resultsCount":1,"adjusted":false,"results":[{"T":"AAPL","v":1000,'
        '"vw":10.5,"o":10,"c":11,"h":11.5,"l":9.5,"t":1786132800000,"n":9}],"status":"OK","request_id":"r"}'
    )
    (bar,) = polygon.parse_bars(prev, AT, "AAPL").records
    assert (bar.day, bar.close, bar.adjusted) == (date(2026, 8, 7), 11.0, False)
    assert (
        polygon.parse_bars('{"status":"OK","queryCount":0,"resultsCount":0,"adjusted":true}', AT).records
        == ()
    )


def test_polygon_tickers_page():
    body = (
        '{"results":[{"ticker":"A","name":"Agilent Technologies Inc.","market":"stocks","locale":"us",'
        '"primary_exchange":"XNYS","type":"CS","active":true,"currency_name":"usd","cik":"0001090872"},'
        '{"ticker":"ABRpD","name":"Arbor pref","type":"PFD","active":true}],"status":"OK","request_id":"r",'
        '"count":2,"next_url":"https://api.polygon.io/v3/reference/tickers?cursor=YWN0aXZl"}'
    )
    parsed = polygon.parse_tickers(body, AT)
    assert parsed.records == (
        SymbolInfo("A", "Agilent Technologies Inc.", "XNYS", "CS", "USD", True, "polygon"),
    )
    assert (parsed.dropped, parsed.cursor) == (
        1,
        "https://api.polygon.io/v3/reference/tickers?cursor=YWN0aXZl",
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://api.polygon.io/v3/reference/tickers?cursor=abc",
            "https://api.polygon.io/v3/reference/tickers?cursor=abc",
        ),
        ("https://api.polygon.io/v3/x?cursor=abc&apiKey=SECRET", "https://api.polygon.io/v3/x?cursor=abc"),
        ("https://api.polygon.io/v3/x?APIKEY=SECRET", "https://api.polygon.io/v3/x"),
    ],
)
def test_polygon_next_url_loses_any_key(url, expected):
    assert polygon.strip_key(url) == expected


AV_DAILY = (
    '{"Meta Data":{"1. Information":"Daily Prices (open, high, low, close) and Volumes","2. Symbol":"IBM",'
    '"3. Last Refreshed":"2024-11-01","4. Output Size":"Compact","5. Time Zone":"US/Eastern"},'
    '"Time Series (Daily)":{"2024-11-01":{"1. open":"207.0000","2. high":"208.3500","3. low":"205.5000",'
    '"4. close":"206.0000","5. volume":"3324851"},"2024-10-31":{"1. open":"210.5000","2. high":"211.0000",'
    '"3. low":"206.2000","4. close":"206.7200","5. volume":"5510290"}}}'
)


def test_alphavantage_daily_numbers_are_strings_and_prices_raw():
    parsed = alphavantage.parse_daily(AV_DAILY, "IBM", AT)
    assert [b.day for b in parsed.records] == [date(2024, 10, 31), date(2024, 11, 1)]
    last = parsed.records[-1]
    assert (last.open, last.high, last.low, last.close, last.volume) == (
        207.0,
        208.35,
        205.5,
        206.0,
        3324851.0,
    )
    assert (last.adjusted, last.vwap, last.source) == (False, None, "alphavantage")


def test_alphavantage_global_quote():
    body = (
        '{"Global Quote":{"01. symbol":"IBM","02. open":"207.0000","03. high":"208.3500","04. low":"205.5000",'
        '"05. price":"206.0000","06. volume":"3324851","07. latest trading day":"2024-11-01",'
        '"08. previous close":"207.5400","09. change":"-1.5400","10. change percent":"-0.7438%"}}'
    )
    (quote,) = alphavantage.parse_global_quote(body, "IBM", AT).records
    assert (quote.price, quote.change, quote.change_pct, quote.prev_close) == (206.0, -1.54, -0.7438, 207.54)
    assert quote.at == datetime(2024, 11, 1, 20, 0, tzinfo=UTC)  # 16:00 EDT


def test_alphavantage_global_quote_on_a_half_day_is_stamped_at_the_early_close():
    body = (
        '{"Global Quote":{"01. symbol":"IBM","02. open":"1","03. high":"2","04. low":"1","05. price":"1.5",'
        '"06. volume":"1","07. latest trading day":"2024-11-29","08. previous close":"1.4","09. change":"0.1",'
        '"10. change percent":"7.1%"}}'
    )
    (quote,) = alphavantage.parse_global_quote(body, "IBM", AT).records
    assert quote.at == datetime(2024, 11, 29, 18, 0, tzinfo=UTC)  # 13:00 EST, day after Thanksgiving


def test_alphavantage_listing_csv():
    body = (
        "symbol,name,exchange,assetType,ipoDate,delistingDate,status\r\n"
        "A,Agilent Technologies Inc,NYSE,Stock,1999-11-18,null,Active\r\n"
        "BRK-B,Berkshire Hathaway Inc,NYSE,Stock,1996-05-09,null,Active\r\n"
        "ABR-P-D,Arbor Realty Trust Pref D,NYSE,Stock,2021-06-02,null,Active\r\n"
        "AAAU,Goldman Sachs Physical Gold ETF,BATS,ETF,2018-08-15,null,Delisted\r\n"
    )
    parsed = alphavantage.parse_listing(body, AT)
    assert [(s.symbol, s.type, s.active) for s in parsed.records] == [
        ("A", "Stock", True),
        ("BRK.B", "Stock", True),
        ("AAAU", "ETF", False),
    ]
    assert parsed.dropped == 1


LISTING_HEAD = "symbol,name,exchange,assetType,ipoDate,delistingDate,status\r\n"


@pytest.mark.parametrize(
    "tail",
    [
        "AAPL,Apple Inc,NASDAQ,Stock,1980-12-12,null,Act",  # cut inside the status
        "AAPL,Apple Inc,NASDAQ,Sto",  # cut inside a row
        "AAPL,Apple Inc,NASDAQ,Stock,1980-12-12,null,",  # cut after a comma
    ],
)
def test_alphavantage_listing_cut_off_is_bad_body(tail):
    body = LISTING_HEAD + "A,Agilent Technologies Inc,NYSE,Stock,1999-11-18,null,Active\r\n" + tail
    with pytest.raises(BadBody, match="cut off"):
        alphavantage.parse_listing(body, AT)


def test_alphavantage_listing_bad_inner_row_is_dropped():
    body = (
        LISTING_HEAD
        + "A,Agilent,NYSE,Stock,1999-11-18,null\r\nAAPL,Apple Inc,NASDAQ,Stock,1980-12-12,null,Active\r\n"
    )
    parsed = alphavantage.parse_listing(body, AT)
    assert ([s.symbol for s in parsed.records], parsed.dropped) == (["AAPL"], 1)


def test_yahoo_chart_nulls_become_dropped_rows():
    # 2024-10-30, 2024-10-31, 2024-11-01 at 09:30 EDT; the middle row holds nulls.
    body = (
        '{"chart":{"result":[{"meta":{"symbol":"BRK-B"},"timestamp":[1730295000,1730381400,1730467800],'
        '"indicators":{"quote":[{"open":[460.1,null,451.0],"high":[462.0,null,455.2],"low":[458.3,null,450.1],'
        '"close":[461.0,null,452.3],"volume":[3000000,null,2800000]}],"adjclose":[{"adjclose":[461.0,null,452.3]}]},'
        '"events":{"splits":{},"dividends":{}}}],"error":null}}'
    )
    parsed = yahoo.parse_chart(body, "BRK.B", AT)
    assert [b.day for b in parsed.records] == [date(2024, 10, 30), date(2024, 10, 31), date(2024, 11, 1)]
    assert math.isnan(parsed.records[1].close)
    kept, dropped = keep_valid(parsed.records, provider="yahoo", endpoint="daily_history")
    assert ([b.day for b in kept], dropped) == ([date(2024, 10, 30), date(2024, 11, 1)], 1)
    assert all(b.symbol == "BRK.B" and b.adjusted for b in kept)


@pytest.mark.parametrize(
    ("parse", "body"),
    [
        (lambda b: finnhub.parse_quote(b, "AAPL", AT), '{"c":1}'),
        (lambda b: finnhub.parse_quote(b, "AAPL", AT), '{"c":1,"t":"yesterday"}'),
        (lambda b: finnhub.parse_quote(b, "AAPL", AT), "[]"),
        (lambda b: finnhub.parse_symbols(b, AT), '{"symbol":"AAPL"}'),
        (lambda b: polygon.parse_bars(b, AT), '{"status":"OK","results":{"T":"A"}}'),
        (lambda b: polygon.parse_bars(b, AT), "not json"),
        (lambda b: alphavantage.parse_daily(b, "IBM", AT), '{"Meta Data":{}}'),
        (lambda b: alphavantage.parse_global_quote(b, "IBM", AT), '{"Global Quote":{"05. price":"1"}}'),
        (lambda b: alphavantage.parse_listing(b, AT), "<html>"),
        (lambda b: yahoo.parse_chart(b, "AAPL", AT), '{"chart":{"result":[]}}'),
        (
            lambda b: yahoo.parse_chart(b, "AAPL", AT),
            '{"chart":{"result":[{"timestamp":[1],"indicators":{}}]}}',
        ),
        (
            lambda b: yahoo.parse_chart(b, "AAPL", AT),
            '{"chart":{"result":[{"timestamp":[1730295000,1730381400],"indicators":{"quote":[{"open":[1],'
            '"high":[1],"low":[1],"close":[1],"volume":[1]}]}}]}}',
        ),
    ],
    ids=[
        "finnhub-no-t",
        "finnhub-t-text",
        "finnhub-array",
        "finnhub-symbols-object",
        "polygon-results-object",
        "polygon-not-json",
        "av-no-series",
        "av-quote-no-day",
        "av-listing-html",
        "yahoo-empty-result",
        "yahoo-no-quote",
        "yahoo-truncated-arrays",
    ],
)
def test_broken_bodies_raise_bad_body(parse, body):
    with pytest.raises(BadBody):
        parse(body)


@pytest.mark.parametrize(
    "row",
    ['{"T":"B","o":1,"h":1,"l":1,"c":1,"v":1}', '{"T":"B","t":1e30}', '{"T":"B","t":1' + "0" * 400 + "}"],
    ids=["no-t", "t-overflow", "t-huge-integer"],
)
def test_a_polygon_row_that_cannot_be_read_is_dropped_and_the_others_kept(row):
    """One unreadable row of a grouped answer (~12,000 rows) costs that row, never the whole answer."""
    good = '{"T":"A","o":1,"h":1,"l":1,"c":1,"v":1,"t":1786132800000}'
    parsed = polygon.parse_bars('{"status":"OK","results":[' + good + "," + row + "]}", AT)
    assert ([b.symbol for b in parsed.records], parsed.dropped) == (["A"], 1)
