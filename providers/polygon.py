"""Polygon.io (Massive): grouped daily bars, per-ticker ranges, previous close, the ticker universe.

Key sent as ``Authorization: Bearer``; pages (``next_url``) are followed only on the base URL's origin,
so the header never reaches another host. Signals (docs/providers.md): 429 (JSON or empty body) is throttling;
403 is permanent (not entitled, today's data before the end of day, older than the plan's 2 years);
401 ``Unknown API Key`` is configuration; errors carry their text under ``error`` or ``message``.
Bars are stamped in epoch ms (grouped/previous 16:00 ET, ranges 00:00 ET): the ET date is the trading day.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import marketcal
from providers.base import PARSE_ERRORS, Answer, BaseClient, Parsed, same_origin
from providers.guards import classifier, each, parser
from providers.records import DailyBar, Record, SymbolInfo
from providers.results import FetchResult, Outcome, Verdict
from providers.symbols import canonical, parse_symbol, provider_spelling
from providers.validation import clean_text, keep_valid
from providers.wire import (
    BadBody,
    et_date_from_ms,
    generic_verdict,
    loads,
    number,
    optional_number,
    retry_after,
    snippet,
    try_loads,
)

NAME = "polygon"
_KEY_PARAMS = frozenset({"apikey"})
MAX_PAGES = 100  # a safety stop for pagination loops (the universe is ~12 pages of 1000)


@classifier(NAME)
def classify(status: int, headers: Mapping[str, str], body: str, now: float | None = None) -> Verdict:
    """The outcome of one Polygon answer; ``retry_after`` (seconds) only from a ``Retry-After`` header."""
    data = try_loads(body)
    text = _error_text(data) or body
    lowered = text.lower()
    if status == 429:
        return Verdict(
            Outcome.THROTTLED, f"{NAME}: rate limited: {snippet(text)!r}", retry_after(headers, now)
        )
    if status == 401 or ("api key" in lowered and status in (400, 403)):
        return Verdict(Outcome.CONFIG_ERROR, f"{NAME}: the API key was refused: {snippet(text)!r}")
    if status == 403:
        if "before end of day" in lowered:
            reason = "today's data is not available before the end of day on this plan"
        elif "timeframe" in lowered:
            reason = "the date is older than this plan's history"
        else:
            reason = "not entitled to this data on this plan"
        return Verdict(Outcome.NOT_ENTITLED, f"{NAME}: {reason}: {snippet(text)!r}")
    if status == 404:
        return Verdict(Outcome.NOT_FOUND, f"{NAME}: not found: {snippet(text)!r}")
    generic = generic_verdict(status, NAME, body)
    if generic is not None:
        return generic
    if status != 200:
        return Verdict(Outcome.BAD_DATA, f"{NAME}: unexpected HTTP {status}: {snippet(text)!r}")
    if not isinstance(data, dict):
        return Verdict(Outcome.BAD_DATA, f"{NAME}: body is not a JSON object: {snippet(body)!r}")
    state = str(data.get("status", "")).upper()
    if state == "NOT_FOUND":
        return Verdict(Outcome.NOT_FOUND, f"{NAME}: not found: {snippet(text)!r}")
    if state in ("ERROR", "NOT_AUTHORIZED"):
        return Verdict(Outcome.BAD_DATA, f"{NAME}: error status in a 200 answer: {snippet(text)!r}")
    return Verdict(Outcome.OK, f"{NAME}: ok")


def _error_text(data: object) -> str | None:
    if not isinstance(data, dict):
        return None
    parts = [data[k] for k in ("error", "message") if isinstance(data.get(k), str)]
    return " ".join(parts) or None


def _results(body: str) -> tuple[dict, list]:
    data = loads(body)
    if not isinstance(data, dict):
        raise BadBody(f"body is not a JSON object: {snippet(body)!r}")
    results = data.get("results", [])
    if results is None:
        results = []
    if not isinstance(results, list):
        raise BadBody("'results' is not a list")
    return data, results


def _bar(symbol: str, row: dict, adjusted: bool, fetched_at: datetime) -> DailyBar:
    return DailyBar(
        symbol=symbol,
        day=et_date_from_ms(row.get("t")),
        open=number(row.get("o")),
        high=number(row.get("h")),
        low=number(row.get("l")),
        close=number(row.get("c")),
        volume=number(row.get("v")),
        vwap=optional_number(row.get("vw")),
        adjusted=adjusted,
        source=NAME,
        fetched_at=fetched_at,
    )


@parser
def parse_bars(body: str, fetched_at: datetime, symbol: str | None = None) -> Parsed:
    """Grouped (``symbol`` None: each row's ``T``), range or previous-day envelopes -> ``DailyBar`` rows.

    Rows whose ticker is outside the accepted form, that are not objects or that cannot be read (a
    timestamp out of range, say) are dropped and counted. ``cursor`` carries ``next_url`` when the answer
    has one."""
    data, results = _results(body)
    adjusted = bool(data.get("adjusted", True))

    def bar(row: object) -> DailyBar | None:
        if not isinstance(row, dict):
            return None
        ticker = parse_symbol(row.get("T") if symbol is None else symbol)
        return _bar(ticker, row, adjusted, fetched_at) if ticker else None

    bars, dropped = each(results, bar, f"{NAME} bars")
    return Parsed(tuple(bars), dropped, _next_url(data))


@parser
def parse_tickers(body: str, fetched_at: datetime) -> Parsed:
    """``/v3/reference/tickers`` -> ``SymbolInfo`` rows (one page) and the ``next_url`` cursor."""
    del fetched_at
    data, results = _results(body)
    rows, dropped = each(results, _ticker, f"{NAME} tickers")
    return Parsed(tuple(rows), dropped, _next_url(data))


def _ticker(item: object) -> SymbolInfo | None:
    symbol = parse_symbol(item.get("ticker")) if isinstance(item, dict) else None
    if symbol is None:
        return None
    currency = clean_text(item.get("currency_name"))
    return SymbolInfo(
        symbol=symbol,
        name=clean_text(item.get("name")),
        exchange=clean_text(item.get("primary_exchange")),
        type=clean_text(item.get("type")),
        currency=clean_text(currency.upper()) if currency else None,
        active=item.get("active", True) is not False,
        source=NAME,
    )


def _next_url(data: dict) -> str | None:
    value = data.get("next_url")
    return value if isinstance(value, str) and value else None


def strip_key(url: str) -> str:
    """``url`` without any ``apiKey`` query parameter (we send the key in a header instead)."""
    parts = urlsplit(url)
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in _KEY_PARAMS
    ]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


class PolygonClient(BaseClient):
    """Polygon/Massive aggregates and reference tickers. Base URL is the host (``https://api.polygon.io``)."""

    provider = NAME

    def _classify(self, endpoint: str, status: int, headers: Mapping[str, str], body: str) -> Verdict:
        return classify(status, headers, body, now=self.clock())

    def _auth(self, params: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        return {"Authorization": f"Bearer {self.config.api_key}"}, params

    def grouped_daily(self, day: date, adjusted: bool = True) -> FetchResult:
        """Every US ticker's bar for ``day`` in one call; a weekend or holiday is OK with no records."""
        day = _as_date(day)
        url = self._url(f"/v2/aggs/grouped/locale/us/market/stocks/{day.isoformat()}")
        params = {"adjusted": _flag(adjusted)}
        return self._fetch("grouped_daily", url, params, lambda a, at: parse_bars(a.text, at))

    def daily_range(self, symbol: str, start: date, end: date, adjusted: bool = True) -> FetchResult:
        """Daily bars of ``symbol`` from ``start`` to ``end`` (both included, ET dates), oldest first."""
        symbol = canonical(symbol)
        start, end = _as_date(start), _as_date(end)
        if end < start:
            raise ValueError(f"daily_range: end {end.isoformat()} is before start {start.isoformat()}")
        path = f"/v2/aggs/ticker/{provider_spelling(NAME, symbol)}/range/1/day/{start.isoformat()}/{end.isoformat()}"
        params = {"adjusted": _flag(adjusted), "sort": "asc", "limit": "50000"}
        parse = lambda a, at: parse_bars(a.text, at, symbol)  # noqa: E731
        empty = Outcome.NOT_FOUND if self._has_completed_session(start, end) else Outcome.OK
        return self._paginate("daily_range", self._url(path), params, parse, symbol, empty=empty)

    def _has_completed_session(self, start: date, end: date) -> bool:
        """True when [start, end] holds a session already closed by the client's clock: an empty answer
        then means the ticker is unknown (Polygon answers 200 with no results), not a quiet range."""
        try:
            last = marketcal.last_completed_session(self._now())
            return bool(marketcal.trading_days(start, min(end, last)))
        except ValueError:  # outside the calendar's range
            return False

    def previous_close(self, symbol: str, adjusted: bool = True) -> FetchResult:
        """The previous session's bar of ``symbol``; no bar at all is NOT_FOUND."""
        symbol = canonical(symbol)
        url = self._url(f"/v2/aggs/ticker/{provider_spelling(NAME, symbol)}/prev")
        parse = lambda a, at: parse_bars(a.text, at, symbol)  # noqa: E731
        return self._fetch(
            "previous_close",
            url,
            {"adjusted": _flag(adjusted)},
            parse,
            symbol=symbol,
            empty=Outcome.NOT_FOUND,
        )

    def tickers(self, cursor: str | None = None, max_pages: int | None = None) -> FetchResult:
        """Active US stock tickers, following ``next_url`` page by page (each page through the limiter).

        Stopping early (a page refused, or ``max_pages`` reached) returns the rows gathered so far with
        ``cursor`` set: pass it back to resume. The listing is complete only when the outcome is OK and
        ``cursor`` is None."""
        if cursor is not None and not same_origin(cursor, self.config.base_url):
            raise ValueError("tickers: the cursor is not a URL on this client's base URL")
        url = cursor or self._url("/v3/reference/tickers")
        params = None if cursor else {"market": "stocks", "active": "true", "limit": "1000"}
        return self._paginate(
            "tickers", url, params, lambda a, at: parse_tickers(a.text, at), None, max_pages
        )

    def _paginate(
        self,
        endpoint: str,
        url: str,
        params: Mapping[str, str] | None,
        parse: Callable[[Answer, datetime], Parsed],
        symbol: str | None,
        max_pages: int | None = None,
        *,
        empty: Outcome = Outcome.OK,
    ) -> FetchResult:
        """Follow ``next_url`` through the limiter; see ``tickers`` for how an early stop is returned."""
        limit = min(max_pages or MAX_PAGES, MAX_PAGES)
        gathered: list[Record] = []
        dropped = pages = 0
        while True:
            answer = self._send(endpoint, url, params, symbol)
            if isinstance(answer, FetchResult):
                return self._partial(answer, gathered, dropped, pages, url)
            fetched_at = self._now()
            try:
                page = parse(answer, fetched_at)
            except PARSE_ERRORS as exc:
                return self._partial(
                    self._unreadable(endpoint, exc, symbol, answer.status), gathered, dropped, pages, url
                )
            pages += 1
            gathered.extend(page.records)
            dropped += page.dropped
            nxt = strip_key(page.cursor) if page.cursor else None
            if nxt is not None and not same_origin(nxt, self.config.base_url):
                message = f"{NAME} {endpoint}: next_url points to another host; not sending the key there"
                refusal = self._result(endpoint, Outcome.BAD_DATA, symbol, message, http_status=answer.status)
                return self._partial(refusal, gathered, dropped, pages, None)
            if nxt is None or pages >= limit:
                parsed = Parsed(tuple(gathered), dropped, nxt)
                return self._finish(
                    endpoint, parsed, fetched_at, symbol=symbol, empty=empty, status=answer.status
                )
            url, params = nxt, None

    def _partial(
        self, refusal: FetchResult, gathered: list[Record], dropped: int, pages: int, cursor: str | None
    ) -> FetchResult:
        """A page was refused: keep the refusal's outcome, return what earlier pages gave, and the cursor
        of the refused page (resume there)."""
        if pages == 0:
            return refusal
        kept, bad = keep_valid(gathered, provider=NAME, endpoint=refusal.endpoint)
        message = f"{refusal.message} (stopped after {pages} pages; resume with the cursor)"
        return replace(refusal, records=kept, dropped=dropped + bad, message=message, cursor=cursor)


def _as_date(value: object) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"expected a datetime.date, got {type(value).__name__}")
    return value


def _flag(value: bool) -> str:
    return "true" if value else "false"
