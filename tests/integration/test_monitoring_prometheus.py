"""The rules and the exporter against the real Prometheus tools (Debian's ``prometheus`` package).

``promtool`` checks and unit-tests the alert rules and checks the dashboard's queries; a real Prometheus
server scrapes a real exporter process and answers a query about it. Skipped locally when the binaries are
absent, failed under CI (where ``.ci/run`` installs them).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from monitoring import dashboard, recording
from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "monitoring" / "prometheus"


def promtool(*args: str, cwd: Path = RULES) -> subprocess.CompletedProcess:
    require(shutil.which("promtool") is not None, "promtool is not installed (Debian package prometheus)")
    return subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_promtool_checks_the_alert_rules():
    result = promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_every_alert():
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_checks_the_compose_prometheus_config():
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_dashboard_query_is_valid_promql(tmp_path):
    exprs = [t["expr"] for p in dashboard.build()["panels"] for t in p.get("targets", ())]
    rules = {"groups": [{"name": "dashboard", "rules": [{"record": f"dashboard:q{i}", "expr": e}
                                                        for i, e in enumerate(exprs)]}]}  # fmt: skip
    (tmp_path / "dashboard.yml").write_text(yaml.safe_dump(rules))
    result = promtool("check", "rules", "dashboard.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _query(base: str, promql: str) -> list[dict]:
    answer = requests.get(f"{base}/api/v1/query", params={"query": promql}, timeout=10).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def _start(command: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(command, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.mark.timeout(180)
def test_a_real_prometheus_scrapes_the_exporter_and_loads_the_rules(redis_url, redis_client, tmp_path):
    binary = shutil.which("prometheus")
    require(binary is not None, "prometheus is not installed (Debian package prometheus)")
    for _ in range(3):
        recording.record_call(redis_client, "polygon", "grouped_daily", "ok", 0.2)
    exporter_port, prometheus_port = _free_port(), _free_port()
    exporter = _start(
        [sys.executable, "-m", "monitoring", "--port", str(exporter_port), "--addr", "127.0.0.1"],
        tmp_path / "exporter.log",
        {"REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"},
    )
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES / "alerts.yml")],
        "scrape_configs": [
            {"job_name": "tickerbeat", "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}]}
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    server = _start(
        [binary, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prometheus_port}"],
        tmp_path / "prometheus.log",
    )  # fmt: skip
    base = f"http://127.0.0.1:{prometheus_port}"
    try:
        deadline, result = time.monotonic() + 90, []
        while not result and time.monotonic() < deadline:
            assert server.poll() is None, (tmp_path / "prometheus.log").read_text()[-2000:]
            assert exporter.poll() is None, (tmp_path / "exporter.log").read_text()[-2000:]
            try:
                result = _query(base, 'tickerbeat_api_calls_total{provider="polygon"}')
            except requests.ConnectionError:
                pass
            if not result:
                time.sleep(0.5)
        assert result, "Prometheus never scraped the exporter"
        (series,) = result
        assert series["metric"]["endpoint"] == "grouped_daily" and series["metric"]["outcome"] == "ok"
        assert float(series["value"][1]) == 3
        (up,) = _query(base, 'up{job="tickerbeat"}')
        assert float(up["value"][1]) == 1
        budget = _query(base, "tickerbeat_budget_monthly_usd")
        assert float(budget[0]["value"][1]) == 50
        groups = requests.get(f"{base}/api/v1/rules", timeout=10).json()["data"]["groups"]
        loaded = {rule["name"]: rule["health"] for g in groups for rule in g["rules"]}
        assert "BeatNotTicking" in loaded and "QueueWithoutWorker" in loaded
        assert set(loaded.values()) <= {"ok", "unknown"}, loaded
    finally:
        _stop(server)
        _stop(exporter)
