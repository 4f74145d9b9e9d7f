"""tickerbeat's quota engine: global, Redis-backed quotas and concurrency pools shared by every worker.

It knows nothing of providers, tasks or storage: it receives a Redis client and a policy.

    policy = parse_policy("30/second, 60/minute")
    limiter = Limiter(redis_client, guard=0.02)
    grant = limiter.acquire("finnhub", policy, max_wait=30.0)   # sleeps until the booked slot
    # with journal=...: decisions journaled ahead, state restored from it after Redis lost it
    with Pool(redis_client, "api_calls", size=5, lease_seconds=300).lease(timeout=60):
        ...
"""

from ratelimits.errors import (
    LeaseLost,
    PolicyError,
    PoolTimeout,
    QuotaError,
    QuotaNotRestored,
    QuotaUnavailable,
    QuotaWait,
)
from ratelimits.limiter import Decision, Grant, Limiter
from ratelimits.policy import Policy, Window, parse_policy
from ratelimits.pool import Lease, Pool
from ratelimits.restore import Journal, journaled
from ratelimits.schedule import Bookings, capacity_within, earliest_schedule, next_slot, quota_floor
from ratelimits.stats import ProviderStats, WindowStats

__all__ = [
    "Bookings",
    "capacity_within",
    "earliest_schedule",
    "next_slot",
    "quota_floor",
    "Decision",
    "Grant",
    "Journal",
    "Lease",
    "LeaseLost",
    "Limiter",
    "Policy",
    "PolicyError",
    "Pool",
    "PoolTimeout",
    "ProviderStats",
    "QuotaError",
    "QuotaNotRestored",
    "QuotaUnavailable",
    "QuotaWait",
    "Window",
    "WindowStats",
    "journaled",
    "parse_policy",
]
