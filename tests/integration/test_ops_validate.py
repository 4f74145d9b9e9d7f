"""``make validate`` (``python -m stack.validate``): the rate-limit and sample-stock checks pass on the default
configuration and the rate-limit check FAILS when a quota is looser than the free tier. (The pipeline
check runs in tests/integration/test_ops_no_keys.py, which also watches its broker traffic.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.settings import Settings
from stack.validate import CheckResult, _only, check_rate_limits, densest
from stack.validate_checks import _sample_symbols, check_sample

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("arrivals", "seconds", "most"),
    [
        ([], 1.0, 0),
        ([5.0], 1.0, 1),
        ([0.0, 0.5, 0.99], 1.0, 3),
        ([0.0, 0.5, 1.0], 1.0, 2),  # exactly one window apart: the next window
        ([0.0, 0.1, 0.2, 5.0, 5.1], 1.0, 3),
        ([3.0, 0.0, 2.5, 0.4], 1.0, 2),  # unsorted input
        ([0.0, 30.0, 59.9, 60.0, 61.0], 60.0, 4),
    ],
)
def test_densest(arrivals, seconds, most):
    assert densest(arrivals, seconds) == most


def test_check_result_lines():
    ok = CheckResult("sample stocks", {"symbols": 5})
    assert ok.passed and ok.lines() == ["PASS sample stocks", "    symbols: 5"]
    bad = CheckResult("rate limits", {"finnhub": "x"}, ["finnhub: 2 throttle answers"])
    assert not bad.passed and bad.lines()[0] == "FAIL rate limits" and "problem: finnhub" in bad.lines()[-1]


@pytest.mark.parametrize(
    ("text", "checks"),
    [
        ("pipeline", ["pipeline"]),
        ("sample,rate-limits", ["rate-limits", "sample"]),
        (" sample , ", ["sample"]),
    ],
)
def test_only(text, checks):
    assert _only(text) == checks


@pytest.mark.parametrize("text", ["", "everything", "sample,nope"])
def test_only_refuses_unknown_checks(text):
    import argparse

    with pytest.raises(argparse.ArgumentTypeError, match="choose from"):
        _only(text)


def test_sample_symbols_are_old_active_common_stocks_spread_out():
    from datetime import date

    universe = [{"symbol": f"S{i:02d}", "active": i % 5 != 0, "type": "ETP" if i % 7 == 0 else "Common Stock",
                 "listed": "2020-01-01" if i < 40 else "2026-06-01"} for i in range(50)]  # fmt: skip
    picked = _sample_symbols(universe, 4, date(2025, 1, 1))
    assert len(picked) == 4 and picked == sorted(picked)
    for symbol in picked:
        i = int(symbol[1:])
        assert i % 5 and i % 7 and i < 40


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stack.validate", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env={**os.environ, **(env or {})})  # fmt: skip


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("--only", "bogus"), {}, "choose from"),
        (("--universe", "10"), {}, "--universe must be between"),
        (("--live-seconds", "0"), {}, "--live-seconds must be between"),
        ((), {"FINNHUB_QUOTA": "lots"}, "FINNHUB_QUOTA"),
    ],
)
def test_usage_errors_exit_2_without_a_traceback(args, env, message):
    done = _cli(*args, env=env)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_rate_limits_and_sample_stocks_pass_on_the_default_configuration():
    clean = {k: "" for k in os.environ if k.endswith(("_QUOTA", "_PLAN", "_BASE_URL", "_API_KEY"))}
    done = _cli("--only", "rate-limits,sample", "--live-seconds", "6", env=clean)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert "PASS rate limits" in done.stdout and "PASS sample stocks" in done.stdout
    assert "2 of 2 checks passed" in done.stdout
    lines = {line.split(":")[0].strip(): line for line in done.stdout.splitlines() if line.startswith("    ")}
    for provider in ("finnhub", "polygon", "alphavantage", "yahoo"):
        assert "0 throttled by the sandbox, 0 violations" in lines[provider], lines[provider]
        assert not lines[provider].split(": ", 1)[1].startswith("0 calls")


def test_the_rate_limit_check_fails_when_a_quota_is_looser_than_the_free_tier(redis_url):
    settings = Settings.from_env({"FINNHUB_QUOTA": "100/second"})
    result = check_rate_limits(settings, redis_url, seconds=4, say=lambda _: None)
    assert not result.passed
    (problem,) = result.problems
    assert problem.startswith("finnhub: ") and "throttle answers" in problem
    assert "in 1 s (limit 100)" in problem  # the densest second is reported against the quota
    assert "100/second" in result.figures["finnhub"]


def test_sample_check_reports_a_provider_it_cannot_use(redis_url):
    """The Polygon client under a quota that admits nothing in time: the check fails, naming the symbols."""
    settings = Settings.from_env({"POLYGON_QUOTA": "1/day"})
    result = check_sample(settings, redis_url, count=3, say=lambda _: None)
    assert not result.passed
    assert sum("not fetched (deferred" in p for p in result.problems) == 2  # the day's one call went through
