"""Every environment variable tickerbeat reads: its default, what it accepts and what it means.

The one source of the defaults: ``runtime.settings`` reads them from here, and ``python -m runtime.settings
--markdown`` prints the tables of docs/configuration.md and docs/quotas.md from here
(tests/unit/test_configuration_docs.py keeps them, and the defaults the docs quote, equal to it). ``<P>_``
stands for each provider's prefix.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from beat_schedule import TIER_PLANS
from runtime.plans import DEFAULT_POOLS, PROVIDER_PLANS
from runtime.queues import PROVIDERS
from storage.engine import DEFAULT_URL as DEFAULT_DATABASE_URL
from storage.engine import EXAMPLES as DATABASE_EXAMPLES

PROVIDER = "<P>_"
PREFIXES = tuple(f"{name.upper()}_" for name in PROVIDERS)
UNIVERSE_SOURCES = ("finnhub", "polygon", "alphavantage")
REDIS_SCHEMES = ("redis", "rediss", "unix")


@dataclass(frozen=True)
class Variable:
    """``default``: as it would be written in the environment (None: derived from other values, ``shown``
    says how); a number's ``unit`` and bounds (``minimum``, ``maximum``); ``accepts``: what else is accepted,
    in words."""

    name: str
    default: str | None
    meaning: str
    accepts: str = ""
    shown: str = ""
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None

    @property
    def documented_default(self) -> str:
        if self.default is None:
            return self.shown
        return f"`{self.default}`" if self.default else "empty"

    @property
    def accepted(self) -> str:
        """What the variable accepts, in words: the unit and bounds of a number, then ``accepts``."""
        if not self.unit:
            return self.accepts or "any text"
        if self.maximum is not None:
            bounds = f"{self.unit}, {self.minimum:g} to {self.maximum:g}"
        else:
            bounds = f"{self.unit}, at least {self.minimum:g}"
        return f"{bounds}, {self.accepts}" if self.accepts else bounds


def _plans() -> str:
    return "; ".join(f"{p}: {', '.join(f'`{n}`' for n in plans)}" for p, plans in PROVIDER_PLANS.items())


_REDIS = f"a {'/'.join(REDIS_SCHEMES)} URL"
_POOLS = ",".join(f"{k}={v}" for k, v in DEFAULT_POOLS.items())

VARIABLES: tuple[Variable, ...] = (
    Variable("REDIS_URL", "redis://127.0.0.1:6379/0", "broker, results, quotas and the paced line; the next "
             "three override it for one role each", _REDIS),
    Variable("CELERY_BROKER_URL", None, "the Celery broker", _REDIS, shown="`REDIS_URL`"),
    Variable("CELERY_RESULT_BACKEND", None, "task results", _REDIS, shown="`REDIS_URL`"),
    Variable("REDBEAT_REDIS_URL", None, "RedBeat's schedule and lock", _REDIS, shown="`REDIS_URL`"),
    Variable("DATABASE_URL", DEFAULT_DATABASE_URL, "the database: a SQLite file (the embedded default) or "
             "PostgreSQL through psycopg", f"`{DATABASE_EXAMPLES.replace(' or ', '` or `')}`"),
    Variable("<P>_BASE_URL", None, f"where the provider is reached (a sandbox or a proxy to rehearse); `P` is "
             f"{', '.join(f'`{p[:-1]}`' for p in PREFIXES)}", "an http/https URL",
             shown="the provider's public URL"),
    Variable("<P>_API_KEY", "", "the provider's key, a secret: never in logs, task arguments, results or "
             "reprs (Yahoo needs none)"),
    Variable("<P>_PLAN", "free", "the plan whose policy and price apply (`runtime/plans.py`)", _plans()),
    Variable("<P>_QUOTA", None, "a quota policy replacing the plan's (docs/quotas.md)",
             "a policy, e.g. `30/second, 60/minute`", shown="the plan's policy"),
    Variable("<P>_MONTHLY_USD", None, "the plan's flat monthly fee (the budget counts it)",
             shown="the plan's", unit="US dollars", minimum=0.0),
    Variable("<P>_INCLUDED_CALLS", None, "calls a month the fee covers, on a metered plan (empty: all)",
             "a whole number of calls", shown="the plan's"),
    Variable("<P>_OVERAGE_USD_PER_CALL", None, "the price of each call beyond the included ones",
             shown="the plan's", unit="US dollars", minimum=0.0),
    Variable("<P>_CONNECT_TIMEOUT_SECONDS", "5", "HTTP connect timeout", unit="seconds", minimum=0.1),
    Variable("<P>_READ_TIMEOUT_SECONDS", "30", "HTTP read timeout", unit="seconds", minimum=0.1),
    # A read timeout bounds each wait for bytes, not the call: a provider trickling a byte a second would
    # hold a worker for ever. The deadline bounds the whole call; runtime/queues.py's fetch time limits and
    # TICKERBEAT_DISPATCH_LOST_AFTER_SECONDS's minimum count on its maximum.
    Variable("<P>_DEADLINE_SECONDS", "60", "the whole HTTP call, from connecting to the last byte of the answer; "
             "past it the call ends as outcome `timeout`", unit="seconds", minimum=1.0, maximum=60.0),
    # Must exceed the worst delay between a grant and the request's arrival at the provider: 52 ms was
    # measured on two loaded cores against the sandbox, and 0.1 s still let the odd call land inside a
    # window under load; a real network adds more. 0.25 s costs < 0.5 % of a minute window.
    Variable("TICKERBEAT_QUOTA_GUARD_SECONDS", "0.25", "margin added to every rolling window: must exceed the "
             "delay between a grant and the request's arrival (52 ms measured on loaded cores; 0.1 s still let "
             "the odd call through under load)", unit="seconds", minimum=0.0, maximum=5.0),
    Variable("TICKERBEAT_QUOTA_MAX_WAIT_SECONDS", "30", "longest a worker sleeps for its quota slot; a call "
             "that would wait longer goes back to its place in line", unit="seconds", minimum=5.0),
    Variable("TICKERBEAT_DISPATCH_HORIZON_SECONDS", "20", "how far ahead of their slots admitted calls are "
             "released to the workers", "at most the max wait minus 2",
             shown="`20`, or 2/3 of the max wait when that is shorter", unit="seconds", minimum=1.0),
    # Longer than a released call's life once started (pool wait 60 s, quota wait 30 s, HTTP timeouts 35 s):
    # too short costs nothing but a superseded message (its release no longer holds); too long stalls the
    # line after a worker was SIGKILLed (its in-flight calls count against the horizon until reclaimed).
    Variable("TICKERBEAT_DISPATCH_LOST_AFTER_SECONDS", "300", "a released call still in flight after this is "
             "presumed lost and put back in line", unit="seconds", minimum=150.0),
    # A call lost this often is most likely killing its worker each time, and may spend quota each time.
    Variable("TICKERBEAT_MAX_REDRIVES", "3", "a key of a run presumed lost this many times is marked stale "
             "(`lost N times`) instead of being put back in line again", unit="whole times", minimum=1.0,
             maximum=100.0),
    Variable("TICKERBEAT_UNIVERSE_SOURCE", "finnhub", "where the first start and the daily refresh take the "
             "listing from", ", ".join(f"`{s}`" for s in UNIVERSE_SOURCES)),
    Variable("TICKERBEAT_TIER_PLAN", "bulk-first", "how tiers are refreshed: `seed` is the seed's table (tier 1 "
             "Finnhub hourly, tier 2 Alpha Vantage 20 a day, tier 3 Polygon 100 a day, tier 4 Yahoo weekly); "
             "both in `beat_schedule.py`", ", ".join(f"`{p}`" for p in TIER_PLANS)),
    Variable("TICKERBEAT_POOLS", _POOLS, "concurrency pools (Redis leases); pools left out keep their size",
             f"`name=size` entries separated by commas (sizes at least 1); pools: {', '.join(DEFAULT_POOLS)}"),
    Variable("TICKERBEAT_POOL_LEASE_SECONDS", "300", "a killed holder's pool slot comes back after this",
             unit="seconds", minimum=1.0),
    Variable("TICKERBEAT_VISIBILITY_TIMEOUT_SECONDS", "3600", "Redis broker redelivery of unacknowledged "
             "messages; every task's time limits (`runtime/queues.py`) are kept below it", unit="whole seconds",
             minimum=60.0),
    Variable("TICKERBEAT_RESULT_EXPIRES_SECONDS", "86400", "how long task results are kept",
             unit="whole seconds", minimum=60.0),
    Variable("TICKERBEAT_MAX_DELIVERIES", "3", "deliveries of one message that may each kill their worker; the "
             "next is not run but kept as a dead letter (`python -m stack.ops dead-letters`)",
             unit="whole deliveries", minimum=1.0, maximum=100.0),
    Variable("TICKERBEAT_MONTHLY_BUDGET_USD", "50", "the month's budget: conservation mode keeps the "
             "projected cost below it", unit="US dollars", minimum=0.0),
    Variable("TICKERBEAT_BUDGET_WARNING_USD", "40", "the projected cost at which conservation mode starts",
             "at most the monthly budget", unit="US dollars", minimum=0.0),
    Variable("TICKERBEAT_DATA_DIR", "var", "models and backups (`backups/` in it)", "a directory"),
    Variable("TICKERBEAT_REPORTS_DIR", "reports", "the day's reports", "a directory"),
    Variable("TICKERBEAT_ENV", "production", "a label for this deployment"),
)  # fmt: skip

BY_NAME: dict[str, Variable] = {v.name: v for v in VARIABLES}


def spec(name: str) -> Variable:
    """The variable ``name`` is one of: ``FINNHUB_PLAN`` is ``<P>_PLAN``."""
    for prefix in PREFIXES:
        if name.startswith(prefix) and PROVIDER + name[len(prefix) :] in BY_NAME:
            return BY_NAME[PROVIDER + name[len(prefix) :]]
    return BY_NAME[name]


def markdown_table(names: Iterable[str] = ()) -> str:
    """The table of every variable (or of ``names``, in their order): its default, what it accepts and means;
    docs/configuration.md holds the whole table, docs/quotas.md a part."""
    chosen = [BY_NAME[name] for name in names] or list(VARIABLES)
    rows = ["| variable | default | accepts | meaning |", "|---|---|---|---|"]
    for v in chosen:
        rows.append(f"| `{v.name}` | {v.documented_default} | {v.accepted} | {v.meaning} |")
    return "\n".join(rows) + "\n"
