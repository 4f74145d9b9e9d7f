"""The exporter's custom collector: reads Redis, the broker and the database AT SCRAPE TIME.

Nothing is kept in the exporter's memory between scrapes, so one exporter process serves the whole
fleet and can restart at will. A source that cannot be read is reported as
``tickerbeat_exporter_source_up{source} 0`` and its metrics are left out of that scrape; every other
error is a bug and fails the scrape (HTTP 500, Prometheus shows ``up == 0``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime

import redis
from prometheus_client.core import Metric
from sqlalchemy.exc import SQLAlchemyError

from dispatch import Backlog
from monitoring import db_source, ledgers, redis_source
from monitoring.samples import Samples, described
from planning import cost
from planning.budget import provider_cost
from ratelimits import Limiter, QuotaUnavailable, parse_policy
from runtime.queues import QUEUE_NAMES
from runtime.settings import Settings

log = logging.getLogger("tickerbeat.exporter")

SOURCE_ERRORS = (redis.RedisError, QuotaUnavailable, SQLAlchemyError, OSError)


def cost_samples(settings: Settings, today: date, usage: Mapping[str, Mapping[date, int]]) -> Samples:
    """Per provider: the cost accrued on ``today`` (a UTC day), month to date and the month's projection,
    from the plans (flat fee, included calls, overage price) and ``usage`` (calls per day this month), the
    same arithmetic as the budget check that sets conservation mode (``planning.budget``)."""
    out = Samples()
    costs = [
        provider_cost(
            name, p.monthly_usd, p.included_calls, p.overage_usd_per_call, usage.get(name, {}), today
        )
        for name, p in sorted(settings.providers.items())
    ]
    for c in costs:
        out.add("tickerbeat_cost_daily_usd", c.today_usd, c.provider)
        out.add("tickerbeat_cost_month_to_date_usd", c.month_to_date_usd, c.provider)
        out.add("tickerbeat_cost_monthly_projection_usd", c.projection_usd, c.provider)
    projected = sum(c.projection_usd for c in costs)
    out.add("tickerbeat_budget_utilisation_ratio", cost.budget_share(projected, settings.monthly_budget_usd))
    return out


def budget_samples(settings: Settings) -> Samples:
    out = Samples()
    out.add("tickerbeat_budget_monthly_usd", settings.monthly_budget_usd)
    out.add("tickerbeat_budget_warning_usd", settings.budget_warning_usd)
    return out


class TickerbeatCollector:
    """A ``prometheus_client`` collector over tickerbeat's shared state.

    Clients are injected: ``redis_client`` (metrics hashes, quota engine, workers), ``broker`` (queue
    depths; default ``redis_client``), ``beat`` (RedBeat's Redis; default ``redis_client``), ``database``
    (a ``storage.Database``; None leaves the database metrics out, cost included: it needs the month's
    usage). ``clock``: epoch seconds, for the database's freshness gauges, the cost day and the day whose
    dispatch runs are shown (their deadlines are judged on the Redis clock).
    """

    def __init__(
        self,
        settings: Settings,
        redis_client,
        *,
        broker=None,
        beat=None,
        database=None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.redis = redis_client
        self.broker = broker if broker is not None else redis_client
        self.beat = beat if beat is not None else redis_client
        self.database = database
        self.clock = clock
        self.limiter = Limiter(redis_client, guard=settings.quota_guard_seconds)
        self.backlog = Backlog(redis_client)
        self.policies = {name: parse_policy(p.quota) for name, p in settings.providers.items()}

    def describe(self) -> list[Metric]:
        """Every family, without reading anything (so registering the collector touches no service)."""
        return list(described())

    def collect(self) -> Iterator[Metric]:
        started = time.monotonic()
        now = datetime.fromtimestamp(self.clock(), UTC)
        samples = budget_samples(self.settings)
        readers: list[tuple[str, Callable[[], Samples]]] = [
            ("redis", lambda: self._read_redis(now)),
            ("broker", lambda: redis_source.read_queues(self.broker, QUEUE_NAMES)),
        ]
        if self.database is not None:
            readers.append(("database", lambda: self._read_database(now)))
        for source, read in readers:
            try:
                samples.merge(read())
                up = 1.0
            except SOURCE_ERRORS as exc:
                log.warning("scrape: cannot read %s: %s", source, exc)
                up = 0.0
            samples.add("tickerbeat_exporter_source_up", up, source)
        samples.add("tickerbeat_exporter_scrape_duration_seconds", time.monotonic() - started)
        yield from samples.families()

    def _read_redis(self, now: datetime) -> Samples:
        out = redis_source.read_metrics(self.redis, self.beat)
        out.merge(redis_source.read_workers(self.redis, QUEUE_NAMES))
        out.merge(redis_source.read_quotas(self.limiter, self.policies))
        day = ledgers.dispatch_day(now).isoformat()
        out.merge(redis_source.read_dispatch(self.backlog, self.policies, day))
        return out

    def _read_database(self, now: datetime) -> Samples:
        with self.database.session() as session:
            out, usage = db_source.read_database(session, now, sorted(self.settings.providers))
        out.merge(cost_samples(self.settings, now.date(), usage))
        return out
