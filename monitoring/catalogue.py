"""The one declaration of every metric the exporter serves: name, type, labels and meaning.

``docs/metrics.md`` documents the same list (a test keeps them equal), the collector builds its families
from it, and the Grafana dashboard and the alert rules may only query names declared here.

Names follow Prometheus conventions: the ``tickerbeat_`` prefix, base units (``_seconds``, ``_usd``,
``_ratio`` for 0..1 fractions), ``_total`` for counters (the name a query uses), and a histogram's base
name (queried as ``_bucket``, ``_sum`` and ``_count``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # counter | gauge | histogram
    labels: tuple[str, ...]
    help: str
    group: str

    @property
    def family(self) -> str:
        """The family name prometheus_client uses (a counter's name without ``_total``)."""
        return self.name[: -len("_total")] if self.kind == "counter" else self.name

    @property
    def series(self) -> tuple[str, ...]:
        """The sample names a scrape shows for this metric."""
        if self.kind == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)


def _m(group: str, name: str, kind: str, labels: str, help: str) -> Metric:
    return Metric(name, kind, tuple(labels.split()) if labels else (), help, group)


API, QUOTA, DISPATCH, COST, PIPELINE, QUALITY, EXPORTER = (
    "api", "quota", "dispatch", "cost", "pipeline", "quality", "exporter"
)  # fmt: skip
_DAY_RUNS = "the day's runs and the open ones"

METRICS: tuple[Metric, ...] = (
    # -- API usage (workers, through Redis) -------------------------------------------------------------
    _m(API, "tickerbeat_api_calls_total", "counter", "provider endpoint outcome",
       "Provider client calls by outcome (ok, throttled, quota_exhausted, not_entitled, not_found, transient, "
       "timeout, bad_data, config_error, deferred, unavailable); deferred and unavailable sent no request."),
    _m(API, "tickerbeat_api_call_duration_seconds", "histogram", "provider endpoint",
       "HTTP time of provider calls that sent a request, from sending to reading the whole answer."),
    _m(API, "tickerbeat_api_usage_calls", "gauge", "provider window",
       "Calls made per provider from the api_usage table: window=day (today, UTC) or month (month to date)."),
    _m(API, "tickerbeat_store_records_total", "counter", "provider outcome",
       "Records of fetched answers by what storage did with them: stored, or refused (a value its table "
       "cannot hold, or refused by the database for a data reason: that record's bad data, logged with why)."),
    _m(API, "tickerbeat_store_failures_total", "counter", "provider outcome",
       "Store steps the database did not take: retried (an operational error: connection lost, locked, "
       "read-only), unavailable (still failing after the retries: nothing written, the call back in line), "
       "held (no call made while the database was found unavailable in the last 30 s)."),
    # -- quota engine (Limiter.stats, read from Redis at scrape time) -----------------------------------
    _m(QUOTA, "tickerbeat_quota_used", "gauge", "provider window",
       "Units booked in the quota window ending now (bookings for later instants included)."),
    _m(QUOTA, "tickerbeat_quota_limit", "gauge", "provider window", "The window's limit in units."),
    _m(QUOTA, "tickerbeat_quota_utilisation_ratio", "gauge", "provider window", "used / limit of the window."),
    _m(QUOTA, "tickerbeat_quota_window_seconds", "gauge", "provider window",
       "The window's length (a calendar day: 86400)."),
    _m(QUOTA, "tickerbeat_quota_blocked", "gauge", "provider",
       "1 while the provider is blocked (its push-back or an operator pause), else 0."),
    _m(QUOTA, "tickerbeat_quota_blocked_until_timestamp_seconds", "gauge", "provider",
       "When the block ends (epoch seconds, Redis clock; +Inf until unblocked); 0 when not blocked."),
    _m(QUOTA, "tickerbeat_quota_granted_total", "counter", "provider", "Units of quota granted."),
    _m(QUOTA, "tickerbeat_quota_waited_total", "counter", "provider", "Grants that had to wait for their slot."),
    _m(QUOTA, "tickerbeat_quota_wait_seconds_total", "counter", "provider", "Total wait of those grants."),
    _m(QUOTA, "tickerbeat_quota_refused_total", "counter", "provider",
       "Requests refused because the slot was further away than the caller would wait (deferred)."),
    _m(QUOTA, "tickerbeat_quota_violations_total", "counter", "provider",
       "Provider push-backs (HTTP 429, Alpha Vantage Information/Note) reported to the quota engine."),
    # -- paced dispatch (the Backlog's lines and run ledgers, read from Redis at scrape time) ---------------
    _m(DISPATCH, "tickerbeat_dispatch_in_line", "gauge", "provider",
       "Admitted calls waiting in the provider's line for the feeder to release them."),
    _m(DISPATCH, "tickerbeat_dispatch_in_flight", "gauge", "provider",
       "Calls released to the provider's queue and not yet settled (made, deferred back in line, failed)."),
    _m(DISPATCH, "tickerbeat_dispatch_planned", "gauge", "provider kind",
       f"Calls planned by {_DAY_RUNS}: admitted + carried at planning."),
    _m(DISPATCH, "tickerbeat_dispatch_admitted", "gauge", "provider kind",
       f"Calls admitted by {_DAY_RUNS}: made + carried + stale + pending."),
    _m(DISPATCH, "tickerbeat_dispatch_made", "gauge", "provider kind", f"Calls made, of {_DAY_RUNS}."),
    _m(DISPATCH, "tickerbeat_dispatch_deferred_then_made", "gauge", "provider kind",
       f"Calls made after at least one deferral (a part of made), of {_DAY_RUNS}."),
    _m(DISPATCH, "tickerbeat_dispatch_carried", "gauge", "provider kind",
       f"Calls carried to the next run (at planning, or when the window ended), of {_DAY_RUNS}."),
    _m(DISPATCH, "tickerbeat_dispatch_stale", "gauge", "provider kind",
       f"Calls given up as stale with the reason (window ended, task failed), of {_DAY_RUNS}."),
    _m(DISPATCH, "tickerbeat_dispatch_pending", "gauge", "provider kind",
       f"Admitted calls not yet made, carried or stale (in line or in flight), of {_DAY_RUNS}."),
    _m(DISPATCH, "tickerbeat_dispatch_undone", "gauge", "provider kind",
       "Admitted calls still pending after their run's deadline (Ledger.undone_after, Redis clock)."),
    _m(DISPATCH, "tickerbeat_dispatch_unbalanced_runs", "gauge", "provider kind",
       f"Runs whose counts do not add up (Ledger.problems) in three reads, of {_DAY_RUNS}."),
    _m(DISPATCH, "tickerbeat_dispatch_redrives_total", "counter", "provider outcome",
       "Released calls presumed lost (in flight past TICKERBEAT_DISPATCH_LOST_AFTER_SECONDS): requeued (back "
       "in line) or given_up (lost TICKERBEAT_MAX_REDRIVES times in its run: marked stale, not released again)."),
    # -- cost and budget (plans, settings, Redis) ---------------------------------------------------------
    _m(COST, "tickerbeat_cost_daily_usd", "gauge", "provider",
       "Cost accrued today (UTC): the day's share of the plan fee plus overage beyond the included calls."),
    _m(COST, "tickerbeat_cost_month_to_date_usd", "gauge", "provider",
       "Cost accrued this calendar month (fees and overage), from api_usage and the plan."),
    _m(COST, "tickerbeat_cost_monthly_projection_usd", "gauge", "provider",
       "The month's cost at the month-to-date pace (the budget check's own arithmetic, planning/budget.py)."),
    _m(COST, "tickerbeat_budget_monthly_usd", "gauge", "", "The monthly budget (TICKERBEAT_MONTHLY_BUDGET_USD)."),
    _m(COST, "tickerbeat_budget_warning_usd", "gauge", "",
       "The projection at which conservation mode starts (TICKERBEAT_BUDGET_WARNING_USD)."),
    _m(COST, "tickerbeat_budget_utilisation_ratio", "gauge", "", "The month's projected cost / the budget."),
    _m(COST, "tickerbeat_conservation_mode", "gauge", "",
       "1 while conservation mode is active (the last budget check's verdict), else 0."),
    _m(COST, "tickerbeat_conservation_level", "gauge", "",
       "The last budget check's conservation level: 0 normal, 1..3 drop optional schedule entries."),
    # -- pipeline: tasks (workers, through Redis), queues (broker), workers, beat -----
    _m(PIPELINE, "tickerbeat_tasks_total", "counter", "task queue state",
       "Finished task runs by final state (success, failure, retry, ...)."),
    _m(PIPELINE, "tickerbeat_task_duration_seconds", "histogram", "task queue", "Run time of task runs."),
    _m(PIPELINE, "tickerbeat_dead_letters_total", "counter", "task queue",
       "Messages kept as dead letters instead of run again: delivered more than TICKERBEAT_MAX_DELIVERIES "
       "times, their worker dying each time (python -m stack.ops dead-letters); 0 per queue, task empty, "
       "before the first."),
    _m(PIPELINE, "tickerbeat_queue_messages", "gauge", "queue", "Messages waiting in the queue (broker)."),
    _m(PIPELINE, "tickerbeat_queue_unacked_messages", "gauge", "queue",
       "Messages delivered to a worker and not yet acknowledged (running or reserved)."),
    _m(PIPELINE, "tickerbeat_queue_consumers", "gauge", "queue", "Live workers consuming the queue."),
    _m(PIPELINE, "tickerbeat_worker_processes", "gauge", "queue",
       "Pool processes of the live workers consuming the queue."),
    _m(PIPELINE, "tickerbeat_worker_busy_processes", "gauge", "queue",
       "Of those, processes running a task now."),
    _m(PIPELINE, "tickerbeat_worker_utilisation_ratio", "gauge", "queue",
       "busy / processes now (0 without workers); rate(task_duration_seconds_sum) / processes over time."),
    _m(PIPELINE, "tickerbeat_beat_last_tick_timestamp_seconds", "gauge", "",
       "When the active beat last ticked (epoch seconds, Redis clock); 0 when it never did."),
    # -- data quality (database) --------------------------------------------------------------------------
    _m(QUALITY, "tickerbeat_active_symbols", "gauge", "", "Active symbols in the universe."),
    _m(QUALITY, "tickerbeat_last_bar_age_seconds", "gauge", "",
       "Now minus the close of the newest bar's session (+Inf without bars)."),
    _m(QUALITY, "tickerbeat_data_staleness_seconds", "gauge", "",
       "Seconds since the first session the newest bar does not cover closed; 0 while current, so it "
       "does not grow over weekends and holidays (+Inf without bars)."),
    _m(QUALITY, "tickerbeat_daily_bars_fresh_ratio", "gauge", "",
       "Share of active symbols with a bar for the newest session past its deadline (06:00 New York the "
       "next day)."),
    _m(QUALITY, "tickerbeat_stale_symbols", "gauge", "",
       "Symbols served from cache (no provider could serve them) for that session."),
    _m(QUALITY, "tickerbeat_data_quality_day_timestamp_seconds", "gauge", "",
       "Close of the session the data_quality gauges below describe (the newest checked day)."),
    _m(QUALITY, "tickerbeat_data_freshness_ratio", "gauge", "tier",
       "Share of the tier's symbols whose last bar is the checked day."),
    _m(QUALITY, "tickerbeat_missing_bars_ratio", "gauge", "",
       "Share of expected bars missing over the last 20 sessions."),
    _m(QUALITY, "tickerbeat_data_anomalies", "gauge", "check",
       "Symbols a check flagged on the checked day (price jumps, bad bars, zero volume, stale quotes...)."),
    _m(QUALITY, "tickerbeat_data_quality_check_ok", "gauge", "check scope",
       "1 when the check's aggregate (scope all or tier:N) passed on the checked day, else 0."),
    # -- the exporter itself ------------------------------------------------------------------------------
    _m(EXPORTER, "tickerbeat_exporter_source_up", "gauge", "source",
       "1 when the scrape could read the source (redis, broker, database), else 0."),
    _m(EXPORTER, "tickerbeat_exporter_scrape_duration_seconds", "gauge", "", "How long the scrape took."),
)  # fmt: skip

BY_NAME: dict[str, Metric] = {m.name: m for m in METRICS}
