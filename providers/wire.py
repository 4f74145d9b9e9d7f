"""Pure helpers shared by the provider modules for reading answers: JSON, numbers, times, headers."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime

from marketcal import EASTERN
from providers.redaction import redact
from providers.results import Outcome, Verdict

NAN = float("nan")
SNIPPET = 200  # characters of a body quoted in a message


class BadBody(ValueError):
    """An answer whose body cannot be read as the endpoint's format (garbage, truncated, wrong shape)."""


def loads(text: str) -> object:
    """The JSON value of ``text``; raises ``BadBody`` (with a short redacted quote) when it is not JSON."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise BadBody(f"body is not JSON: {snippet(text)!r}") from None


def try_loads(text: str) -> object | None:
    """The JSON value of ``text``, or None when it is not JSON."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def snippet(text: str, limit: int = SNIPPET) -> str:
    """The first ``limit`` characters of ``text``, whitespace collapsed and secrets redacted."""
    flat = " ".join((text or "").split())
    flat = flat[:limit] + ("..." if len(flat) > limit else "")
    return redact(flat)


def number(value: object) -> float:
    """A float from a JSON number or numeric string; NaN for null, blanks and anything unparseable.

    NaN is deliberate: validation then drops the row with a reason instead of a parser crashing."""
    if isinstance(value, bool) or value is None:
        return NAN
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip().rstrip("%")
        try:
            return float(text)
        except ValueError:
            return NAN
    return NAN


def optional_number(value: object) -> float | None:
    """Like ``number`` but None for null or unparseable (for optional fields such as vwap)."""
    result = number(value)
    return None if math.isnan(result) else result


def et_date_from_ms(ms: object) -> date:
    """The America/New_York calendar date of an epoch-milliseconds stamp (Polygon's ``t``)."""
    if not isinstance(ms, int | float) or isinstance(ms, bool) or not math.isfinite(ms):
        raise BadBody(f"timestamp {ms!r} is not a number of milliseconds")
    try:
        return datetime.fromtimestamp(ms / 1000.0, UTC).astimezone(EASTERN).date()
    except (OverflowError, OSError, ValueError):
        raise BadBody(f"timestamp {ms!r} is out of range") from None


def et_date_from_seconds(seconds: object) -> date:
    """The America/New_York calendar date of an epoch-seconds stamp (Yahoo's ``timestamp``)."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not math.isfinite(seconds):
        raise BadBody(f"timestamp {seconds!r} is not a number of seconds")
    return et_date_from_ms(seconds * 1000.0)


def utc_from_seconds(seconds: object) -> datetime:
    """An aware UTC datetime from epoch seconds; raises ``BadBody`` when not a usable number."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not math.isfinite(seconds):
        raise BadBody(f"timestamp {seconds!r} is not a number of seconds")
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise BadBody(f"timestamp {seconds!r} is out of range") from None


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, case-insensitively (``requests`` headers already are; plain dicts are not)."""
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """``Retry-After`` in seconds from now: delta-seconds, or an HTTP date when ``now`` (epoch s) is given.

    None when absent or unreadable; never negative."""
    value = header(headers, "Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        if now is None:
            return None
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def generic_verdict(status: int, provider: str, body: str) -> Verdict | None:
    """The verdict for statuses every provider means the same way, else None.

    5xx and 408 are transient; 3xx is a configuration problem (base URL moved: we never follow redirects,
    since a redirect could carry a key to another host)."""
    if status >= 500 or status == 408:
        return Verdict(Outcome.TRANSIENT, f"{provider}: HTTP {status} server error: {snippet(body)!r}")
    if 300 <= status < 400:
        return Verdict(
            Outcome.CONFIG_ERROR, f"{provider}: HTTP {status} redirect; the base URL may have moved"
        )
    return None
