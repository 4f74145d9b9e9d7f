"""Fault injection over real HTTP: 5xx, garbage bodies, hangs, the legacy Note, latency, always_error."""

from __future__ import annotations

import json
import time

import pytest
import requests

AV_NOTE = "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and 500 calls per day."


@pytest.fixture(scope="module")
def symbol(sandbox_unlimited):
    return next(s["symbol"] for s in sandbox_unlimited.universe() if s["active"] and s["listed"] < "2020")


def quote(sb, symbol, timeout=30.0):
    return requests.get(
        f"{sb.base_urls['finnhub']}/quote", params={"symbol": symbol, "token": "k"}, timeout=timeout
    )


def av(sb, symbol):
    params = {"function": "GLOBAL_QUOTE", "symbol": symbol, "apikey": "k"}
    return requests.get(f"{sb.base_urls['alphavantage']}/query", params=params, timeout=30)


def test_error_rate_one_answers_5xx(sandbox_fast, symbol):
    sandbox_fast.set_faults("finnhub", error_rate=1.0)
    statuses = {quote(sandbox_fast, symbol).status_code for _ in range(20)}
    assert statuses <= {500, 502, 503} and statuses
    stats = sandbox_fast.stats()["providers"]["finnhub"]
    assert stats["errors"] == {"server_error": 20} and stats["ok"] == 0


def test_error_rate_half_is_a_mix(sandbox_fast, symbol):
    sandbox_fast.set_faults("finnhub", error_rate=0.5)
    statuses = [quote(sandbox_fast, symbol).status_code for _ in range(60)]
    assert 10 <= statuses.count(200) <= 50


def test_garbage_is_a_200_that_does_not_parse(sandbox_fast, symbol):
    sandbox_fast.set_faults("finnhub", garbage_rate=1.0)
    for _ in range(6):
        r = quote(sandbox_fast, symbol)
        assert r.status_code == 200
        with pytest.raises(ValueError):
            json.loads(r.content)


def test_timeout_hangs_past_the_client_read_timeout(sandbox_fast, symbol):
    sandbox_fast.set_faults("finnhub", timeout_rate=1.0, timeout_seconds=30)
    with pytest.raises(requests.exceptions.ReadTimeout):
        quote(sandbox_fast, symbol, timeout=0.5)
    sandbox_fast.set_faults("finnhub")  # cleared: answers again at once
    assert quote(sandbox_fast, symbol).status_code == 200


def test_note_rate_gives_the_legacy_note(sandbox_fast, symbol):
    sandbox_fast.set_faults("alphavantage", note_rate=1.0)
    r = av(sandbox_fast, symbol)
    assert r.status_code == 200 and list(r.json()) == ["Note"] and r.json()["Note"].startswith(AV_NOTE)


def test_always_error_and_the_star_entry(sandbox_fast, symbol):
    sandbox_fast.set_faults("*", always_error=True)
    assert quote(sandbox_fast, symbol).status_code >= 500
    assert av(sandbox_fast, symbol).status_code >= 500
    yahoo = requests.get(f"{sandbox_fast.base_urls['yahoo']}/v8/finance/chart/{symbol}", timeout=30)
    assert yahoo.status_code >= 500
    sandbox_fast.set_faults("finnhub", latency_ms=0)  # a provider's own entry overrides "*" (zero faults)
    assert quote(sandbox_fast, symbol).status_code == 200
    assert av(sandbox_fast, symbol).status_code >= 500


def test_latency_delays_answers(sandbox_fast, symbol):
    sandbox_fast.set_faults("finnhub", latency_ms=400)
    start = time.monotonic()
    assert quote(sandbox_fast, symbol).status_code == 200
    assert time.monotonic() - start >= 0.4


def test_faults_are_validated_and_reset_restores_the_profile(sandbox_fast):
    from sandbox.testing import SandboxError

    with pytest.raises(SandboxError, match="error_rate"):
        sandbox_fast.set_faults("finnhub", error_rate=3)
    with pytest.raises(SandboxError, match="unknown provider"):
        sandbox_fast.set_faults("nasdaq", error_rate=0.1)
    sandbox_fast.set_faults("yahoo", error_rate=0.25)
    assert sandbox_fast.faults()["effective"]["yahoo"]["error_rate"] == 0.25
    sandbox_fast.reset()
    assert sandbox_fast.faults()["effective"]["yahoo"]["error_rate"] == 0.0


def test_same_seed_same_fault_sequence(sandbox_fast, symbol):
    def run() -> list[int]:
        sandbox_fast.reset()
        sandbox_fast.set_faults("finnhub", error_rate=0.3, garbage_rate=0.2)
        return [
            quote(sandbox_fast, symbol).status_code * 1000 + len(quote(sandbox_fast, symbol).content)
            for _ in range(20)
        ]

    assert run() == run()


def test_profile_faults_from_a_file(make_sandbox, tmp_path, symbol):
    profile = tmp_path / "faulty.json"
    profile.write_text(json.dumps({"base": "unlimited", "faults": {"polygon": {"always_error": True}}}))
    sb = make_sandbox(profile="unlimited", symbols=300, profile_file=profile)
    r = requests.get(
        f"{sb.base_urls['polygon']}/v2/aggs/ticker/{symbol}/prev", params={"apiKey": "k"}, timeout=30
    )
    assert r.status_code >= 500
    assert sb.stats()["providers"]["polygon"]["errors"] == {"server_error": 1}
