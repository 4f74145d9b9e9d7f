"""Quota statistics per provider, read from Redis alone (for the metrics exporter, the planner, operators)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ratelimits.periods import window_starts
from ratelimits.policy import Policy
from ratelimits.store import instant, text


@dataclass(frozen=True)
class WindowStats:
    """One window at the moment of reading.

    ``used``: units booked in the window ending now, bookings already made for later instants included
    (they are committed); a rolling window tracks at most ``limit`` units, so ``used <= limit`` there. ``next_reset``: epoch seconds (Redis clock) when the window next frees capacity: the next
    period start of a calendar day; for a rolling window, when the oldest booking counted in ``used``
    leaves it (plus the guard), None when nothing is used.
    """

    text: str
    limit: int
    seconds: float
    used: int
    next_reset: float | None


@dataclass(frozen=True)
class ProviderStats:
    """Usage, block and lifetime counters of one provider.

    ``blocked_until``: epoch seconds (``inf`` = until unblocked) or None; ``block_reason``: the reason given.
    ``granted``: units of quota granted; ``waited``: grants that had to wait; ``wait_seconds``: their total
    wait in seconds; ``refused``: requests refused (``QuotaWait``); ``violations``: provider push-backs
    reported. ``at``: the Redis clock (epoch seconds) when read.
    """

    provider: str
    windows: list[WindowStats]
    blocked_until: float | None
    block_reason: str | None
    granted: int
    waited: int
    wait_seconds: float
    refused: int
    violations: int
    at: float = field(default=0.0)


def read_stats(client, provider: str, policy: Policy, keys: list[str], guard: float) -> ProviderStats:
    """Read ``provider``'s state in one MULTI/EXEC. ``keys``: as built by ``Limiter`` (state, stats, then
    one per window of ``policy``); ``guard`` in seconds. Raises redis errors (callers fail closed)."""
    pipe = client.pipeline(transaction=True)
    pipe.time()
    pipe.hgetall(keys[0])
    pipe.hgetall(keys[1])
    for window, key in zip(policy.windows, keys[2:], strict=True):
        if window.calendar:
            pipe.hgetall(key)
        else:
            pipe.lrange(key, 0, -1)
    (seconds, micros), block, counters, *states = pipe.execute()
    now = seconds + micros / 1e6
    block = {text(k): text(v) for k, v in block.items()}
    counters = {text(k): text(v) for k, v in counters.items()}
    windows = [_window_stats(w, state, now, guard) for w, state in zip(policy.windows, states, strict=True)]
    until = instant(block.get("until"))
    blocked = until is not None and until > now
    return ProviderStats(
        provider=provider,
        windows=windows,
        blocked_until=until if blocked else None,
        block_reason=block.get("reason") if blocked else None,
        granted=int(counters.get("granted", 0)),
        waited=int(counters.get("waited", 0)),
        wait_seconds=float(counters.get("wait_seconds", 0.0)),
        refused=int(counters.get("refused", 0)),
        violations=int(counters.get("violations", 0)),
        at=now,
    )


def _window_stats(window, state, now: float, guard: float) -> WindowStats:
    if window.calendar:
        starts = window_starts(window, now)
        current = max(s for s in starts if s <= now)
        counts = {text(k): int(text(v)) for k, v in state.items()}
        used = counts.get(str(current), 0)
        next_reset: float | None = float(min(s for s in starts if s > now))
    else:
        live = [float(text(g)) for g in state if float(text(g)) > now - window.seconds]
        used = len(live)
        next_reset = min(live) + window.seconds + guard if live else None
    return WindowStats(window.text, window.limit, window.seconds, used, next_reset)
