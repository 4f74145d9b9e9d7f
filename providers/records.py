"""Normalised records every client returns, whatever the provider's wire format.

Prices are in the instrument's currency (US dollars for the US universe), volumes in shares (Polygon's
aggregates may be fractional, so volume is a float), instants are timezone-aware UTC datetimes and
trading dates are exchange-local (America/New_York) dates. ``source`` is the provider's name;
``fetched_at`` is when the client received the answer (UTC, from the client's clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class Quote:
    """A latest-price snapshot. ``change_pct`` is in percent (0.88 means +0.88 %); ``at`` is the provider's
    timestamp of the price (Finnhub: last trade; Alpha Vantage: the latest trading day's close)."""

    symbol: str
    price: float
    change: float | None
    change_pct: float | None
    open: float
    high: float
    low: float
    prev_close: float
    at: datetime
    source: str
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class DailyBar:
    """One trading day's OHLCV. ``adjusted`` is True when prices are split-adjusted (Polygon
    ``adjusted=true``, Yahoo's chart arrays), False for raw prices (Alpha Vantage TIME_SERIES_DAILY).
    ``vwap`` is the volume-weighted average price when the provider gives one."""

    symbol: str
    day: date
    open: float
    high: float
    low: float
    close: float
    volume: float
    vwap: float | None
    adjusted: bool
    source: str
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class SymbolInfo:
    """One listed instrument from a provider's universe endpoint. Fields the provider does not give are
    None (Alpha Vantage's listing has no currency; Polygon's has no exchange for some OTC names)."""

    symbol: str
    name: str | None
    exchange: str | None
    type: str | None
    currency: str | None
    active: bool
    source: str


Record = Quote | DailyBar | SymbolInfo
