"""Sandbox fixtures for integration tests (real HTTP to ``python -m sandbox`` subprocesses).

- ``sandbox_free`` / ``sandbox_unlimited``: one server per session (300 symbols, seed 42, real clock).
- ``sandbox`` / ``sandbox_fast``: the same servers, ``reset()`` before the test (counters, log, limits,
  blocks, clock and faults back to the profile's).
- ``sandbox_contract``: the contract tests' server (free plan rules, no limits, frozen clock, keys
  ``good-key``/``other-key``); reset it before use, or take ``sb`` (reset), ``contract_universe`` (its
  symbols) and ``plain`` (a symbol without splits or halts).
- ``make_sandbox(**kwargs)``: a factory for custom servers (``SandboxProcess`` arguments: profile, symbols,
  seed, now, extra_args, frozen, profile_file); each is stopped after the test.

When a server cannot start, the test is skipped locally and fails under CI (``tests.conftest.require``).
"""

from __future__ import annotations

import json

import pytest

from sandbox.testing import SandboxError, SandboxProcess
from tests.conftest import require

# The contract tests' server: the free plan's rules and bodies, no rate limits (they have their own tests),
# no random answer variants, a clock frozen after Wednesday 2026-11-25's close, and two valid keys.
CONTRACT_PROFILE = {
    "base": "free",
    "limits": {
        "finnhub": {"windows": []},
        "polygon": {"windows": []},
        "alphavantage": {"windows": [], "daily": None},
        "yahoo": {"windows": [], "block_seconds": 0},
    },
    "quirks": {
        "polygon_empty_429_rate": 0,
        "polygon_401_message_rate": 0,
        "yahoo_edge_rate": 0,
        "av_daily_variant_rate": 0,
    },
}


def _start(**kwargs) -> SandboxProcess:
    try:
        return SandboxProcess(**kwargs).start()
    except SandboxError as exc:
        require(False, f"the provider sandbox could not start: {exc}")
        raise  # unreachable: require() skips or fails


@pytest.fixture(scope="session")
def sandbox_free():
    server = _start(profile="free", symbols=300, seed=42)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sandbox_unlimited():
    server = _start(profile="unlimited", symbols=300, seed=42)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sandbox_contract(tmp_path_factory):
    profile = tmp_path_factory.mktemp("sandbox") / "contract.json"
    profile.write_text(json.dumps(CONTRACT_PROFILE))
    server = _start(symbols=300, now="2026-11-25T22:00:00Z", frozen=True, profile_file=profile,
                    extra_args=("--keys", "good-key,other-key"))  # fmt: skip
    yield server
    server.stop()


@pytest.fixture
def sb(sandbox_contract):
    """The contract tests' server, reset."""
    sandbox_contract.reset()
    return sandbox_contract


@pytest.fixture(scope="module")
def contract_universe(sandbox_contract):
    """The contract server's symbols, by ticker."""
    return {s["symbol"]: s for s in sandbox_contract.universe()}


@pytest.fixture(scope="module")
def plain(contract_universe):
    """An active common stock of the contract server without splits or halts, listed long ago."""
    return next(
        s for s, v in contract_universe.items()
        if v["active"] and not v["splits"] and not v["halts"] and v["type"] == "Common Stock" and v["listed"] < "2020"
    )  # fmt: skip


@pytest.fixture
def sandbox(sandbox_free) -> SandboxProcess:
    sandbox_free.reset()
    return sandbox_free


@pytest.fixture
def sandbox_fast(sandbox_unlimited) -> SandboxProcess:
    sandbox_unlimited.reset()
    return sandbox_unlimited


@pytest.fixture
def make_sandbox():
    started: list[SandboxProcess] = []

    def factory(**kwargs) -> SandboxProcess:
        server = _start(**kwargs)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()
