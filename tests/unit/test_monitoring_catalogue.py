"""One list of metrics: docs/metrics.md, the catalogue, the dashboard and the alert rules agree.

The scrape test (tests/integration/test_monitoring_pipeline.py) checks that the exporter serves every
documented metric; these tests check that nothing else refers to a metric the exporter does not serve.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from monitoring import dashboard
from monitoring.catalogue import METRICS

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "metrics.md"
PROMETHEUS = ROOT / "monitoring" / "prometheus"
GRAFANA = ROOT / "monitoring" / "grafana"
LABELS = {"provider", "endpoint", "outcome", "window", "task", "queue", "state", "kind", "tier", "check", "scope",
          "source"}  # fmt: skip
SERVED = {series for m in METRICS for series in m.series}
NAME = re.compile(r"\btickerbeat_[a-z0-9_]+")


def documented() -> list[tuple[str, str, tuple[str, ...]]]:
    """(name, type, labels) of every row of the metric tables in docs/metrics.md."""
    rows = []
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`tickerbeat_"):
            labels = () if cells[2] == "-" else tuple(x.strip() for x in cells[2].split(","))
            rows.append((cells[0].strip("`"), cells[1], labels))
    return rows


def test_the_docs_document_exactly_the_catalogue():
    assert documented() == [(m.name, m.kind, m.labels) for m in METRICS]


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.name)
def test_names_follow_prometheus_conventions(metric):
    assert re.fullmatch(r"tickerbeat_[a-z0-9_]+", metric.name)
    assert metric.kind in ("counter", "gauge", "histogram")
    assert metric.name.endswith("_total") == (metric.kind == "counter")
    if metric.kind == "histogram":
        assert metric.name.endswith("_seconds")
    assert not metric.name.endswith(("_milliseconds", "_ms", "_dollars", "_percent"))
    assert set(metric.labels) <= LABELS and len(set(metric.labels)) == len(metric.labels)
    assert "le" not in metric.labels and metric.help.strip()


def test_names_are_unique():
    families = [m.family for m in METRICS]
    assert len(families) == len(set(families))


def referenced(expr: str) -> set[str]:
    return set(NAME.findall(expr))


def panels() -> list[dict]:
    return json.loads(dashboard.DASHBOARD.read_text())["panels"]


def test_the_dashboard_file_is_generated_from_monitoring_dashboard():
    assert dashboard.DASHBOARD.read_text() == dashboard.render(), "run: python -m monitoring.dashboard"


def test_the_dashboard_is_a_valid_grafana_model():
    model = json.loads(dashboard.DASHBOARD.read_text())
    assert model["uid"] and model["title"] and isinstance(model["schemaVersion"], int)
    ids = [p["id"] for p in model["panels"]]
    assert len(ids) == len(set(ids))
    for p in model["panels"]:
        grid = p["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24 and grid["h"] > 0
        if p["type"] == "row":
            continue
        assert p["type"] in ("timeseries", "stat", "table") and p["targets"]
        assert p["datasource"] == {"type": "prometheus", "uid": "prometheus"}
        ref_ids = [t["refId"] for t in p["targets"]]
        assert len(ref_ids) == len(set(ref_ids))


def test_the_dashboard_queries_only_served_metrics_and_shows_every_metric():
    exprs = [t["expr"] for p in panels() for t in p.get("targets", ())]
    used = set().union(*(referenced(e) for e in exprs))
    assert used <= SERVED, sorted(used - SERVED)
    unshown = [m.name for m in METRICS if not set(m.series) & used]
    assert not unshown


def test_the_provisioned_datasource_is_the_one_the_panels_use():
    source = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    (entry,) = source["datasources"]
    assert entry["uid"] == dashboard.DATASOURCE["uid"] and entry["type"] == "prometheus"
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "tickerbeat.yml").read_text())
    assert provider["providers"][0]["options"]["path"]


def rules() -> list[dict]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return [rule for g in groups for rule in g["rules"]]


def test_the_alerts_include_the_seeds_and_the_operational_ones():
    names = {r["alert"] for r in rules()}
    assert {"APIRateLimitWarning", "MonthlyBudgetWarning", "TaskFailureRate", "DataStaleness"} <= names
    assert {
        "APIQuotaViolation",
        "QueueWithoutWorker",
        "BeatNotTicking",
        "DailyBarsMissing",
    } <= names


@pytest.mark.parametrize("rule", rules(), ids=lambda r: r["alert"])
def test_every_alert_has_severity_summary_and_action_and_queries_served_metrics(rule):
    assert rule["labels"]["severity"] in ("warning", "critical")
    assert rule["annotations"]["summary"].strip() and rule["annotations"]["action"].strip()
    used = referenced(rule["expr"])
    assert used <= SERVED, sorted(used - SERVED)
    assert used or "up{" in rule["expr"]


def test_every_alert_has_a_unit_test():
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
    cases = [case for t in tests for case in t["alert_rule_test"]]
    for rule in rules():
        mine = [c for c in cases if c["alertname"] == rule["alert"]]
        assert any(c["exp_alerts"] for c in mine), f"{rule['alert']}: no firing case"
        assert any(not c["exp_alerts"] for c in mine), f"{rule['alert']}: no not-firing case"


def test_the_compose_prometheus_scrapes_the_exporter_and_loads_the_rules():
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "tickerbeat"]
    assert job["static_configs"][0]["targets"] == ["exporter:9102"]
