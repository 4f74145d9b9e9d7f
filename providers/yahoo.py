"""Yahoo Finance chart history (``/v8/finance/chart/{SYM}``): an unofficial, keyless, best-effort fallback.

Signals (docs/providers.md): 429 with a plain-text ``Too Many Requests`` / ``Edge: Too Many Requests`` body
is a per-IP block lasting minutes, so THROTTLED carries ``block_seconds`` (configurable) unless the
answer's ``Retry-After`` asks for longer; 404 with ``chart.error.code`` ``Not Found`` is an unknown
symbol; 401 ``Invalid Crumb`` means a cookie/crumb endpoint was called without one (configuration).
Price arrays may hold nulls: those rows are dropped and counted. Class shares are spelled ``BRK-B``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from marketcal import EASTERN
from providers.base import Answer, BaseClient, Parsed
from providers.guards import classifier, each, parser
from providers.records import DailyBar
from providers.results import FetchResult, Outcome, Verdict
from providers.symbols import canonical, provider_spelling
from providers.wire import (
    BadBody,
    et_date_from_seconds,
    generic_verdict,
    loads,
    number,
    retry_after,
    snippet,
    try_loads,
)

NAME = "yahoo"
# Seconds a 429 blocks Yahoo for every worker: the per-IP block "lasts minutes" (undocumented).
BLOCK_SECONDS = 600.0
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) tickerbeat/0.1"


@classifier(NAME)
def classify(
    status: int,
    headers: Mapping[str, str],
    body: str,
    now: float | None = None,
    *,
    block_seconds: float = BLOCK_SECONDS,
) -> Verdict:
    """The outcome of one Yahoo chart answer; a 429's ``retry_after`` is at least ``block_seconds``."""
    data = try_loads(body)
    error = _chart_error(data)
    text = error or body
    if status == 429:
        wait = max(retry_after(headers, now) or 0.0, block_seconds)
        return Verdict(Outcome.THROTTLED, f"{NAME}: blocked for too many requests: {snippet(text)!r}", wait)
    if status == 401:
        return Verdict(
            Outcome.CONFIG_ERROR, f"{NAME}: unauthorised (cookie/crumb required): {snippet(text)!r}"
        )
    if status == 404 or (error and "not found" in error.lower()):
        return Verdict(Outcome.NOT_FOUND, f"{NAME}: unknown symbol: {snippet(text)!r}")
    generic = generic_verdict(status, NAME, body)
    if generic is not None:
        return generic
    if status != 200:
        return Verdict(Outcome.BAD_DATA, f"{NAME}: unexpected HTTP {status}: {snippet(text)!r}")
    if data is None:
        return Verdict(Outcome.BAD_DATA, f"{NAME}: body is not JSON: {snippet(body)!r}")
    if error:
        return Verdict(Outcome.BAD_DATA, f"{NAME}: chart error: {snippet(error)!r}")
    chart = data.get("chart") if isinstance(data, dict) else None
    if not isinstance(chart, dict):
        return Verdict(Outcome.BAD_DATA, f"{NAME}: no 'chart' object: {snippet(body)!r}")
    if not chart.get("result"):
        return Verdict(Outcome.NOT_FOUND, f"{NAME}: no chart result")
    return Verdict(Outcome.OK, f"{NAME}: ok")


def _chart_error(data: object) -> str | None:
    """``chart.error`` as ``"code: description"``, or None."""
    chart = data.get("chart") if isinstance(data, dict) else None
    error = chart.get("error") if isinstance(chart, dict) else None
    if not isinstance(error, dict):
        return None
    return ": ".join(str(error[k]) for k in ("code", "description") if error.get(k)) or "error"


@parser
def parse_chart(body: str, symbol: str, fetched_at: datetime) -> Parsed:
    """A chart answer -> split-adjusted ``DailyBar`` rows; rows with nulls become NaN and fail validation,
    a row whose timestamp cannot be read is dropped and counted.

    Arrays shorter than ``timestamp`` mean a truncated answer: BadBody."""
    data = loads(body)
    try:
        result = data["chart"]["result"][0]
    except (KeyError, IndexError, TypeError):
        raise BadBody(f"no chart.result[0]: {snippet(body)!r}") from None
    stamps = result.get("timestamp") or []
    if not stamps:
        return Parsed(())
    if not isinstance(stamps, list):
        raise BadBody("'timestamp' is not a list")
    try:
        quote = result["indicators"]["quote"][0]
    except (KeyError, IndexError, TypeError):
        raise BadBody("no indicators.quote[0]") from None
    columns = {name: quote.get(name) for name in ("open", "high", "low", "close", "volume")}
    for name, values in columns.items():
        if not isinstance(values, list) or len(values) != len(stamps):
            raise BadBody(f"'{name}' does not have one value per timestamp")

    def bar(i: int) -> DailyBar:
        return DailyBar(
            symbol=symbol,
            day=et_date_from_seconds(stamps[i]),
            open=number(columns["open"][i]),
            high=number(columns["high"][i]),
            low=number(columns["low"][i]),
            close=number(columns["close"][i]),
            volume=number(columns["volume"][i]),
            vwap=None,
            adjusted=True,
            source=NAME,
            fetched_at=fetched_at,
        )

    bars, dropped = each(range(len(stamps)), bar, f"{NAME} chart")
    return Parsed(tuple(bars), dropped)


def _epoch(day: date) -> int:
    """Epoch seconds of 00:00 America/New_York on ``day``."""
    return int(datetime.combine(day, time(0, 0), EASTERN).astimezone(UTC).timestamp())


class YahooClient(BaseClient):
    """Yahoo chart history. Base URL is the host (``https://query2.finance.yahoo.com``); no key.

    ``block_seconds``: how long a 429 blocks Yahoo for every worker (seconds, default 600)."""

    provider = NAME
    needs_key = False

    def __init__(
        self, *args: Any, block_seconds: float = BLOCK_SECONDS, user_agent: str = USER_AGENT, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if block_seconds < 0:
            raise ValueError("block_seconds must be >= 0")
        self.block_seconds = float(block_seconds)
        self.user_agent = user_agent

    def _classify(self, endpoint: str, status: int, headers: Mapping[str, str], body: str) -> Verdict:
        return classify(status, headers, body, now=self.clock(), block_seconds=self.block_seconds)

    def _auth(self, params: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        return {"User-Agent": self.user_agent}, params

    def daily_history(self, symbol: str, start: date, end: date) -> FetchResult:
        """Daily bars of ``symbol`` from ``start`` to ``end`` (ET dates, both included), oldest first."""
        symbol = canonical(symbol)
        if not isinstance(start, date) or not isinstance(end, date) or isinstance(start, datetime):
            raise TypeError("daily_history: start and end must be datetime.date values")
        if end < start:
            raise ValueError(f"daily_history: end {end.isoformat()} is before start {start.isoformat()}")
        params = {
            "period1": str(_epoch(start)),
            "period2": str(_epoch(end + timedelta(days=1))),
            "interval": "1d",
            "events": "div,splits",
        }
        url = self._url(f"/v8/finance/chart/{provider_spelling(NAME, symbol)}")

        def parse(answer: Answer, fetched_at: datetime) -> Parsed:
            return parse_chart(answer.text, symbol, fetched_at)

        return self._fetch("daily_history", url, params, parse, symbol=symbol)
