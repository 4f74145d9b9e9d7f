"""Checks every record passes before a client returns it (pure, no I/O beyond the exchange calendar).

Parsers turn missing or unparseable numbers into NaN so that a bad row reaches exactly one place: here.
A record with a problem is dropped, counted and logged with its symbol and the reason; it is never
returned.

Rules:
- prices (open, high, low, close/price, previous close, vwap when given) are finite and positive;
- high >= low, and open and close (a quote's price) lie within [low, high];
- volume is finite and non-negative;
- a bar's day is an NYSE trading day (``marketcal.is_trading_day``) and, when ``last_complete`` is given,
  not after it (a bar of a session still in progress is partial, not a daily bar);
- every day and instant lies in ``[EARLIEST, LATEST)`` (a date in year 9999 is a garbled field, and the
  exchange calendar cannot even be asked about it: it overflows);
- a listing's symbol is in the canonical form and its text fields are clean text (``clean_text``) or None.

Checking never raises: a record that cannot even be checked is dropped with the reason.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime

import marketcal
from providers.records import DailyBar, Quote, Record, SymbolInfo
from providers.symbols import parse_symbol

log = logging.getLogger(__name__)

# The span of days and instants a provider may sensibly give (the calendar's own range is narrower).
EARLIEST = date(1970, 1, 1)
LATEST = date(2200, 1, 1)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_TEXT_FIELDS = ("name", "exchange", "type", "currency")


def clean_text(value: object) -> str | None:
    """Provider text as stored text: None unless a string; lone surrogates (which no database can encode)
    removed, control characters (NUL included) and runs of whitespace made one space, the ends stripped;
    None when nothing is left. Length is the storage's business (``storage.rows.fit`` cuts to the column)."""
    if not isinstance(value, str):
        return None
    if not value.isascii():
        value = value.encode("utf-8", "ignore").decode("utf-8")  # drops lone surrogates
    return " ".join(_CONTROL.sub(" ", value).split()) or None


def _day_problem(name: str, value: object) -> str | None:
    if not isinstance(value, date) or isinstance(value, datetime):
        return f"{name} {value!r} is not a date"
    if not EARLIEST <= value < LATEST:
        return f"{name} {value.isoformat()} is outside {EARLIEST.isoformat()}..{LATEST.isoformat()}"
    return None


def _price_problem(name: str, value: object) -> str | None:
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
    ):
        return f"{name} {value!r} is not a finite positive price"
    return None


def _range_problem(open_: float, high: float, low: float, close: float, close_name: str) -> str | None:
    if high < low:
        return f"high {high!r} is below low {low!r}"
    if not low <= open_ <= high:
        return f"open {open_!r} is outside [low {low!r}, high {high!r}]"
    if not low <= close <= high:
        return f"{close_name} {close!r} is outside [low {low!r}, high {high!r}]"
    return None


def bar_problem(bar: DailyBar, last_complete: date | None = None) -> str | None:
    """Why ``bar`` must not be returned, or None when it is sound."""
    for name in ("open", "high", "low", "close"):
        problem = _price_problem(name, getattr(bar, name))
        if problem:
            return problem
    if bar.vwap is not None:
        problem = _price_problem("vwap", bar.vwap)
        if problem:
            return problem
    v = bar.volume
    if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v) or v < 0:
        return f"volume {v!r} is not a finite non-negative number"
    problem = _range_problem(bar.open, bar.high, bar.low, bar.close, "close") or _day_problem("day", bar.day)
    if problem:
        return problem
    try:
        trading = marketcal.is_trading_day(bar.day)
    except (ValueError, OverflowError):  # exchange_calendars.errors.DateOutOfBounds; pandas' limits
        return f"day {bar.day.isoformat()} is outside the exchange calendar's range"
    if not trading:
        return f"day {bar.day.isoformat()} is not a trading day"
    if last_complete is not None and bar.day > last_complete:
        return f"day {bar.day.isoformat()} is after the last completed session {last_complete.isoformat()}"
    return None


def quote_problem(quote: Quote) -> str | None:
    """Why ``quote`` must not be returned, or None when it is sound."""
    for name in ("price", "open", "high", "low", "prev_close"):
        problem = _price_problem(name, getattr(quote, name))
        if problem:
            return problem
    for name in ("change", "change_pct"):
        value = getattr(quote, name)
        if value is not None and not (isinstance(value, int | float) and math.isfinite(value)):
            return f"{name} {value!r} is not a finite number"
    at = quote.at
    if not isinstance(at, datetime) or at.tzinfo is None:
        return f"at {at!r} is not an aware instant"
    problem = _day_problem("at", at.astimezone(UTC).date())
    return problem or _range_problem(quote.open, quote.high, quote.low, quote.price, "price")


def symbol_problem(info: SymbolInfo) -> str | None:
    """Why the listing row ``info`` must not be returned, or None when it is sound."""
    if parse_symbol(info.symbol) != info.symbol:
        return f"symbol {info.symbol!r} is not in the canonical form"
    for name in _TEXT_FIELDS:
        value = getattr(info, name)
        if value is not None and clean_text(value) != value:
            return f"{name} {value[:40]!r} is not clean text"
    if not isinstance(info.active, bool):
        return f"active {info.active!r} is not true/false"
    return None


def record_problem(record: Record, last_complete: date | None = None) -> str | None:
    """Dispatch to the check of ``record``'s type. Never raises: a record that cannot be checked (a
    field of an unexpected type, say) is reported as a problem."""
    try:
        if isinstance(record, DailyBar):
            return bar_problem(record, last_complete)
        if isinstance(record, Quote):
            return quote_problem(record)
        if isinstance(record, SymbolInfo):
            return symbol_problem(record)
    except Exception as exc:  # noqa: BLE001 - a field of a type the rules do not expect
        return f"cannot be checked: {type(exc).__name__}: {str(exc)[:80]}"
    return f"not a record: {type(record).__name__}"


def keep_valid(
    records: Iterable[Record], *, provider: str, endpoint: str, last_complete: date | None = None
) -> tuple[tuple[Record, ...], int]:
    """The sound records (order kept) and the number dropped; each drop is logged with its symbol."""
    kept: list[Record] = []
    dropped = 0
    for record in records:
        problem = record_problem(record, last_complete)
        if problem is None:
            kept.append(record)
            continue
        dropped += 1
        day = getattr(record, "day", None)
        log.warning(
            "%s %s: dropped a bad row for %s%s: %s",
            provider,
            endpoint,
            getattr(record, "symbol", "?"),
            f" on {day}" if day else "",
            problem,
        )
    return tuple(kept), dropped
