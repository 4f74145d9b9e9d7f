"""The Grafana dashboard, written as a table of panels: ``python -m monitoring.dashboard`` rewrites
``monitoring/grafana/dashboards/tickerbeat.json`` (a test checks the file is current, that every metric of
the catalogue has a panel and that panels query only metrics the exporter serves).

Panels use the datasource provisioned as uid ``prometheus`` (monitoring/grafana/provisioning).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from runtime.cli import Parser, run_main

DASHBOARD = Path(__file__).resolve().parent / "grafana" / "dashboards" / "tickerbeat.json"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}

# (row title, [(panel title, kind, unit, [(expr, legend)])]); kind: timeseries | stat | table.
ROWS: list[tuple[str, list[tuple[str, str, str, list[tuple[str, str]]]]]] = [
    ("API usage", [
        ("Calls per minute by outcome", "timeseries", "short", [
            ("sum by (provider, outcome) (rate(tickerbeat_api_calls_total[5m])) * 60", "{{provider}} {{outcome}}")]),
        ("Error rate (calls sent that did not succeed)", "timeseries", "percentunit", [
            ('sum by (provider) (rate(tickerbeat_api_calls_total{outcome!~"ok|not_found|deferred|unavailable"}[15m]))'
             ' / sum by (provider) (rate(tickerbeat_api_calls_total{outcome!~"deferred|unavailable"}[15m]))',
             "{{provider}}")]),
        ("HTTP response time p50 / p95", "timeseries", "s", [
            ("histogram_quantile(0.5, sum by (le, provider) (rate(tickerbeat_api_call_duration_seconds_bucket[5m])))",
             "p50 {{provider}}"),
            ("histogram_quantile(0.95, sum by (le, provider) (rate(tickerbeat_api_call_duration_seconds_bucket[5m])))",
             "p95 {{provider}}"),
            ("sum by (provider) (rate(tickerbeat_api_call_duration_seconds_sum[5m]))"
             " / sum by (provider) (rate(tickerbeat_api_call_duration_seconds_count[5m]))", "mean {{provider}}")]),
        ("Calls made today and this month (api_usage)", "table", "short", [
            ("tickerbeat_api_usage_calls", "{{provider}} {{window}}")]),
        ("Records stored and refused (bad data) per hour", "timeseries", "short", [
            ("sum by (provider, outcome) (increase(tickerbeat_store_records_total[1h]))", "{{provider}} {{outcome}}")]),
        ("Database failures of store steps per hour", "timeseries", "short", [
            ("sum by (provider, outcome) (increase(tickerbeat_store_failures_total[1h]))",
             "{{provider}} {{outcome}}")]),
    ]),
    ("Quotas", [
        ("Quota utilisation per window", "timeseries", "percentunit", [
            ("tickerbeat_quota_utilisation_ratio", "{{provider}} {{window}}")]),
        ("Quota windows: used, limit, length", "table", "short", [
            ("tickerbeat_quota_used", "used {{provider}} {{window}}"),
            ("tickerbeat_quota_limit", "limit {{provider}} {{window}}"),
            ("tickerbeat_quota_window_seconds", "seconds {{provider}} {{window}}")]),
        ("Grants, waits and refusals per minute", "timeseries", "short", [
            ("sum by (provider) (rate(tickerbeat_quota_granted_total[5m])) * 60", "granted {{provider}}"),
            ("sum by (provider) (rate(tickerbeat_quota_waited_total[5m])) * 60", "waited {{provider}}"),
            ("sum by (provider) (rate(tickerbeat_quota_refused_total[5m])) * 60", "refused {{provider}}")]),
        ("Mean quota wait", "timeseries", "s", [
            ("sum by (provider) (rate(tickerbeat_quota_wait_seconds_total[5m]))"
             " / sum by (provider) (rate(tickerbeat_quota_waited_total[5m]))", "{{provider}}")]),
        ("Provider push-backs (violations) per hour", "timeseries", "short", [
            ("sum by (provider) (increase(tickerbeat_quota_violations_total[1h]))", "{{provider}}")]),
        ("Blocked providers", "stat", "short", [
            ("tickerbeat_quota_blocked", "{{provider}}"),
            ("clamp_min(tickerbeat_quota_blocked_until_timestamp_seconds - time(), 0)", "{{provider}} seconds left")]),
    ]),
    ("Paced dispatch", [
        ("Calls in line and in flight", "timeseries", "short", [
            ("tickerbeat_dispatch_in_line", "in line {{provider}}"),
            ("tickerbeat_dispatch_in_flight", "in flight {{provider}}")]),
        ("The day's runs: made / admitted", "timeseries", "percentunit", [
            ("sum by (provider) (tickerbeat_dispatch_made) / sum by (provider) (tickerbeat_dispatch_admitted > 0)",
             "{{provider}}")]),
        ("The day's ledger per provider and run kind", "table", "short", [
            ("tickerbeat_dispatch_planned", "planned {{provider}} {{kind}}"),
            ("tickerbeat_dispatch_admitted", "admitted {{provider}} {{kind}}"),
            ("tickerbeat_dispatch_made", "made {{provider}} {{kind}}"),
            ("tickerbeat_dispatch_deferred_then_made", "deferred then made {{provider}} {{kind}}"),
            ("tickerbeat_dispatch_carried", "carried {{provider}} {{kind}}"),
            ("tickerbeat_dispatch_stale", "stale {{provider}} {{kind}}"),
            ("tickerbeat_dispatch_pending", "pending {{provider}} {{kind}}")]),
        ("Undone past the window", "stat", "short", [
            ("sum by (provider) (tickerbeat_dispatch_undone)", "{{provider}}")]),
        ("Runs whose counts do not add up", "stat", "short", [
            ("sum by (provider) (tickerbeat_dispatch_unbalanced_runs)", "{{provider}}")]),
        ("Lost releases re-driven and given up (TICKERBEAT_MAX_REDRIVES)", "stat", "short", [
            ("sum by (provider, outcome) (tickerbeat_dispatch_redrives_total)", "{{provider}} {{outcome}}")]),
    ]),
    ("Cost and budget", [
        ("Projected month vs budget", "timeseries", "currencyUSD", [
            ("sum(tickerbeat_cost_monthly_projection_usd)", "projection"),
            ("tickerbeat_budget_warning_usd", "warning (conservation mode)"),
            ("tickerbeat_budget_monthly_usd", "budget")]),
        ("Cost per provider", "table", "currencyUSD", [
            ("tickerbeat_cost_daily_usd", "today {{provider}}"),
            ("tickerbeat_cost_month_to_date_usd", "month to date {{provider}}"),
            ("tickerbeat_cost_monthly_projection_usd", "projection {{provider}}")]),
        ("Budget utilisation", "stat", "percentunit", [("tickerbeat_budget_utilisation_ratio", "projected / budget")]),
        ("Conservation mode", "stat", "short", [
            ("tickerbeat_conservation_mode", "active"),
            ("tickerbeat_conservation_level", "level (0-3)")]),
    ]),
    ("Pipeline", [
        ("Task runs per minute by state", "timeseries", "short", [
            ("sum by (state) (rate(tickerbeat_tasks_total[5m])) * 60", "{{state}}")]),
        ("Task success rate", "timeseries", "percentunit", [
            ('sum by (task) (rate(tickerbeat_tasks_total{state="success"}[15m]))'
             " / sum by (task) (rate(tickerbeat_tasks_total[15m]))", "{{task}}")]),
        ("Task run time p95", "timeseries", "s", [
            ("histogram_quantile(0.95, sum by (le, task) (rate(tickerbeat_task_duration_seconds_bucket[15m])))",
             "{{task}}")]),
        ("Dead letters (given up after too many deliveries: python -m stack.ops dead-letters)", "stat", "short", [
            ("sum by (task) (tickerbeat_dead_letters_total)", "{{task}}")]),
        ("Queue depth", "timeseries", "short", [
            ("tickerbeat_queue_messages", "waiting {{queue}}"),
            ("tickerbeat_queue_unacked_messages", "unacked {{queue}}")]),
        ("Live consumers per queue", "stat", "short", [("tickerbeat_queue_consumers", "{{queue}}")]),
        ("Worker utilisation", "timeseries", "percentunit", [
            ("tickerbeat_worker_utilisation_ratio", "now {{queue}}"),
            ("sum by (queue) (rate(tickerbeat_task_duration_seconds_sum[5m])) / tickerbeat_worker_processes",
             "5m {{queue}}")]),
        ("Worker processes and busy processes", "timeseries", "short", [
            ("tickerbeat_worker_processes", "processes {{queue}}"),
            ("tickerbeat_worker_busy_processes", "busy {{queue}}")]),
        ("Seconds since beat's last tick", "stat", "s", [
            ("time() - tickerbeat_beat_last_tick_timestamp_seconds", "beat")]),
    ]),
    ("Data quality", [
        ("Staleness and newest bar age", "timeseries", "s", [
            ("tickerbeat_data_staleness_seconds", "staleness"),
            ("tickerbeat_last_bar_age_seconds", "newest bar age")]),
        ("Symbols with the last session's bar", "timeseries", "percentunit", [
            ("tickerbeat_daily_bars_fresh_ratio", "fresh")]),
        ("Universe and symbols served from cache", "stat", "short", [
            ("tickerbeat_active_symbols", "active"),
            ("tickerbeat_stale_symbols", "served from cache")]),
        ("Freshness per tier (checked day)", "timeseries", "percentunit", [
            ("tickerbeat_data_freshness_ratio", "tier {{tier}}")]),
        ("Missing bars over 20 sessions", "timeseries", "percentunit", [
            ("tickerbeat_missing_bars_ratio", "missing")]),
        ("Anomalies per check", "timeseries", "short", [("tickerbeat_data_anomalies", "{{check}}")]),
        ("Quality checks passed", "table", "short", [
            ("tickerbeat_data_quality_check_ok", "{{check}} {{scope}}")]),
        ("Checked day", "stat", "dateTimeAsIso", [
            ("tickerbeat_data_quality_day_timestamp_seconds * 1000", "session close")]),
    ]),
    ("Exporter", [
        ("Sources readable", "stat", "short", [("tickerbeat_exporter_source_up", "{{source}}")]),
        ("Scrape duration", "timeseries", "s", [("tickerbeat_exporter_scrape_duration_seconds", "scrape")]),
    ]),
]  # fmt: skip

_WIDTH = {"timeseries": 12, "table": 12, "stat": 6}
_HEIGHT = {"timeseries": 8, "table": 8, "stat": 5}


def _panel(panel_id: int, title: str, kind: str, unit: str, queries, x: int, y: int) -> dict:
    targets = []
    for i, (expr, legend) in enumerate(queries):
        target = {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
        if kind != "timeseries":
            target["instant"] = True
        targets.append(target)
    panel = {
        "id": panel_id,
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"h": _HEIGHT[kind], "w": _WIDTH[kind], "x": x, "y": y},
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
    }
    if kind == "table":
        panel["transformations"] = [{"id": "merge", "options": {}}]
    return panel


def build() -> dict:
    """The dashboard as Grafana's JSON model."""
    panels: list[dict] = []
    y = 0
    for row_title, row_panels in ROWS:
        panels.append(
            {
                "id": len(panels) + 1,
                "type": "row",
                "title": row_title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        y += 1
        x, line_height = 0, 0
        for title, kind, unit, queries in row_panels:
            width = _WIDTH[kind]
            if x + width > 24:
                x, y = 0, y + line_height
                line_height = 0
            panels.append(_panel(len(panels) + 1, title, kind, unit, queries, x, y))
            x += width
            line_height = max(line_height, _HEIGHT[kind])
        y += line_height
    return {
        "uid": "tickerbeat",
        "title": "tickerbeat",
        "description": "API usage, quotas, paced dispatch, cost, pipeline and data quality (metrics: docs/metrics.md).",
        "tags": ["tickerbeat"],
        "timezone": "utc",
        "editable": True,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-24h", "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": panels,
    }


def render() -> str:
    return json.dumps(build(), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m monitoring.dashboard [--check]``: rewrite the JSON, or with ``--check`` exit 1 when stale."""
    parser = Parser(
        prog="python -m monitoring.dashboard", description="Rewrite the Grafana dashboard's JSON."
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when the file is out of date, write nothing"
    )
    args = parser.parse_args(argv)
    current = DASHBOARD.read_text() if DASHBOARD.exists() else ""
    if args.check:
        if current != render():
            print(f"{DASHBOARD} is out of date: run python -m monitoring.dashboard", file=sys.stderr)
            return 1
        return 0
    DASHBOARD.parent.mkdir(parents=True, exist_ok=True)
    DASHBOARD.write_text(render())
    print(f"wrote {DASHBOARD}")
    return 0


if __name__ == "__main__":
    run_main(main)
