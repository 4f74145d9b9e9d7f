"""The sandbox's clock: the real clock, or a pinned start that runs on (or stands still) from there.

Every time-dependent answer (which day is "today", the intraday quote, the free plan's availability, and
the limit windows) reads this one clock, so a test can pin the date with ``--now`` and move time with
``advance()`` instead of waiting for real minutes. Values are epoch seconds (float) or aware UTC datetimes.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


class ClockError(ValueError):
    """A bad ISO 8601 instant was given for the clock."""


def parse_instant(text: str) -> datetime:
    """An aware UTC datetime from ISO 8601 text (``Z`` or an offset; a naive instant is read as UTC)."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ClockError(f"not an ISO 8601 instant: {text!r} (example: 2026-11-25T21:30:00Z)") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class Clock:
    """``start``: the instant the clock shows when (re)started, ``None`` for the real clock.
    ``frozen``: the clock stands still at its current instant until moved by ``set``/``advance``.
    """

    def __init__(self, start: datetime | None = None, frozen: bool = False) -> None:
        self._start = start
        self._frozen_initially = frozen
        self.restart()

    def restart(self) -> None:
        """Back to the configuration given at construction (used by the control ``reset``)."""
        self._offset = 0.0 if self._start is None else self._start.timestamp() - time.time()
        self._frozen_at: float | None = (
            self._start.timestamp() if self._frozen_initially and self._start else None
        )
        if self._frozen_initially and self._start is None:
            self._frozen_at = time.time()

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    @property
    def pinned(self) -> bool:
        return self._start is not None

    def time(self) -> float:
        """Now, in epoch seconds."""
        if self._frozen_at is not None:
            return self._frozen_at
        return time.time() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, if negative) by ``seconds``."""
        if self._frozen_at is not None:
            self._frozen_at += seconds
        else:
            self._offset += seconds

    def set(self, instant: datetime, frozen: bool | None = None) -> None:
        """Show ``instant`` now; then stand still if ``frozen`` (``None`` keeps the current mode)."""
        freeze = self.frozen if frozen is None else frozen
        if freeze:
            self._frozen_at = instant.timestamp()
        else:
            self._frozen_at = None
            self._offset = instant.timestamp() - time.time()

    def freeze(self, frozen: bool) -> None:
        self.set(self.now(), frozen=frozen)
