"""Provider plans: the quota policy and price of each plan, the defaults the settings start from.

A policy is the quota engine's text form (``ratelimits.parse_policy``): windows separated by commas.
``N/day`` is a rolling 24 hours; ``N/day@Zone [HH:MM]`` is a calendar day in a zone. Where a provider
does not say how it counts (docs/providers.md marks it "(?)"), the policy takes the strict reading.

Any plan's policy can be overridden with ``<PROVIDER>_QUOTA``; the plan is chosen with ``<PROVIDER>_PLAN``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProviderPlan:
    """``monthly_usd``: flat fee; ``included_calls``: calls a month the fee covers (None: all);
    ``overage_usd_per_call``: price of each call beyond them (metered plans; 0 for flat ones)."""

    policy: str
    monthly_usd: float = 0.0
    included_calls: int | None = None
    overage_usd_per_call: float = 0.0


PROVIDER_PLANS: dict[str, dict[str, ProviderPlan]] = {
    "finnhub": {
        # 60/minute free, 30/second on every plan; fixed or sliding window unknown, so sliding (strict).
        "free": ProviderPlan("30/second, 60/minute"),
        "basic": ProviderPlan("30/second, 150/minute", monthly_usd=49.99),
        # The sandbox's `demo` profile: fast enough for a whole day in minutes, still paced.
        "demo": ProviderPlan("50/second, 2000/minute"),
        "unlimited": ProviderPlan("100000/second"),
    },
    "alphavantage": {
        # 25/day with undocumented reset: the strict intersection of rolling 24 h and the New York day.
        "free": ProviderPlan("1/second, 25/day, 25/day@America/New_York"),
        "premium": ProviderPlan("75/minute", monthly_usd=49.99),
        "demo": ProviderPlan("5/second, 500/day@America/New_York"),
        "unlimited": ProviderPlan("100000/second"),
    },
    "polygon": {
        "free": ProviderPlan("5/minute"),
        "starter": ProviderPlan("100/second", monthly_usd=29.0),
        "demo": ProviderPlan("20/second, 600/minute"),
        "unlimited": ProviderPlan("100000/second"),
    },
    "yahoo": {
        # Unofficial and unpublished: a conservative pace that stays clear of its per-IP blocks.
        "free": ProviderPlan("1/second, 30/minute, 1000/day"),
        "demo": ProviderPlan("20/second"),
        "unlimited": ProviderPlan("100000/second"),
    },
}

DEFAULT_BASE_URLS: dict[str, str] = {
    "finnhub": "https://finnhub.io/api/v1",
    "alphavantage": "https://www.alphavantage.co",
    "polygon": "https://api.polygon.io",
    "yahoo": "https://query2.finance.yahoo.com",
}

# Concurrency pools from the seed: leases held in Redis while a task runs (see ratelimits.Pool).
DEFAULT_POOLS: dict[str, int] = {"api_calls": 5, "compute_intensive": 8, "database_tasks": 12}
