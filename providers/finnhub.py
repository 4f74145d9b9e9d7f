"""Finnhub: latest quotes and the US symbol list. Key sent in the ``X-Finnhub-Token`` header.

Signals (docs/providers.md): 429 + JSON ``API limit reached ... Remaining Limit: 0`` is throttling, but a
missing or empty token also answers 429, with ``Please sign up for a free account`` - a configuration
error; 403 ``You don't have access to this resource.`` is a plan limit (permanent); an unknown symbol's
quote is HTTP 200 with every price 0 and ``t`` 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from providers.base import Answer, BaseClient, Parsed
from providers.guards import classifier, each, parser
from providers.records import Quote, SymbolInfo
from providers.results import FetchResult, Outcome, Verdict
from providers.symbols import canonical, parse_symbol, provider_spelling
from providers.validation import clean_text
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
from providers.wire import utc_from_seconds as _utc

NAME = "finnhub"


@classifier(NAME)
def classify(status: int, headers: Mapping[str, str], body: str, now: float | None = None) -> Verdict:
    """The outcome of one Finnhub answer. ``retry_after`` in seconds, from ``Retry-After`` when sent."""
    data = try_loads(body)
    text = _error_text(data) or body
    lowered = text.lower()
    if status == 429:
        if "sign up" in lowered:
            return Verdict(
                Outcome.CONFIG_ERROR, f"{NAME}: the API key is missing or empty: {snippet(text)!r}"
            )
        return Verdict(
            Outcome.THROTTLED, f"{NAME}: rate limited: {snippet(text)!r}", retry_after(headers, now)
        )
    if status == 401:
        return Verdict(Outcome.CONFIG_ERROR, f"{NAME}: the API key was refused: {snippet(text)!r}")
    if status == 403:
        return Verdict(Outcome.NOT_ENTITLED, f"{NAME}: not on this plan: {snippet(text)!r}")
    if status == 404:
        return Verdict(Outcome.NOT_FOUND, f"{NAME}: not found: {snippet(text)!r}")
    generic = generic_verdict(status, NAME, body)
    if generic is not None:
        return generic
    if status != 200:
        return Verdict(Outcome.BAD_DATA, f"{NAME}: unexpected HTTP {status}: {snippet(text)!r}")
    if data is None:
        return Verdict(Outcome.BAD_DATA, f"{NAME}: body is not JSON: {snippet(body)!r}")
    if isinstance(data, dict) and "error" in data:
        return Verdict(Outcome.BAD_DATA, f"{NAME}: error in a 200 answer: {snippet(text)!r}")
    if _is_empty_quote(data):
        return Verdict(Outcome.NOT_FOUND, f"{NAME}: unknown symbol (all-zero quote)")
    return Verdict(Outcome.OK, f"{NAME}: ok")


def _error_text(data: object) -> str | None:
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return data["error"]
    return None


def _is_empty_quote(data: object) -> bool:
    """Finnhub's answer for a symbol it does not know: ``c`` and ``t`` zero (``d``/``dp`` null)."""
    return isinstance(data, dict) and "c" in data and not data.get("c") and not data.get("t")


@parser
def parse_quote(body: str, symbol: str, fetched_at: datetime) -> Parsed:
    """``/quote`` -> one ``Quote`` (unvalidated). ``t`` is epoch seconds; Finnhub gives no volume."""
    data = loads(body)
    if not isinstance(data, dict) or "c" not in data or "t" not in data:
        raise BadBody(f"quote without 'c'/'t': {snippet(body)!r}")
    quote = Quote(
        symbol=symbol,
        price=number(data.get("c")),
        change=optional_number(data.get("d")),
        change_pct=optional_number(data.get("dp")),
        open=number(data.get("o")),
        high=number(data.get("h")),
        low=number(data.get("l")),
        prev_close=number(data.get("pc")),
        at=_utc(data.get("t")),
        source=NAME,
        fetched_at=fetched_at,
    )
    return Parsed((quote,))


@parser
def parse_symbols(body: str, fetched_at: datetime) -> Parsed:
    """``/stock/symbol?exchange=US`` -> ``SymbolInfo`` rows; symbols outside the accepted form are
    dropped and counted (Finnhub lists many OTC spellings the other providers cannot be asked about)."""
    del fetched_at
    data = loads(body)
    if not isinstance(data, list):
        raise BadBody(f"symbol list is not a JSON array: {snippet(body)!r}")
    rows, dropped = each(data, _listing, f"{NAME} symbols")
    return Parsed(tuple(rows), dropped)


def _listing(item: object) -> SymbolInfo | None:
    symbol = parse_symbol(item.get("symbol")) if isinstance(item, dict) else None
    if symbol is None:
        return None
    return SymbolInfo(
        symbol=symbol,
        name=clean_text(item.get("description")),
        exchange=clean_text(item.get("mic")),
        type=clean_text(item.get("type")),
        currency=clean_text(item.get("currency")),
        active=True,
        source=NAME,
    )


class FinnhubClient(BaseClient):
    """Finnhub ``/quote`` and ``/stock/symbol``. Base URL ends in ``/api/v1``."""

    provider = NAME

    def _classify(self, endpoint: str, status: int, headers: Mapping[str, str], body: str) -> Verdict:
        return classify(status, headers, body, now=self.clock())

    def _auth(self, params: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        return {"X-Finnhub-Token": self.config.api_key}, params

    def quote(self, symbol: str) -> FetchResult:
        """The latest quote of ``symbol`` (canonical or dashed; raises ``InvalidSymbol`` otherwise)."""
        symbol = canonical(symbol)

        def parse(answer: Answer, fetched_at: datetime) -> Parsed:
            return parse_quote(answer.text, symbol, fetched_at)

        params = {"symbol": provider_spelling(NAME, symbol)}
        return self._fetch("quote", self._url("/quote"), params, parse, symbol=symbol)

    def symbols(self) -> FetchResult:
        """Every US-listed symbol Finnhub knows (one call, tens of thousands of rows)."""

        def parse(answer: Answer, fetched_at: datetime) -> Parsed:
            return parse_symbols(answer.text, fetched_at)

        return self._fetch("symbols", self._url("/stock/symbol"), {"exchange": "US"}, parse)
