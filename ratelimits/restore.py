"""Rebuilding a provider's quota state after Redis lost it: pure arithmetic over a durable record, no I/O.

Redis holds every window; if it restarts without its data (no persistence, a flush, a failover to an empty
replica) the windows come back empty and a daily quota would be granted a second time. A ``Limiter`` given
a ``Journal`` therefore refuses to decide for a provider until its state is marked restored, and restores
it from the journal first (``Limiter.restore``). This module says what to restore.

The journal is written AHEAD of every grant (before the decision script runs), so it can only over-count:

- a policy with a window of at least ``JOURNAL_MIN_SECONDS`` (a daily cap) journals each decision as
  ``(earliest, latest, cost)``: the decision's instant and the latest instant its slot can have been booked
  at (the decision plus the longest wait it allowed, plus a margin for the estimate of the Redis clock).
  ``rebuild`` books each entry at its ``latest`` in every rolling window (it leaves the window no earlier
  than the real booking) and counts it in the calendar period of both ``earliest`` and ``latest`` (a period
  boundary between them cannot tell which). A decision that was refused is taken out of the journal again;
  one whose outcome is unknown (Redis failed mid-call) stays in: counted, never missed.
- a policy of short windows only (a minute, a second) journals no decision but an activity lease:
  ``(start, until, 0)``, renewed ahead of any booking later than ``until``. No booking can lie after the
  latest lease's end, so ``full`` books each window full at ``min(now, latest lease end)`` when a lease ends
  within a window's length of now, and nothing when none does (a fresh install, a provider idle for long):
  the cost of a restore is at most one window's wait (a minute), never a lost day.

Both are safe whatever the journal holds that is not a grant; ``restored`` picks one by the policy.
Instants are epoch seconds on the Redis clock (as estimated by the worker that journaled them).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Protocol

from ratelimits.periods import current_period
from ratelimits.policy import Policy
from ratelimits.schedule import Bookings

# A window at least this long (seconds) is rebuilt from a journal of every decision; shorter ones from an
# activity lease. Booking an hour-long window full after a restore would idle the provider for an hour; a
# day-long one would lose the day (Alpha Vantage's 25/day, Yahoo's 1,000/day), so those are counted.
JOURNAL_MIN_SECONDS = 3600.0
# How long a journal entry matters (seconds): the longest window is a (calendar) day of at most 25 hours;
# entries older than this cannot constrain a decision and may be pruned.
JOURNAL_KEEP_SECONDS = 3 * 86400.0
# An activity lease (seconds): one journal write per process and provider this often while it books.
LEASE_SECONDS = 600.0
# Added to a journaled ``latest`` (seconds): how far the worker's estimate of the Redis clock may be off
# (it is corrected at every decision; drift between two decisions is far below this).
CLOCK_MARGIN_SECONDS = 5.0

Grant = tuple[float, float, int]  # (earliest, latest, cost); cost 0 = an activity lease


class Journal(Protocol):
    """The durable record a ``Limiter`` writes ahead of its grants and restores from (see the module doc).

    Every method may raise anything: the limiter then fails closed (``QuotaUnavailable``, no call made).
    """

    def record(self, provider: str, earliest: float, latest: float, cost: int) -> Any:
        """Durably note that ``provider`` may book ``cost`` units between ``earliest`` and ``latest``
        (cost 0: an activity lease until ``latest``); returns a token for ``cancel``. Committed on return."""

    def cancel(self, token: Any) -> None:
        """Forget an entry whose decision was refused (nothing was booked)."""

    def grants(self, provider: str, since: float) -> list[Grant]:
        """Every entry of ``provider`` whose ``latest`` is at or after ``since``."""


def journaled(policy: Policy) -> bool:
    """Whether ``policy`` journals each decision (a window of at least ``JOURNAL_MIN_SECONDS``)."""
    return any(w.seconds >= JOURNAL_MIN_SECONDS for w in policy.windows)


def restored(policy: Policy, grants: Iterable[Grant], now: float, guard: float) -> Bookings:
    """What to restore for ``policy`` at ``now`` from the journal's ``grants`` (``rebuild`` or ``full``)."""
    grants = list(grants)
    if journaled(policy):
        return rebuild(policy, [g for g in grants if g[2] > 0], now, guard)
    return full(policy, [g for g in grants if g[2] == 0], now, guard)


def rebuild(policy: Policy, grants: Iterable[Grant], now: float, guard: float) -> Bookings:
    """Bookings at least as constraining as the journaled decisions ``grants`` were: each booked at its
    ``latest`` in every rolling window (only the newest ``limit`` that can still constrain at ``now``), and
    counted in the calendar period of its ``earliest`` and of its ``latest``. ``last`` is the latest
    ``latest``, so bookings made after the restore stay in time order behind them."""
    grants = list(grants)
    out = Bookings()
    for w in policy.rolling:
        live = sorted(
            latest for _, latest, cost in grants for _ in range(cost) if latest + w.seconds + guard > now
        )
        out.rolling[w.identity] = live[-w.limit :]
    for w in policy.calendar:
        periods: dict[int, int] = {}
        for earliest, latest, cost in grants:
            for start in {current_period(w, earliest), current_period(w, latest)}:
                periods[start] = periods.get(start, 0) + cost
        out.calendar[w.identity] = periods
    out.last = max((latest for _, latest, _ in grants), default=-math.inf)
    return out


def full(policy: Policy, leases: Iterable[Grant], now: float, guard: float) -> Bookings:
    """Every rolling window of a short-window ``policy`` booked full at ``min(now, latest lease end)`` if
    any lease ends within that window's length (+ guard) of ``now``; otherwise empty (nothing can have been
    booked recently enough to matter)."""
    until = max((latest for _, latest, _ in leases), default=-math.inf)
    out = Bookings()
    at = min(now, until)
    for w in policy.rolling:
        out.rolling[w.identity] = [at] * w.limit if until + w.seconds + guard > now else []
    out.last = at if any(out.rolling.values()) else -math.inf
    return out
