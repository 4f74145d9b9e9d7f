"""Alpha Vantage: daily series, global quote, listing status. The key must travel as ``apikey`` in the
query (the API takes no header), so every message and log line is redacted (``apikey=***``).

Signals (docs/providers.md): ALWAYS HTTP 200, the meaning is in the body. ``Information`` carries the daily
cap (QUOTA_EXHAUSTED, reported with ``exhausted=True``), the 1-per-second burst limit (THROTTLED) and the
premium-endpoint refusal (NOT_ENTITLED); the legacy ``Note`` is a throttle; ``Error Message`` is a bad
symbol (NOT_FOUND) or a bad key (CONFIG_ERROR); ``{"Global Quote": {}}`` is an unknown symbol.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

import marketcal
from providers.base import Answer, BaseClient, Parsed
from providers.guards import classifier, each, parser
from providers.records import DailyBar, Quote, SymbolInfo
from providers.results import FetchResult, Outcome, Verdict
from providers.symbols import canonical, parse_symbol, provider_spelling
from providers.validation import EARLIEST, LATEST, clean_text
from providers.wire import (
    BadBody,
    generic_verdict,
    loads,
    number,
    optional_number,
    retry_after,
    snippet,
    try_loads,
)

NAME = "alphavantage"
# Seconds to back off after the burst answer ("1 request per second"): not documented, so configurable.
BURST_RETRY_AFTER = 1.0
# Seconds after the legacy ``Note`` ("5 calls per minute"): one minute window.
NOTE_RETRY_AFTER = 60.0
LISTING_COLUMNS = ("symbol", "name", "exchange", "assetType", "ipoDate", "delistingDate", "status")


@classifier(NAME)
def classify(
    status: int,
    headers: Mapping[str, str],
    body: str,
    now: float | None = None,
    *,
    csv_expected: bool = False,
    burst_retry_after: float = BURST_RETRY_AFTER,
    note_retry_after: float = NOTE_RETRY_AFTER,
) -> Verdict:
    """The outcome of one Alpha Vantage answer. ``csv_expected``: the endpoint answers CSV on success
    (LISTING_STATUS), so a non-JSON body is OK there and BAD_DATA elsewhere. ``retry_after`` in seconds."""
    data = try_loads(body)
    if status == 429:
        return Verdict(Outcome.THROTTLED, f"{NAME}: HTTP 429: {snippet(body)!r}", retry_after(headers, now))
    generic = generic_verdict(status, NAME, body)
    if generic is not None:
        return generic
    if status != 200:
        return Verdict(Outcome.BAD_DATA, f"{NAME}: unexpected HTTP {status}: {snippet(body)!r}")
    if data is None:
        if csv_expected and body.strip():
            return Verdict(Outcome.OK, f"{NAME}: ok")
        return Verdict(Outcome.BAD_DATA, f"{NAME}: body is not JSON: {snippet(body)!r}")
    if not isinstance(data, dict):
        return Verdict(Outcome.BAD_DATA, f"{NAME}: body is not a JSON object: {snippet(body)!r}")
    if isinstance(data.get("Information"), str):
        return _information(data["Information"], headers, now, burst_retry_after)
    if isinstance(data.get("Note"), str):
        note = data["Note"]
        wait = retry_after(headers, now) or note_retry_after
        return Verdict(Outcome.THROTTLED, f"{NAME}: call frequency limit (Note): {snippet(note)!r}", wait)
    if isinstance(data.get("Error Message"), str):
        text = data["Error Message"]
        lowered = text.lower()
        if "apikey" in lowered or "api key" in lowered:
            return Verdict(
                Outcome.CONFIG_ERROR, f"{NAME}: the API key is invalid or missing: {snippet(text)!r}"
            )
        return Verdict(
            Outcome.NOT_FOUND, f"{NAME}: invalid call, most likely an unknown symbol: {snippet(text)!r}"
        )
    if data.get("Global Quote") == {}:
        return Verdict(Outcome.NOT_FOUND, f"{NAME}: unknown symbol (empty Global Quote)")
    if csv_expected:
        return Verdict(Outcome.BAD_DATA, f"{NAME}: expected CSV, got JSON: {snippet(body)!r}")
    return Verdict(Outcome.OK, f"{NAME}: ok")


def _information(text: str, headers: Mapping[str, str], now: float | None, burst: float) -> Verdict:
    lowered = text.lower()
    shown = snippet(text)
    # Order matters: the burst text also mentions "25 requests per day" and "premium endpoints".
    if "this is a premium endpoint" in lowered:
        return Verdict(Outcome.NOT_ENTITLED, f"{NAME}: premium endpoint, not on this plan: {shown!r}")
    if "per second" in lowered or "sparingly" in lowered or "spreading out" in lowered:
        wait = retry_after(headers, now) or burst
        return Verdict(Outcome.THROTTLED, f"{NAME}: burst limit: {shown!r}", wait)
    if "per day" in lowered:
        return Verdict(Outcome.QUOTA_EXHAUSTED, f"{NAME}: daily request cap reached: {shown!r}")
    if "api key" in lowered or "apikey" in lowered:
        return Verdict(Outcome.CONFIG_ERROR, f"{NAME}: the API key was refused: {shown!r}")
    # An unrecognised notice: assume a limit (the safe reading) and let the limiter pause the provider.
    return Verdict(
        Outcome.THROTTLED, f"{NAME}: unrecognised Information notice: {shown!r}", retry_after(headers, now)
    )


@parser
def parse_daily(body: str, symbol: str, fetched_at: datetime) -> Parsed:
    """``TIME_SERIES_DAILY`` -> unadjusted ``DailyBar`` rows, oldest first; numbers arrive as strings.
    A row whose key is not a ``YYYY-MM-DD`` date, or that is not an object, is dropped and counted."""
    data = loads(body)
    series = data.get("Time Series (Daily)") if isinstance(data, dict) else None
    if not isinstance(series, dict):
        raise BadBody(f"no 'Time Series (Daily)' object: {snippet(body)!r}")

    def bar(key: str) -> DailyBar | None:
        row = series[key]
        if not isinstance(row, dict):
            return None
        return DailyBar(
            symbol=symbol,
            day=date.fromisoformat(key),
            open=number(row.get("1. open")),
            high=number(row.get("2. high")),
            low=number(row.get("3. low")),
            close=number(row.get("4. close")),
            volume=number(row.get("5. volume")),
            vwap=None,
            adjusted=False,
            source=NAME,
            fetched_at=fetched_at,
        )

    bars, dropped = each(sorted(series), bar, f"{NAME} daily")
    return Parsed(tuple(bars), dropped)


@parser
def parse_global_quote(body: str, symbol: str, fetched_at: datetime) -> Parsed:
    """``GLOBAL_QUOTE`` -> one ``Quote``; ``at`` is the latest trading day's close (UTC)."""
    data = loads(body)
    quote = data.get("Global Quote") if isinstance(data, dict) else None
    if not isinstance(quote, dict) or not quote:
        raise BadBody(f"no 'Global Quote' object: {snippet(body)!r}")
    try:
        day = date.fromisoformat(str(quote.get("07. latest trading day")))
    except ValueError:
        raise BadBody("'07. latest trading day' is not a YYYY-MM-DD date") from None
    row = Quote(
        symbol=symbol,
        price=number(quote.get("05. price")),
        change=optional_number(quote.get("09. change")),
        change_pct=optional_number(quote.get("10. change percent")),
        open=number(quote.get("02. open")),
        high=number(quote.get("03. high")),
        low=number(quote.get("04. low")),
        prev_close=number(quote.get("08. previous close")),
        at=_close_of(day),
        source=NAME,
        fetched_at=fetched_at,
    )
    return Parsed((row,))


def _close_of(day: date) -> datetime:
    """The session close of ``day`` (13:00 ET on half days), or 16:00 ET when the calendar has no session.
    A day outside ``[EARLIEST, LATEST)`` is a garbled field (the calendar would overflow on year 9999)."""
    if not EARLIEST <= day < LATEST:
        raise BadBody(f"'07. latest trading day' {day.isoformat()} is not a plausible day")
    try:
        if marketcal.is_trading_day(day):
            return marketcal.session_close(day)
    except (ValueError, OverflowError):  # outside the calendar's range
        pass
    return datetime.combine(day, time(16, 0), marketcal.EASTERN).astimezone(UTC)


@parser
def parse_listing(body: str, fetched_at: datetime) -> Parsed:
    """``LISTING_STATUS`` CSV -> ``SymbolInfo`` rows; symbols outside the accepted form are dropped.

    A row must have every header column and a status of ``Active`` or ``Delisted``; a bad row inside the
    file is dropped and counted, but a bad LAST row means the body was cut off (a truncated answer would
    otherwise pass for a shorter universe): BadBody. A cut exactly at a row boundary cannot be seen."""
    del fetched_at
    reader = csv.DictReader(io.StringIO(body.lstrip("\ufeff")))
    if reader.fieldnames is None or not {"symbol", "status"} <= set(reader.fieldnames):
        raise BadBody(f"CSV header lacks symbol/status: {snippet(body[:120])!r}")
    last_complete = True

    def listing(item: dict) -> SymbolInfo | None:
        nonlocal last_complete
        status = (item.get("status") or "").strip().lower()
        last_complete = None not in item and None not in item.values() and status in ("active", "delisted")
        symbol = parse_symbol((item.get("symbol") or "").strip())
        if symbol is None or not last_complete:
            return None
        return SymbolInfo(
            symbol=symbol,
            name=clean_text(item.get("name")),
            exchange=clean_text(item.get("exchange")),
            type=clean_text(item.get("assetType")),
            currency=None,
            active=status == "active",
            source=NAME,
        )

    rows, dropped = each(reader, listing, f"{NAME} listing")
    if not last_complete:
        raise BadBody("CSV ends with an incomplete row: the answer was cut off")
    return Parsed(tuple(rows), dropped)


class AlphaVantageClient(BaseClient):
    """Alpha Vantage ``/query``. Base URL is the host (``https://www.alphavantage.co``).

    ``burst_retry_after``/``note_retry_after``: seconds to pause after the burst answer and the legacy
    ``Note`` when no ``Retry-After`` is sent (undocumented by the provider, hence configurable)."""

    provider = NAME

    def __init__(
        self,
        *args: Any,
        burst_retry_after: float = BURST_RETRY_AFTER,
        note_retry_after: float = NOTE_RETRY_AFTER,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.burst_retry_after = float(burst_retry_after)
        self.note_retry_after = float(note_retry_after)

    def _classify(self, endpoint: str, status: int, headers: Mapping[str, str], body: str) -> Verdict:
        return classify(
            status,
            headers,
            body,
            now=self.clock(),
            csv_expected=endpoint == "listing_status",
            burst_retry_after=self.burst_retry_after,
            note_retry_after=self.note_retry_after,
        )

    def _auth(self, params: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        return {}, {**params, "apikey": self.config.api_key}

    def daily(self, symbol: str) -> FetchResult:
        """The last ~100 daily bars of ``symbol`` (TIME_SERIES_DAILY, compact; raw, unadjusted prices)."""
        symbol = canonical(symbol)
        params = {
            "function": "TIME_SERIES_DAILY",
            "symbol": provider_spelling(NAME, symbol),
            "outputsize": "compact",
        }

        def parse(answer: Answer, fetched_at: datetime) -> Parsed:
            return parse_daily(answer.text, symbol, fetched_at)

        return self._fetch(
            "daily", self._url("/query"), params, parse, symbol=symbol, empty=Outcome.NOT_FOUND
        )

    def global_quote(self, symbol: str) -> FetchResult:
        """The latest end-of-day quote of ``symbol``."""
        symbol = canonical(symbol)
        params = {"function": "GLOBAL_QUOTE", "symbol": provider_spelling(NAME, symbol)}

        def parse(answer: Answer, fetched_at: datetime) -> Parsed:
            return parse_global_quote(answer.text, symbol, fetched_at)

        return self._fetch("global_quote", self._url("/query"), params, parse, symbol=symbol)

    def listing_status(self) -> FetchResult:
        """Every active US listing (CSV: symbol, name, exchange, assetType, ipoDate, delistingDate, status)."""

        def parse(answer: Answer, fetched_at: datetime) -> Parsed:
            return parse_listing(answer.text, fetched_at)

        return self._fetch("listing_status", self._url("/query"), {"function": "LISTING_STATUS"}, parse)
