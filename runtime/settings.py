"""One typed settings object, read from the environment.

Every value has a default that runs the embedded stack (local Redis, a SQLite file, the real providers'
public URLs); every malformed value fails at start with a ``SettingsError`` naming the variable and
quoting what was wrong. API keys are held as ``Secret`` so that no repr, log line or traceback shows them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from beat_schedule import TIER_PLANS
from ratelimits import PolicyError, parse_policy
from runtime.plans import DEFAULT_BASE_URLS, DEFAULT_POOLS, PROVIDER_PLANS
from runtime.queues import PROVIDERS
from storage.engine import DEFAULT_URL as DEFAULT_DATABASE_URL


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


class Secret:
    """A string that never prints itself. ``reveal()`` is the only way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class ProviderAccount:
    """Our account at one provider: where and with which key to reach it (``<P>_BASE_URL``, ``<P>_API_KEY``,
    the timeouts; a client's ``providers.ProviderConfig`` is built from these), the plan and its quota
    (``<P>_PLAN``, ``<P>_QUOTA``) and what it costs (``<P>_MONTHLY_USD``...)."""

    name: str
    base_url: str
    api_key: Secret
    plan: str
    quota: str  # policy text for ratelimits.parse_policy
    monthly_usd: float
    included_calls: int | None
    overage_usd_per_call: float
    connect_timeout: float
    read_timeout: float


@dataclass(frozen=True)
class Settings:
    redis_url: str
    broker_url: str
    result_backend: str
    redbeat_redis_url: str
    database_url: str
    providers: Mapping[str, ProviderAccount]
    pools: Mapping[str, int]
    pool_lease_seconds: float
    quota_guard_seconds: float
    quota_max_wait_seconds: float
    visibility_timeout_seconds: int
    result_expires_seconds: int
    monthly_budget_usd: float
    budget_warning_usd: float
    tier_plan: str = "bulk-first"
    dispatch_horizon_seconds: float = 20.0
    dispatch_lost_after_seconds: float = 300.0
    universe_source: str = "finnhub"
    data_dir: str = "var"
    reports_dir: str = "reports"
    environ_name: str = field(default="production")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = _Env(os.environ if environ is None else environ)
        redis_url = env.url("REDIS_URL", "redis://127.0.0.1:6379/0", schemes=("redis", "rediss", "unix"))
        providers = {p: _provider(env, p) for p in PROVIDERS}
        max_wait = env.number("TICKERBEAT_QUOTA_MAX_WAIT_SECONDS", 30.0, minimum=5.0)
        return cls(
            redis_url=redis_url,
            broker_url=env.url("CELERY_BROKER_URL", redis_url, schemes=("redis", "rediss", "unix")),
            result_backend=env.url("CELERY_RESULT_BACKEND", redis_url, schemes=("redis", "rediss", "unix")),
            redbeat_redis_url=env.url("REDBEAT_REDIS_URL", redis_url, schemes=("redis", "rediss", "unix")),
            database_url=env.str("DATABASE_URL", DEFAULT_DATABASE_URL),
            providers=providers,
            pools=env.pools("TICKERBEAT_POOLS", DEFAULT_POOLS),
            pool_lease_seconds=env.number("TICKERBEAT_POOL_LEASE_SECONDS", 300.0, minimum=1.0),
            # Must exceed the worst delay between a grant and the request's arrival at the provider: 52 ms
            # was measured on two loaded cores against the sandbox, and 0.1 s still let the odd call land
            # inside a window under load; a real network adds more. 0.25 s costs < 0.5 % of a minute window.
            quota_guard_seconds=env.number("TICKERBEAT_QUOTA_GUARD_SECONDS", 0.25, minimum=0.0, maximum=5.0),
            quota_max_wait_seconds=max_wait,
            visibility_timeout_seconds=int(
                env.number("TICKERBEAT_VISIBILITY_TIMEOUT_SECONDS", 3600, minimum=60)
            ),
            result_expires_seconds=int(env.number("TICKERBEAT_RESULT_EXPIRES_SECONDS", 86400, minimum=60)),
            monthly_budget_usd=env.number("TICKERBEAT_MONTHLY_BUDGET_USD", 50.0, minimum=0.0),
            budget_warning_usd=env.number("TICKERBEAT_BUDGET_WARNING_USD", 40.0, minimum=0.0),
            tier_plan=_tier_plan(env.str("TICKERBEAT_TIER_PLAN", "bulk-first")),
            dispatch_horizon_seconds=_horizon(env, max_wait),
            # Longer than a released call's life once started (pool wait 60 s, quota wait 30 s, HTTP timeouts
            # 35 s): a release still in flight after this is presumed lost and goes back in line. Too short
            # costs nothing but a superseded message (its release no longer holds); too long stalls the line
            # after a worker was SIGKILLed (its in-flight calls count against the horizon until reclaimed).
            dispatch_lost_after_seconds=env.number(
                "TICKERBEAT_DISPATCH_LOST_AFTER_SECONDS", 300.0, minimum=150.0
            ),
            universe_source=_universe_source(env.str("TICKERBEAT_UNIVERSE_SOURCE", "finnhub")),
            data_dir=env.str("TICKERBEAT_DATA_DIR", "var"),
            reports_dir=env.str("TICKERBEAT_REPORTS_DIR", "reports"),
            environ_name=env.str("TICKERBEAT_ENV", "production"),
        )


_loaded: Settings | None = None


def load() -> Settings:
    """The process's settings, read from the environment once (``SettingsError`` names a bad variable)."""
    global _loaded
    if _loaded is None:
        _loaded = Settings.from_env()
    return _loaded


def _provider(env: _Env, name: str) -> ProviderAccount:
    prefix = name.upper()
    plans = PROVIDER_PLANS[name]
    plan = env.str(f"{prefix}_PLAN", "free")
    if plan not in plans:
        raise SettingsError(f"{prefix}_PLAN: unknown plan {plan!r}; choose one of {', '.join(sorted(plans))}")
    quota = env.str(f"{prefix}_QUOTA", plans[plan].policy)
    _check_policy(f"{prefix}_QUOTA", quota)
    return ProviderAccount(
        name=name,
        base_url=env.url(f"{prefix}_BASE_URL", DEFAULT_BASE_URLS[name], schemes=("http", "https")).rstrip(
            "/"
        ),
        api_key=Secret(env.str(f"{prefix}_API_KEY", "")),
        plan=plan,
        quota=quota,
        monthly_usd=env.number(f"{prefix}_MONTHLY_USD", plans[plan].monthly_usd, minimum=0.0),
        included_calls=env.optional_int(f"{prefix}_INCLUDED_CALLS", plans[plan].included_calls),
        overage_usd_per_call=env.number(
            f"{prefix}_OVERAGE_USD_PER_CALL", plans[plan].overage_usd_per_call, minimum=0.0
        ),
        connect_timeout=env.number(f"{prefix}_CONNECT_TIMEOUT_SECONDS", 5.0, minimum=0.1),
        read_timeout=env.number(f"{prefix}_READ_TIMEOUT_SECONDS", 30.0, minimum=0.1),
    )


def _tier_plan(name: str) -> str:
    if name not in TIER_PLANS:
        raise SettingsError(
            f"TICKERBEAT_TIER_PLAN: unknown plan {name!r}; choose one of {', '.join(TIER_PLANS)}"
        )
    return name


def _horizon(env: _Env, max_wait: float) -> float:
    """How far ahead the feeder releases calls: below the longest quota wait, so a released call always
    finds its slot within it (a few seconds of margin for queueing and clock reads)."""
    horizon = env.number(
        "TICKERBEAT_DISPATCH_HORIZON_SECONDS", min(20.0, max_wait * 2 / 3, max_wait - 2), minimum=1.0
    )
    if horizon > max_wait - 2:
        raise SettingsError(
            f"TICKERBEAT_DISPATCH_HORIZON_SECONDS: must be at least 2 s below TICKERBEAT_QUOTA_MAX_WAIT_SECONDS "
            f"({max_wait:g}), got {horizon:g}"
        )
    return horizon


UNIVERSE_SOURCES = ("finnhub", "polygon", "alphavantage")


def _universe_source(name: str) -> str:
    if name not in UNIVERSE_SOURCES:
        raise SettingsError(
            f"TICKERBEAT_UNIVERSE_SOURCE: unknown source {name!r}; choose one of {', '.join(UNIVERSE_SOURCES)}"
        )
    return name


def _check_policy(variable: str, text: str) -> None:
    try:
        parse_policy(text)
    except PolicyError as exc:
        raise SettingsError(f"{variable}: {exc}") from None


class _Env:
    """Typed reads of environment variables; every failure names the variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def str(self, name: str, default: str) -> str:
        value = self._environ.get(name)
        return default if value is None or value.strip() == "" else value.strip()

    def number(
        self, name: str, default: float, *, minimum: float | None = None, maximum: float | None = None
    ) -> float:
        raw = self._environ.get(name)
        if raw is None or raw.strip() == "":
            return float(default)
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name}: expected a number, got {raw!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise SettingsError(f"{name}: expected a finite number, got {raw!r}")
        if minimum is not None and value < minimum:
            raise SettingsError(f"{name}: must be at least {minimum:g}, got {raw!r}")
        if maximum is not None and value > maximum:
            raise SettingsError(f"{name}: must be at most {maximum:g}, got {raw!r}")
        return value

    def optional_int(self, name: str, default: int | None) -> int | None:
        raw = self._environ.get(name)
        if raw is None or raw.strip() == "":
            return default
        if not raw.strip().isdigit():
            raise SettingsError(f"{name}: expected a whole number of calls, got {raw!r}")
        return int(raw.strip())

    def url(self, name: str, default: str, *, schemes: tuple[str, ...]) -> str:
        value = self.str(name, default)
        parts = urlsplit(value)
        if parts.scheme not in schemes or (parts.scheme != "unix" and not parts.netloc):
            raise SettingsError(f"{name}: expected a {'/'.join(schemes)} URL, got {_redact_url(value)!r}")
        return value

    def pools(self, name: str, default: Mapping[str, int]) -> dict[str, int]:
        raw = self._environ.get(name)
        pools = dict(default)
        if raw is None or raw.strip() == "":
            return pools
        for item in raw.split(","):
            key, sep, size = item.partition("=")
            key, size = key.strip(), size.strip()
            if not sep or not key or not size.isdigit() or int(size) < 1:
                raise SettingsError(f"{name}: expected entries like 'api_calls=5', got {item.strip()!r}")
            pools[key] = int(size)
        return pools


def _redact_url(url: str) -> str:
    """A URL with any password replaced, for error messages."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(parts.password, "***")
    return url
