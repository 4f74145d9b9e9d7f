"""The Redis edge of the quota engine: key names, Lua script loading, and failing closed.

Every key of one provider (or pool) carries the hash tag ``{name}``, so one script touches one Redis
Cluster slot. Scripts are registered with redis-py's ``register_script`` (EVALSHA, reloaded on NOSCRIPT).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources

import redis

from ratelimits.errors import QuotaUnavailable

_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


def check_name(kind: str, name: str) -> str:
    """A provider or pool name usable inside a Redis hash tag; ``ValueError`` otherwise."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"{kind} name must be 1-100 characters of letters, digits, '_', '.', ':' or '-', got {name!r}"
        )
    return name


def lua(name: str) -> str:
    """The text of ``ratelimits/<name>.lua`` (shipped as package data)."""
    return resources.files("ratelimits").joinpath(f"{name}.lua").read_text(encoding="utf-8")


def text(value: bytes | str | None) -> str | None:
    """A reply value as text, whatever the client's ``decode_responses``."""
    if isinstance(value, bytes):
        return value.decode()
    return value


def instant(value: bytes | str | None) -> float | None:
    """A stored instant (``"inf"`` allowed) as a float; None when missing."""
    value = text(value)
    return None if value in (None, "") else float(value)


def unavailable(what: str, exc: Exception) -> QuotaUnavailable:
    """The ``QuotaUnavailable`` for a Redis failure ``exc`` while doing ``what``."""
    return QuotaUnavailable(
        f"quota store unavailable while {what} ({type(exc).__name__}: {exc}); no provider call may be made"
    )


@contextmanager
def fail_closed(what: str) -> Iterator[None]:
    """Turn every Redis failure into ``QuotaUnavailable``: no grant, no lease, a clear reason.

    Connection refused or lost, timeouts, a loading or read-only server, an out-of-memory refusal: all mean
    the quota cannot be checked, so the caller must not call the provider.
    """
    try:
        yield
    except redis.RedisError as exc:
        raise unavailable(what, exc) from exc
