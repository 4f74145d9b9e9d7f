"""Sandbox profiles: the documented numbers, JSON overrides, clear errors for bad files."""

from __future__ import annotations

import json

import pytest

from sandbox.profiles import PROFILES, ProfileError, load_profile, load_profile_file


def windows(profile: str, provider: str) -> list[tuple[int, float]]:
    return [(w.limit, w.seconds) for w in PROFILES[profile].limits[provider].windows]


@pytest.mark.parametrize(
    ("profile", "provider", "expected_windows", "daily"),
    [
        # free = the documented free tiers (docs/providers.md)
        ("free", "finnhub", [(30, 1), (60, 60)], None),
        ("free", "polygon", [(5, 60)], None),
        ("free", "alphavantage", [(1, 1)], 25),
        ("free", "yahoo", [(60, 60)], None),
        # demo = the client's "demo" plan: these exact numbers
        ("demo", "finnhub", [(50, 1), (2000, 60)], None),
        ("demo", "polygon", [(20, 1), (600, 60)], None),
        ("demo", "alphavantage", [(5, 1)], 500),
        ("demo", "yahoo", [(20, 1)], None),
        ("unlimited", "finnhub", [], None),
        ("unlimited", "polygon", [], None),
        ("unlimited", "alphavantage", [], None),
        ("unlimited", "yahoo", [], None),
    ],
)
def test_profile_numbers(profile, provider, expected_windows, daily):
    assert windows(profile, provider) == expected_windows
    quota = PROFILES[profile].limits[provider].daily
    assert (quota.limit if quota else None) == daily


def test_free_profile_rules():
    free = PROFILES["free"]
    assert free.limits["yahoo"].block_seconds == 300 and free.limits["yahoo"].per == "ip"
    assert free.limits["alphavantage"].daily.zone == "America/New_York"
    assert free.limits["alphavantage"].daily.reset == "00:00"
    assert (free.polygon.available, free.polygon.at, free.polygon.zone) == (
        "next_day",
        "00:00",
        "America/New_York",
    )
    assert free.polygon.history_years == 2 and free.polygon.enforce_today


def test_overrides_merge_over_the_base_profile():
    p = load_profile(
        "free",
        {
            "limits": {"finnhub": {"windows": [{"limit": 3, "seconds": 60}]}},
            "faults": {"*": {"latency_ms": 5}},
            "quirks": {"yahoo_edge_rate": 0},
            "polygon": {"at": "02:30"},
        },
    )
    assert [(w.limit, w.seconds) for w in p.limits["finnhub"].windows] == [(3, 60)]
    assert p.limits["polygon"] == PROFILES["free"].limits["polygon"]  # untouched providers keep theirs
    assert p.faults["*"].latency_ms == 5 and p.faults["*"].error_rate == 0
    assert (
        p.quirks.yahoo_edge_rate == 0
        and p.quirks.polygon_empty_429_rate == PROFILES["free"].quirks.polygon_empty_429_rate
    )
    assert p.polygon.at == "02:30" and p.polygon.history_years == 2


def test_profile_file_with_base(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"base": "demo", "limits": {"polygon": {"windows": []}}}))
    p = load_profile_file("free", path)
    assert p.limits["polygon"].windows == ()
    assert windows("demo", "finnhub") == [(w.limit, w.seconds) for w in p.limits["finnhub"].windows]


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        (
            {"limits": {"finnhub": {"windows": [{"limit": 0, "seconds": 1}]}}},
            "limits.finnhub.windows[0].limit",
        ),
        ({"limits": {"finnhub": {"windows": [{"limit": 5}]}}}, "limits.finnhub.windows[0]"),
        ({"limits": {"nasdaq": {}}}, "unknown provider 'nasdaq'"),
        ({"limits": {"yahoo": {"per": "cookie"}}}, "limits.yahoo.per"),
        ({"limits": {"alphavantage": {"daily": {"limit": 25, "zone": "Mars/Olympus"}}}}, "unknown time zone"),
        (
            {"limits": {"alphavantage": {"daily": {"limit": 25, "reset": "noon"}}}},
            "limits.alphavantage.daily.reset",
        ),
        ({"faults": {"finnhub": {"error_rate": 1.5}}}, "faults.finnhub.error_rate"),
        ({"faults": {"finnhub": {"error_rate": 0.6, "garbage_rate": 0.6}}}, "must not exceed 1"),
        ({"faults": {"finnhub": {"latency": 5}}}, "unknown field(s) latency"),
        ({"quirks": {"yahoo_edge_rate": -0.1}}, "quirks.yahoo_edge_rate"),
        ({"polygon": {"available": "later"}}, "polygon.available"),
        ({"polygon": {"history_years": 0}}, "polygon.history_years"),
    ],
)
def test_bad_overrides_name_the_field(overrides, fragment):
    with pytest.raises(ProfileError) as info:
        load_profile("free", overrides)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"base": "gold"}', "unknown profile 'gold'"),
    ],
)
def test_bad_profile_files(tmp_path, content, fragment):
    path = tmp_path / "p.json"
    path.write_text(content)
    with pytest.raises(ProfileError) as info:
        load_profile_file("free", path)
    assert fragment in str(info.value)


def test_missing_profile_file(tmp_path):
    with pytest.raises(ProfileError, match="cannot read profile file"):
        load_profile_file("free", tmp_path / "absent.json")


def test_cli_symbol_bound_matches_the_universe():
    from sandbox.__main__ import MAX_SYMBOLS as cli_max
    from sandbox.universe import MAX_SYMBOLS

    assert cli_max == MAX_SYMBOLS == 15_000
