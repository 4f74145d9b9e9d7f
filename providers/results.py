"""What a provider call returns: one ``FetchResult`` carrying an ``Outcome`` and normalised records.

Expected failures are values, never exceptions: the task layer branches on ``outcome`` (see
docs/providers.md for what it should do with each). Only bugs and ``ratelimits.QuotaUnavailable``
(Redis down: fail closed, no call made) raise out of a client.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from providers.records import Record


class Outcome(StrEnum):
    """How a call ended. Values are plain strings, safe in Celery results and metric labels."""

    OK = "ok"  # records returned (possibly none, e.g. a market holiday)
    THROTTLED = "throttled"  # the provider said slow down; retry_at is when the limiter lets us again
    QUOTA_EXHAUSTED = "quota_exhausted"  # a daily (or longer) cap is spent; retry_at is the reset
    NOT_ENTITLED = "not_entitled"  # the plan does not include this data: permanent, never retry
    NOT_FOUND = "not_found"  # unknown or delisted symbol, or no data for it
    TRANSIENT = "transient"  # 5xx, timeout, connection error: retry later with backoff
    TIMEOUT = "timeout"  # no whole answer within the call's deadline (a trickle), or the soft time limit
    BAD_DATA = "bad_data"  # unparseable, garbage or truncated body, or every row failed validation
    CONFIG_ERROR = "config_error"  # missing/invalid key, bad base URL: fix the configuration
    DEFERRED = "deferred"  # our own limiter would wait longer than max_wait: no call made


# Outcomes after which the same call may succeed later without any change on our side.
RETRYABLE = frozenset(
    {Outcome.THROTTLED, Outcome.QUOTA_EXHAUSTED, Outcome.TRANSIENT, Outcome.TIMEOUT, Outcome.DEFERRED}
)


@dataclass(frozen=True)
class Verdict:
    """A classifier's reading of one HTTP answer. ``retry_after`` is in seconds from now (None: not said)."""

    outcome: Outcome
    message: str
    retry_after: float | None = None


@dataclass(frozen=True)
class FetchResult:
    """The result of one client call.

    ``retry_at``: epoch seconds before which retrying is pointless (THROTTLED, QUOTA_EXHAUSTED, DEFERRED),
    else None; ``inf`` while an operator block stands (DEFERRED). ``message``: human-readable and redacted (no key, ever). ``dropped``: rows removed because
    they failed validation or named a symbol outside the accepted form. ``cursor``: for paginated
    listings, where to resume when the listing stopped early (None when complete). ``http_status``: the
    last HTTP status seen (None when no call was answered). ``elapsed``: seconds from sending the request to
    reading the whole answer (or to the failure of the attempt); None when no request was sent.
    """

    provider: str
    endpoint: str
    outcome: Outcome
    records: tuple[Record, ...] = ()
    retry_at: float | None = None
    message: str = ""
    dropped: int = 0
    symbol: str | None = None
    cursor: str | None = None
    http_status: int | None = None
    elapsed: float | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    def summary(self) -> dict[str, object]:
        """A small JSON-safe status record (no rows), fit for a Celery result or a log line."""
        return {
            "provider": self.provider,
            "endpoint": self.endpoint,
            "outcome": self.outcome.value,
            "symbol": self.symbol,
            "records": len(self.records),
            "dropped": self.dropped,
            # JSON has no infinity: an indefinite block (operator pause) is None plus the flag below.
            "retry_at": self.retry_at if self.retry_at is None or math.isfinite(self.retry_at) else None,
            "blocked_indefinitely": self.retry_at is not None and math.isinf(self.retry_at),
            "message": self.message,
            "http_status": self.http_status,
            "more": self.cursor is not None,
        }

    def __repr__(self) -> str:
        # Compact on purpose: a grouped-daily result holds ~12,000 bars.
        return (
            f"FetchResult(provider={self.provider!r}, endpoint={self.endpoint!r}, outcome={self.outcome.name}, "
            f"symbol={self.symbol!r}, records={len(self.records)}, dropped={self.dropped}, "
            f"retry_at={self.retry_at!r}, http_status={self.http_status!r}, message={self.message!r})"
        )
