"""The quota engine's exceptions.

``PolicyError`` is a user mistake in policy text (a ``ValueError``); everything a caller of the limiter or
a pool must handle derives from ``QuotaError``. No message ever contains a credential.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime


class PolicyError(ValueError):
    """Malformed quota policy text; the message quotes the bad part and says what was expected."""


class QuotaError(Exception):
    """Base of every refusal of the quota engine: no provider call may be made."""


class QuotaWait(QuotaError):
    """The next slot is further away than ``max_wait``; nothing was booked.

    ``until``: the earliest instant (epoch seconds, Redis clock) at which the call could be granted,
    ``inf`` while the provider is blocked until an operator unblocks it.
    """

    def __init__(self, until: float, provider: str, wait: float | None = None) -> None:
        self.until = until
        self.provider = provider
        self.wait = wait
        super().__init__(self._message())

    def _message(self) -> str:
        if math.isinf(self.until):
            return f"{self.provider}: quota blocked until an operator unblocks it"
        when = datetime.fromtimestamp(self.until, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"
        if self.wait is None:
            return f"{self.provider}: next quota slot at {when}"
        return f"{self.provider}: next quota slot in {self.wait:.3f} s (at {when}), beyond the allowed wait"

    def __reduce__(self):  # picklable for Celery results and multiprocessing
        return (type(self), (self.until, self.provider, self.wait))


class QuotaUnavailable(QuotaError):
    """The quota store (Redis) cannot be reached or refused the decision: fail closed, make no call."""


class QuotaNotRestored(QuotaUnavailable):
    """The provider's quota state is not marked restored in Redis (it lost its data) and could not be
    restored from the journal just now: fail closed, make no call (see ``ratelimits.restore``)."""


class PoolTimeout(QuotaError):
    """No lease of a concurrency pool became free within the timeout."""


class LeaseLost(QuotaError):
    """A pool lease expired and was reclaimed before it was renewed or released."""
