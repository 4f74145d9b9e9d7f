"""The sandbox as a process: command-line errors, determinism across servers, many clients at once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-11-25T22:00:00Z"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sandbox", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--profile", "gold"), "invalid choice: 'gold'"),
        (("--symbols", "0"), "--symbols must be between 1 and 15000"),
        (("--symbols", "many"), "invalid int value"),
        (("--port", "70000"), "--port must be between 1 and 65535"),
        (("--now", "yesterday"), "--now: not an ISO 8601 instant"),
        (("--frozen",), "--frozen needs --now"),
        (("--keys", " , "), "--keys: give at least one non-empty key"),
        (("--profile-file", "/nonexistent/p.json"), "cannot read profile file"),
        (("--now", "2015-06-01T12:00:00Z", "--symbols", "5"), "no NYSE sessions"),
    ],
)
def test_usage_errors_are_one_clear_line(args, fragment):
    result = run_cli(*args)
    assert result.returncode == 2
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def grouped(sb, day="2026-11-24") -> dict:
    url = f"{sb.base_urls['polygon']}/v2/aggs/grouped/locale/us/market/stocks/{day}"
    body = requests.get(url, params={"apiKey": "k"}, timeout=30).json()
    body.pop("request_id")
    return body


def test_same_seed_same_bars_other_seed_other_bars(make_sandbox):
    a = make_sandbox(profile="unlimited", symbols=200, seed=42, now=NOW, frozen=True)
    b = make_sandbox(profile="unlimited", symbols=200, seed=42, now="2026-12-04T15:00:00Z", frozen=True)
    c = make_sandbox(profile="unlimited", symbols=200, seed=7, now=NOW, frozen=True)
    first, second, other = grouped(a), grouped(b), grouped(c)
    assert first["resultsCount"] > 150
    # a sandbox started nine days later serves the same bars for the same date (unadjusted: a split in
    # between would change the adjusted ones)
    url = "/v2/aggs/grouped/locale/us/market/stocks/2026-11-24"
    ua = requests.get(
        a.base_urls["polygon"] + url, params={"apiKey": "k", "adjusted": "false"}, timeout=30
    ).json()
    ub = requests.get(
        b.base_urls["polygon"] + url, params={"apiKey": "k", "adjusted": "false"}, timeout=30
    ).json()
    assert ua["results"] == ub["results"]
    assert second["resultsCount"] == first["resultsCount"]
    assert {r["T"] for r in other["results"]} != {r["T"] for r in first["results"]}
    assert a.universe() != c.universe()


def test_demo_profile_limits_are_the_clients_demo_plan(make_sandbox):
    sb = make_sandbox(profile="demo", symbols=50, now="2026-11-24T19:00:00Z", frozen=True)
    symbol = sb.universe()[0]["symbol"]
    url = f"{sb.base_urls['finnhub']}/quote"
    statuses = [
        requests.get(url, params={"symbol": symbol, "token": "k"}, timeout=30).status_code for _ in range(51)
    ]
    assert statuses == [200] * 50 + [429]  # 50/second
    av = f"{sb.base_urls['alphavantage']}/query"
    bodies = [requests.get(av, params={"function": "GLOBAL_QUOTE", "symbol": symbol, "apikey": "k"}, timeout=30).json()
              for _ in range(6)]  # fmt: skip
    assert ["Global Quote" in b for b in bodies] == [True] * 5 + [False]  # 5/second
    # demo serves today's bars once the session has closed (no free-plan "end of day" wait)
    sb.clock(now="2026-11-24T21:05:00Z")
    day = requests.get(f"{sb.base_urls['polygon']}/v2/aggs/grouped/locale/us/market/stocks/2026-11-24",
                       params={"apiKey": "k"}, timeout=30)  # fmt: skip
    assert day.status_code == 200 and day.json()["resultsCount"] > 40


def test_many_clients_at_once(sandbox_fast):
    symbols = [s["symbol"] for s in sandbox_fast.universe() if s["active"]][:100]
    urls = []
    for s in symbols:
        urls += [
            f"{sandbox_fast.base_urls['finnhub']}/quote?symbol={s}&token=k",
            f"{sandbox_fast.base_urls['polygon']}/v2/aggs/ticker/{s}/prev?apiKey=k",
            f"{sandbox_fast.base_urls['alphavantage']}/query?function=GLOBAL_QUOTE&symbol={s}&apikey=k",
            f"{sandbox_fast.base_urls['yahoo']}/v8/finance/chart/{s}?range=1mo&interval=1d",
        ]

    async def fetch_all() -> list[tuple[int, bytes]]:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:

            async def one(url: str) -> tuple[int, bytes]:
                async with session.get(url) as resp:
                    return resp.status, await resp.read()

            return await asyncio.gather(*(one(u) for u in urls))

    results = asyncio.run(fetch_all())
    assert [status for status, _ in results] == [200] * len(urls)
    assert all(body.startswith(b"{") for _, body in results)
    stats = sandbox_fast.stats()
    assert stats["totals"]["calls"] == len(urls) == stats["totals"]["ok"]
    assert {p: s["calls"] for p, s in stats["providers"].items()} == {
        "finnhub": 100, "polygon": 100, "alphavantage": 100, "yahoo": 100,
    }  # fmt: skip


def test_sandbox_process_helpers(sandbox):
    assert sandbox.base_urls == {
        "finnhub": f"{sandbox.url}/finnhub/api/v1",
        "polygon": f"{sandbox.url}/polygon",
        "alphavantage": f"{sandbox.url}/alphavantage",
        "yahoo": f"{sandbox.url}/yahoo",
    }
    env = sandbox.env("secret")
    assert env["POLYGON_BASE_URL"] == sandbox.base_urls["polygon"] and env["FINNHUB_API_KEY"] == "secret"
    assert "YAHOO_API_KEY" not in env
    health = sandbox.health()
    assert health["status"] == "ok" and health["profile"] == "free" and health["symbols"] == 300
    assert sandbox.running
