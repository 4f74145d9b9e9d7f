"""One typed settings object, read from the environment.

Every value has a default that runs the embedded stack (local Redis, a SQLite file, the real providers'
public URLs); every malformed value fails at start with a ``SettingsError`` naming the variable and
quoting what was wrong. API keys are held as ``Secret`` so that no repr, log line or traceback shows them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from beat_schedule import TIER_PLANS
from ratelimits import PolicyError, parse_policy
from runtime.plans import DEFAULT_BASE_URLS, DEFAULT_POOLS, PROVIDER_PLANS
from runtime.queues import PROVIDERS
from runtime.variables import REDIS_SCHEMES, UNIVERSE_SOURCES, spec
from storage.engine import check_url, redact
from storage.errors import StorageError


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
    deadline: float


@dataclass(frozen=True)
class Settings:
    """Every setting of the process; ``from_env`` reads them (defaults: ``runtime.variables``)."""

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
    max_deliveries: int
    monthly_budget_usd: float
    budget_warning_usd: float
    tier_plan: str
    dispatch_horizon_seconds: float
    dispatch_lost_after_seconds: float
    max_redrives: int
    universe_source: str
    data_dir: str
    reports_dir: str
    environ_name: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Every variable of ``runtime.variables`` read and checked; the first malformed one raises."""
        env = _Env(os.environ if environ is None else environ)
        redis_url = env.url("REDIS_URL")
        providers = {p: _provider(env, p) for p in PROVIDERS}
        max_wait = env.number("TICKERBEAT_QUOTA_MAX_WAIT_SECONDS")
        budget = env.number("TICKERBEAT_MONTHLY_BUDGET_USD")
        return cls(
            redis_url=redis_url,
            broker_url=env.url("CELERY_BROKER_URL", redis_url),
            result_backend=env.url("CELERY_RESULT_BACKEND", redis_url),
            redbeat_redis_url=env.url("REDBEAT_REDIS_URL", redis_url),
            database_url=env.database_url("DATABASE_URL"),
            providers=providers,
            pools=env.pools("TICKERBEAT_POOLS"),
            pool_lease_seconds=env.number("TICKERBEAT_POOL_LEASE_SECONDS"),
            quota_guard_seconds=env.number("TICKERBEAT_QUOTA_GUARD_SECONDS"),
            quota_max_wait_seconds=max_wait,
            visibility_timeout_seconds=env.whole("TICKERBEAT_VISIBILITY_TIMEOUT_SECONDS"),
            result_expires_seconds=env.whole("TICKERBEAT_RESULT_EXPIRES_SECONDS"),
            max_deliveries=env.whole("TICKERBEAT_MAX_DELIVERIES"),
            monthly_budget_usd=budget,
            budget_warning_usd=_warning(env, budget),
            tier_plan=env.choice("TICKERBEAT_TIER_PLAN", TIER_PLANS),
            dispatch_horizon_seconds=_horizon(env, max_wait),
            dispatch_lost_after_seconds=env.number("TICKERBEAT_DISPATCH_LOST_AFTER_SECONDS"),
            max_redrives=env.whole("TICKERBEAT_MAX_REDRIVES"),
            universe_source=env.choice("TICKERBEAT_UNIVERSE_SOURCE", UNIVERSE_SOURCES),
            data_dir=env.str("TICKERBEAT_DATA_DIR"),
            reports_dir=env.str("TICKERBEAT_REPORTS_DIR"),
            environ_name=env.str("TICKERBEAT_ENV"),
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
    plan = env.choice(f"{prefix}_PLAN", tuple(plans), what="plan")
    quota = env.str(f"{prefix}_QUOTA", plans[plan].policy)
    _check_policy(f"{prefix}_QUOTA", quota)
    base_url = env.url(f"{prefix}_BASE_URL", DEFAULT_BASE_URLS[name], schemes=("http", "https"))
    return ProviderAccount(
        name=name,
        base_url=base_url.rstrip("/"),
        api_key=Secret(env.str(f"{prefix}_API_KEY")),
        plan=plan,
        quota=quota,
        monthly_usd=env.number(f"{prefix}_MONTHLY_USD", plans[plan].monthly_usd),
        included_calls=env.optional_int(f"{prefix}_INCLUDED_CALLS", plans[plan].included_calls),
        overage_usd_per_call=env.number(f"{prefix}_OVERAGE_USD_PER_CALL", plans[plan].overage_usd_per_call),
        connect_timeout=env.number(f"{prefix}_CONNECT_TIMEOUT_SECONDS"),
        read_timeout=env.number(f"{prefix}_READ_TIMEOUT_SECONDS"),
        deadline=env.number(f"{prefix}_DEADLINE_SECONDS"),
    )


def _horizon(env: _Env, max_wait: float) -> float:
    """How far ahead the feeder releases calls: below the longest quota wait, so a released call always
    finds its slot within it (a few seconds of margin for queueing and clock reads)."""
    name = "TICKERBEAT_DISPATCH_HORIZON_SECONDS"
    horizon = env.number(name, min(float(spec(name).default), max_wait * 2 / 3, max_wait - 2))
    if horizon > max_wait - 2:
        raise SettingsError(
            f"{name}: must be at least 2 s below TICKERBEAT_QUOTA_MAX_WAIT_SECONDS ({max_wait:g}), got {horizon:g}"
        )
    return horizon


def _warning(env: _Env, budget: float) -> float:
    name = "TICKERBEAT_BUDGET_WARNING_USD"
    warning = env.number(name)
    if warning > budget:
        raise SettingsError(
            f"{name}: must not exceed TICKERBEAT_MONTHLY_BUDGET_USD ({budget:g}), got {warning:g}"
        )
    return warning


def _check_policy(variable: str, text: str) -> None:
    try:
        parse_policy(text)
    except PolicyError as exc:
        raise SettingsError(f"{variable}: {exc}") from None


class _Env:
    """Typed reads of environment variables, defaults and bounds from ``runtime.variables``; every failure
    names the variable, quotes the value (never a password) and says what would be valid."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def raw(self, name: str) -> str | None:
        """The value as set, stripped; None when unset or blank (the default applies)."""
        value = self._environ.get(name)
        return None if value is None or value.strip() == "" else value.strip()

    def str(self, name: str, default: str | None = None) -> str:
        value = self.raw(name)
        return (spec(name).default if default is None else default) if value is None else value

    def number(self, name: str, default: float | None = None) -> float:
        var, raw = spec(name), self.raw(name)
        if raw is None:
            return float(var.default if default is None else default)
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name}: expected a number ({var.accepted}), got {raw!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise SettingsError(f"{name}: expected a finite number ({var.accepted}), got {raw!r}")
        if var.minimum is not None and value < var.minimum:
            raise SettingsError(f"{name}: must be at least {var.minimum:g}, got {raw!r}")
        if var.maximum is not None and value > var.maximum:
            raise SettingsError(f"{name}: must be at most {var.maximum:g}, got {raw!r}")
        return value

    def whole(self, name: str) -> int:
        raw = self.raw(name)
        if raw is not None and not raw.isdigit():
            raise SettingsError(f"{name}: expected a whole number ({spec(name).accepted}), got {raw!r}")
        return int(self.number(name))

    def optional_int(self, name: str, default: int | None) -> int | None:
        raw = self.raw(name)
        if raw is None:
            return default
        if not raw.isdigit():
            raise SettingsError(f"{name}: expected a whole number of calls, got {raw!r}")
        return int(raw)

    def choice(self, name: str, choices: tuple[str, ...], what: str = "value") -> str:
        value = self.str(name)
        if value not in choices:
            raise SettingsError(
                f"{name}: unknown {what} {value!r}; choose one of {', '.join(sorted(choices))}"
            )
        return value

    def url(self, name: str, default: str | None = None, *, schemes: tuple[str, ...] = REDIS_SCHEMES) -> str:
        value = self.str(name, default)
        expected = f"expected a {'/'.join(schemes)} URL"
        try:
            parts = urlsplit(value)
            port = parts.port
        except ValueError:
            raise SettingsError(f"{name}: {expected}, got {redact(value)!r}") from None
        if parts.scheme not in schemes or (parts.netloc if parts.scheme != "unix" else parts.path) == "":
            raise SettingsError(f"{name}: {expected}, got {redact(value)!r}")
        if (
            parts.scheme in ("redis", "rediss")
            and parts.path.strip("/")
            and not parts.path.strip("/").isdigit()
        ):
            raise SettingsError(
                f"{name}: the path of a Redis URL is a database number (e.g. /0), got {redact(value)!r}"
            )
        if port == 0:
            raise SettingsError(f"{name}: port 0 is not a port, got {redact(value)!r}")
        return value

    def database_url(self, name: str) -> str:
        value = self.str(name)
        try:
            check_url(value)
        except StorageError as exc:
            raise SettingsError(f"{name}: {exc}") from None
        return value

    def pools(self, name: str) -> dict[str, int]:
        raw, pools, seen = self.raw(name), dict(DEFAULT_POOLS), set()
        if raw is None:
            return pools
        for item in raw.split(","):
            key, sep, size = (part.strip() for part in item.partition("="))
            if not sep or not key or not size.isdigit() or int(size) < 1:
                raise SettingsError(
                    f"{name}: expected entries like 'api_calls=5' (a size of at least 1), got {item.strip()!r}"
                )
            if key not in DEFAULT_POOLS:
                raise SettingsError(f"{name}: unknown pool {key!r}; the pools are {', '.join(DEFAULT_POOLS)}")
            if key in seen:
                raise SettingsError(f"{name}: pool {key!r} is given twice")
            seen.add(key)
            pools[key] = int(size)
        return pools


def main(argv: list[str] | None = None) -> int:
    """``python -m runtime.settings [--markdown [NAME ...]]``: check this environment's configuration whole, or
    print the table of the variables (docs/configuration.md; ``NAME``s: those only, as docs/quotas.md)."""
    from runtime.cli import Parser
    from runtime.variables import BY_NAME, markdown_table

    parser = Parser(
        prog="python -m runtime.settings",
        description="Check the configuration in the environment (every variable), or print the table of them.",
    )
    parser.add_argument("--markdown", action="store_true", help="print the table of the variables: default, "
                        "what each accepts and means (docs/configuration.md)")  # fmt: skip
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help="with --markdown: only these (e.g. <P>_PLAN)"
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BY_NAME]
    if unknown or (args.names and not args.markdown):
        parser.error(f"unknown variable {unknown[0]!r}" if unknown else "NAMEs go with --markdown")
    if args.markdown:
        print(markdown_table(args.names), end="")
        return 0
    settings = Settings.from_env()
    print(f"configuration OK: database {redact(settings.database_url)}, Redis {redact(settings.redis_url)}")
    return 0


if __name__ == "__main__":
    # Through the imported module, not this ``__main__`` copy: the wrapper catches runtime.settings.SettingsError.
    from runtime.cli import run_main
    from runtime.settings import main as _main

    run_main(_main)
