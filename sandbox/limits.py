"""Limit enforcement as the providers apply it: sliding windows, calendar-day quotas, sticky blocks.

Pure and single-threaded (the server is one asyncio loop): ``Limiter.admit(client, now)`` decides and, when
it admits, commits in the same call, so no window is charged for a call another window refuses. ``now`` is
epoch seconds from the sandbox clock. Calls are counted at arrival; refused calls are not counted.

Window rule: a call at ``t`` is refused when ``limit`` admitted calls lie in ``(t - seconds, t]``; i.e. at
most ``limit`` calls in any half-open interval of length ``seconds`` (a sliding window, the strict reading).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sandbox.profiles import DailyQuota, Limits

ADMITTED = "admitted"
WINDOW = "window"  # a sliding window is full
DAILY = "daily"  # the day's quota is used up
BLOCKED = "blocked"  # inside a sticky block (Yahoo)


@dataclass(frozen=True)
class Decision:
    verdict: str  # ADMITTED, WINDOW, DAILY or BLOCKED
    retry_at: float | None = None  # epoch seconds at which the refused call would be admitted (if known)
    window: int | None = None  # index of the full window, for WINDOW

    @property
    def admitted(self) -> bool:
        return self.verdict == ADMITTED


def day_of(now: float, quota: DailyQuota) -> str:
    """The quota day (ISO date) containing ``now``: local date in ``quota.zone`` after shifting by ``reset``."""
    hh, mm = (int(x) for x in quota.reset.split(":"))
    local = datetime.fromtimestamp(now, ZoneInfo(quota.zone)) - timedelta(hours=hh, minutes=mm)
    return local.date().isoformat()


@dataclass
class _Client:
    windows: list[deque[float]]
    day: str = ""
    day_count: int = 0
    blocked_until: float = 0.0


class Limiter:
    """One provider's limits, per client (an API-key digest or an IP address)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._clients: dict[str, _Client] = {}

    @property
    def unlimited(self) -> bool:
        return not self.limits.windows and self.limits.daily is None

    def reset(self) -> None:
        self._clients.clear()

    def admit(self, client: str, now: float) -> Decision:
        """Decide for one call arriving at ``now``; commit it when admitted."""
        if self.unlimited:
            return Decision(ADMITTED)
        lim = self.limits
        state = self._clients.get(client)
        if state is None:
            state = self._clients[client] = _Client(windows=[deque() for _ in lim.windows])
        if state.blocked_until > now:
            return Decision(BLOCKED, retry_at=state.blocked_until)
        if lim.daily is not None:
            day = day_of(now, lim.daily)
            if day != state.day:
                state.day, state.day_count = day, 0
            if state.day_count >= lim.daily.limit:
                return self._refuse(state, Decision(DAILY), now)
        for k, (window, calls) in enumerate(zip(lim.windows, state.windows, strict=True)):
            while calls and calls[0] <= now - window.seconds:
                calls.popleft()
            if len(calls) >= window.limit:
                return self._refuse(
                    state, Decision(WINDOW, retry_at=calls[0] + window.seconds, window=k), now
                )
        for calls in state.windows:
            calls.append(now)
        if lim.daily is not None:
            state.day_count += 1
        return Decision(ADMITTED)

    def _refuse(self, state: _Client, decision: Decision, now: float) -> Decision:
        if self.limits.block_seconds > 0:
            state.blocked_until = now + self.limits.block_seconds
            return Decision(BLOCKED, retry_at=state.blocked_until)
        return decision
