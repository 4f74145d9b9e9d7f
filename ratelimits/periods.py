"""Calendar-day arithmetic and feedback-block instants: pure functions of a policy and an instant.

Time-zone rules cannot run inside Redis, so the limiter computes here the starts of the calendar periods
around "now" (epoch seconds) and hands them to the script, which picks the period containing the booked
instant by the Redis clock. Around a DST change a local day lasts 23 or 25 hours; a reset time that does
not exist that day (inside the spring-forward gap) is read with the offset before the change (New York
02:30 on a spring-forward Sunday starts the period at 03:30 EDT); a reset time that happens twice
(fall-back) starts the period at its first occurrence.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from ratelimits.policy import Policy, Window

# How many local days before and after the worker's "now" the period starts cover. The worker clock may be
# wrong by minutes; two days back and eight ahead leave room for skew and for long reservations.
DAYS_BEFORE = 2
DAYS_AFTER = 8


def period_starts(zone: str, reset_minutes: int, around: float) -> tuple[int, ...]:
    """Starts (epoch seconds, ascending) of the local days in ``zone`` that begin at ``reset_minutes`` after
    local midnight, from ``DAYS_BEFORE`` days before the local day of ``around`` to ``DAYS_AFTER`` after.

    Period i is [starts[i], starts[i + 1]).
    """
    tz = ZoneInfo(zone)
    local = datetime.fromtimestamp(around, tz)
    # The period containing `around` may have begun on the previous local date (before the reset time).
    anchor = local.date()
    hour, minute = divmod(reset_minutes, 60)
    starts = []
    for offset in range(-DAYS_BEFORE - 1, DAYS_AFTER + 1):
        d = anchor + timedelta(days=offset)
        starts.append(int(datetime(d.year, d.month, d.day, hour, minute, tzinfo=tz).timestamp()))
    return tuple(starts)


@lru_cache(maxsize=256)
def cached_period_starts(zone: str, reset_minutes: int, hour_bucket: int) -> tuple[int, ...]:
    """``period_starts`` around the start of an hour (``hour_bucket`` = epoch seconds // 3600), memoised."""
    return period_starts(zone, reset_minutes, hour_bucket * 3600.0)


def window_starts(window: Window, around: float) -> tuple[int, ...]:
    """Period starts of a calendar ``window`` around the instant ``around`` (epoch seconds)."""
    assert window.zone is not None, "rolling windows have no calendar periods"
    return cached_period_starts(window.zone, window.reset_minutes, int(around // 3600))


def starts_for_decision(window: Window, around: float, max_wait: float) -> tuple[int, ...]:
    """The period starts a decision needs: from the period containing ``around - 1 day`` (room for a wrong
    worker clock) to the first start after ``around + max_wait + 1 day`` (seconds), so the script can tell
    the period of any instant it may book. Fewer starts keep the script cheap."""
    starts = window_starts(window, around)
    lo = max(0, bisect_right(starts, around - 86400.0) - 1)
    hi = bisect_right(starts, around + min(max_wait, 1e12) + 86400.0) + 1
    return starts[lo:hi]


def next_reset(window: Window, now: float) -> float:
    """The first instant after ``now`` (epoch seconds) at which the calendar ``window`` starts a new period."""
    starts = window_starts(window, now)
    return float(next(s for s in starts if s > now))


def current_period(window: Window, now: float) -> int:
    """Start (epoch seconds) of the calendar ``window``'s period that contains ``now``."""
    starts = window_starts(window, now)
    return max(s for s in starts if s <= now)


def throttle_until(
    policy: Policy, now: float, retry_after: float | None = None, exhausted: bool = False
) -> float:
    """Until when (epoch seconds) a provider that pushed back at ``now`` stays blocked.

    - ``retry_after`` (seconds) given: ``now + retry_after``;
    - else ``exhausted`` (a daily cap was hit): the next reset of the policy's longest window, i.e. the
      latest next calendar-day reset when the policy has calendar windows, else ``now`` plus the longest
      rolling window's length (when a rolling window lets the next call through is unknown to us once the
      provider disagrees with our count, so the whole length is the safe reading);
    - else ``now`` plus the shortest window's length (a calendar day counts as its next reset).
    """
    if retry_after is not None:
        if not (retry_after >= 0) or math.isnan(retry_after):
            raise ValueError(f"retry_after must be a number of seconds >= 0, got {retry_after!r}")
        return now + float(retry_after)
    if exhausted:
        if policy.calendar:
            return max(next_reset(w, now) for w in policy.calendar)
        return now + max(w.seconds for w in policy.rolling)
    candidates = [now + w.seconds for w in policy.rolling] + [next_reset(w, now) for w in policy.calendar]
    return min(candidates)
