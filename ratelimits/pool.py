"""Concurrency pools: at most ``size`` holders at once across every process, as leases with expiry in Redis.

A lease is a member of the pool's sorted set scored by its expiry (Redis clock). Expired leases are
reclaimed atomically whenever anyone acquires (pool.lua), so a SIGKILLed holder's slot comes back within
its lease time by itself; long holders ``renew``.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from ratelimits.errors import LeaseLost, PoolTimeout, QuotaUnavailable
from ratelimits.store import check_name, fail_closed, lua, text

log = logging.getLogger(__name__)

_POLL_FIRST = 0.01  # seconds between tries when the pool is full, growing ...
_POLL_MAX = 0.25  # ... up to this (or until the earliest lease expires, if sooner)


@dataclass
class Lease:
    """One slot of a pool, held until ``expires`` (epoch seconds, Redis clock) unless renewed or released.

    Use as a context manager (released on exit, exception or not).
    """

    pool: Pool
    token: str
    expires: float
    released: bool = field(default=False)

    def renew(self, lease_seconds: float | None = None) -> float:
        """Extend the lease to now + ``lease_seconds`` (default: the pool's); returns the new expiry.
        Raises ``LeaseLost`` when it had already expired and been reclaimed."""
        self.expires = self.pool.renew(self, lease_seconds)
        return self.expires

    def release(self) -> None:
        self.pool.release(self)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.release()
        except QuotaUnavailable:
            if exc_type is None:
                raise
            # Do not hide the holder's own error; the slot comes back when the lease expires.
            log.warning(
                "pool %r: could not release a lease (Redis unavailable); it expires by itself", self.pool.name
            )


class Pool:
    """A named concurrency pool of ``size`` slots held as leases of ``lease_seconds`` (seconds) in Redis.

    The client is injected. ``sleep`` (seconds -> None) is what ``acquire`` waits with between tries.
    """

    def __init__(
        self,
        client,
        name: str,
        size: int,
        lease_seconds: float = 300.0,
        *,
        key_prefix: str = "tickerbeat:pool",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        check_name("pool", name)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"pool size must be a whole number >= 1, got {size!r}")
        if (
            not isinstance(lease_seconds, int | float)
            or not math.isfinite(lease_seconds)
            or lease_seconds <= 0
        ):
            raise ValueError(f"lease_seconds must be a finite number of seconds > 0, got {lease_seconds!r}")
        self.name = name
        self.size = size
        self.lease_seconds = float(lease_seconds)
        self.key = f"{key_prefix}:{{{name}}}"
        self._client = client
        self._sleep = sleep
        self._script = client.register_script(lua("pool"))
        self._owner = f"{socket.gethostname()}:{os.getpid()}"

    def __repr__(self) -> str:
        return f"Pool({self.name!r}, size={self.size}, lease_seconds={self.lease_seconds:g})"

    def try_acquire(self) -> Lease | None:
        """One attempt: a lease, or None when the pool is full."""
        return self._try(f"{self._owner}:{uuid.uuid4().hex}")[0]

    def _try(self, token: str) -> tuple[Lease | None, float]:
        with fail_closed(f"acquiring a lease of pool {self.name!r}"):
            status, value, now = self._script(
                keys=[self.key], args=["acquire", token, str(self.size), repr(self.lease_seconds)]
            )
        if text(status) == "1":
            return Lease(self, token, float(text(value))), 0.0
        return None, max(0.0, float(text(value)) - float(text(now)))

    def acquire(self, timeout: float = 60.0) -> Lease:
        """A lease, waiting up to ``timeout`` seconds for a free slot; ``PoolTimeout`` after that,
        ``QuotaUnavailable`` when Redis cannot be reached."""
        if not isinstance(timeout, int | float) or math.isnan(timeout) or timeout < 0:
            raise ValueError(f"timeout must be a number of seconds >= 0, got {timeout!r}")
        token = f"{self._owner}:{uuid.uuid4().hex}"
        deadline = time.monotonic() + timeout
        pause = _POLL_FIRST
        while True:
            lease, until_expiry = self._try(token)
            if lease is not None:
                return lease
            left = deadline - time.monotonic()
            if left <= 0:
                raise PoolTimeout(f"pool {self.name!r}: all {self.size} slots busy for {timeout:g} s")
            self._sleep(max(0.001, min(left, pause, until_expiry + 0.001)))
            pause = min(pause * 1.5, _POLL_MAX)

    def lease(self, timeout: float = 60.0) -> Lease:
        """``acquire`` for ``with pool.lease(timeout=60) as lease: ...`` (released on exit)."""
        return self.acquire(timeout)

    def renew(self, lease: Lease, lease_seconds: float | None = None) -> float:
        """Extend ``lease`` to now + ``lease_seconds`` (default the pool's); the new expiry (Redis clock)."""
        seconds = self.lease_seconds if lease_seconds is None else float(lease_seconds)
        if not math.isfinite(seconds) or seconds <= 0:
            raise ValueError(f"lease_seconds must be a finite number of seconds > 0, got {lease_seconds!r}")
        if lease.released:
            raise LeaseLost(f"pool {self.name!r}: lease already released")
        with fail_closed(f"renewing a lease of pool {self.name!r}"):
            status, value, _ = self._script(keys=[self.key], args=["renew", lease.token, "0", repr(seconds)])
        if text(status) != "1":
            raise LeaseLost(f"pool {self.name!r}: lease expired and was reclaimed before renewal")
        return float(text(value))

    def release(self, lease: Lease) -> None:
        """Give the slot back (idempotent)."""
        if lease.released:
            return
        with fail_closed(f"releasing a lease of pool {self.name!r}"):
            self._client.zrem(self.key, lease.token)
        lease.released = True

    def in_use(self) -> int:
        """Leases held and not expired, now (Redis clock)."""
        with fail_closed(f"counting leases of pool {self.name!r}"):
            _, count, _ = self._script(keys=[self.key], args=["count", "", "0", "0"])
        return int(text(count))
