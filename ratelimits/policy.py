"""Quota policies: pure objects parsed from text, no I/O.

Text form: windows separated by commas, each ``N/<length>``:

- rolling windows: ``N/second``, ``N/minute``, ``N/hour``, ``N/day`` (a rolling 86400 s) and
  ``N/<k> <unit>`` such as ``150/10 seconds`` (units second(s), minute(s), hour(s), day(s); k may be decimal);
- calendar days: ``N/day@America/New_York`` (resets at 00:00 local time) or ``N/day@UTC 04:30``
  (resets at that local clock time).

A policy admits a call when every window admits it: at most N calls in any interval of length W (rolling),
at most N calls per calendar period. ``Policy`` and ``Window`` are frozen and hashable.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ratelimits.errors import PolicyError

DAY = 86400.0
UNITS: dict[str, float] = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": DAY}
_LIMIT = re.compile(r"[0-9]+")
_SPAN = re.compile(r"^(?:(?P<k>[0-9]+(?:\.[0-9]+)?)\s*)?(?P<unit>[A-Za-z]+)$")
_HHMM = re.compile(r"^(?P<h>[0-9]{1,2}):(?P<m>[0-9]{2})$")


@dataclass(frozen=True)
class Window:
    """One window of a policy.

    ``limit``: calls allowed per window (>= 1). ``seconds``: the window's length in seconds (a calendar day's
    nominal 86400; its real length is 23-25 h across DST). ``zone``: IANA zone of a calendar-day window,
    None for a rolling one. ``reset_minutes``: local clock time (minutes after midnight) at which a calendar
    day starts. ``text``: canonical text, e.g. ``150/10 seconds`` or ``25/day@America/New_York 04:30``.
    """

    limit: int
    seconds: float
    zone: str | None = None
    reset_minutes: int = 0
    text: str = ""

    @property
    def calendar(self) -> bool:
        return self.zone is not None

    @property
    def identity(self) -> str:
        """What makes two windows the same, whatever their limit: used for key names and duplicates."""
        if self.zone is not None:
            return f"cal:{self.zone}:{self.reset_minutes // 60:02d}{self.reset_minutes % 60:02d}"
        return f"roll:{self.seconds:g}"


@dataclass(frozen=True)
class Policy:
    """An ordered, non-empty tuple of distinct windows; ``text`` is the canonical policy text."""

    windows: tuple[Window, ...]
    text: str

    @property
    def rolling(self) -> tuple[Window, ...]:
        return tuple(w for w in self.windows if not w.calendar)

    @property
    def calendar(self) -> tuple[Window, ...]:
        return tuple(w for w in self.windows if w.calendar)

    @property
    def max_cost(self) -> int:
        """The largest cost one request may have: the smallest limit."""
        return min(w.limit for w in self.windows)

    def __str__(self) -> str:
        return self.text


def parse_policy(text: str) -> Policy:
    """Parse policy text (see the module doc); raise ``PolicyError`` quoting the bad part."""
    if not isinstance(text, str) or not text.strip():
        raise PolicyError(f"empty quota policy {text!r}: expected windows like '30/second, 60/minute'")
    windows: list[Window] = []
    seen: dict[str, str] = {}
    for raw in text.split(","):
        part = raw.strip()
        try:
            window = parse_window(part)
        except PolicyError as exc:
            raise PolicyError(f"bad window '{part}' in '{text.strip()}': {exc}") from None
        if window.identity in seen:
            raise PolicyError(
                f"bad window '{part}' in '{text.strip()}': duplicate window, same period as '{seen[window.identity]}'"
            )
        seen[window.identity] = part
        windows.append(window)
    return Policy(windows=tuple(windows), text=", ".join(w.text for w in windows))


def parse_window(part: str) -> Window:
    """Parse one window such as ``60/minute`` or ``25/day@America/New_York 04:30``; errors say why only."""
    if not part:
        raise PolicyError("empty window (a stray comma?)")
    limit_text, slash, rest = part.partition("/")
    if not slash:
        raise PolicyError("expected 'N/unit', e.g. '30/second' or '150/10 seconds'")
    limit_text = limit_text.strip()
    if not _LIMIT.fullmatch(limit_text):
        raise PolicyError(f"limit must be a whole number of calls, got '{limit_text}'")
    limit = int(limit_text)
    if limit < 1:
        raise PolicyError(f"limit must be at least 1, got {limit}")
    span_text, at, zone_text = rest.partition("@")
    k, unit = _parse_span(span_text.strip())
    seconds = k * UNITS[unit]
    if not at:
        if k == 1:
            return Window(limit, seconds, text=f"{limit}/{unit}")
        return Window(limit, seconds, text=f"{limit}/{k:g} {unit}s")
    if unit != "day" or k != 1:
        raise PolicyError("calendar windows are whole days: write 'N/day@Zone' or 'N/day@Zone HH:MM'")
    zone, reset_minutes = _parse_zone(zone_text.strip())
    reset = "" if reset_minutes == 0 else f" {reset_minutes // 60:02d}:{reset_minutes % 60:02d}"
    return Window(limit, DAY, zone=zone, reset_minutes=reset_minutes, text=f"{limit}/day@{zone}{reset}")


def _parse_span(span: str) -> tuple[float, str]:
    match = _SPAN.match(span)
    if not match:
        raise PolicyError(f"expected a length like 'second', 'minute' or '10 seconds', got '{span}'")
    unit = match["unit"].lower()
    if unit.endswith("s") and unit[:-1] in UNITS:
        unit = unit[:-1]
    if unit not in UNITS:
        raise PolicyError(f"unknown unit '{match['unit']}': use second(s), minute(s), hour(s) or day(s)")
    k = float(match["k"]) if match["k"] is not None else 1.0
    if not math.isfinite(k) or k <= 0:
        raise PolicyError(f"window length must be greater than 0, got '{span}'")
    return k, unit


def _parse_zone(text: str) -> tuple[str, int]:
    pieces = text.split()
    if not pieces or len(pieces) > 2:
        raise PolicyError(f"expected '@Zone' or '@Zone HH:MM' after '@', got '@{text}'")
    zone = pieces[0]
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise PolicyError(
            f"unknown time zone '{zone}' (use an IANA name such as 'America/New_York' or 'UTC')"
        ) from None
    if len(pieces) == 1:
        return zone, 0
    match = _HHMM.match(pieces[1])
    if not match or int(match["h"]) > 23 or int(match["m"]) > 59:
        raise PolicyError(f"bad reset time '{pieces[1]}': expected HH:MM between 00:00 and 23:59")
    return zone, int(match["h"]) * 60 + int(match["m"])
