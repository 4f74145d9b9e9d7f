"""The policy parser, from tables: valid texts and the windows they mean; malformed texts and their errors."""

from __future__ import annotations

import pytest

from ratelimits import PolicyError, parse_policy
from runtime.plans import PROVIDER_PLANS

NY = "America/New_York"


@pytest.mark.parametrize(
    ("text", "windows"),
    [
        # (limit, seconds, zone, reset minutes)
        ("30/second", [(30, 1, None, 0)]),
        ("30/second, 60/minute", [(30, 1, None, 0), (60, 60, None, 0)]),
        ("1000/hour", [(1000, 3600, None, 0)]),
        ("25/day", [(25, 86400, None, 0)]),
        ("150/10 seconds", [(150, 10, None, 0)]),
        ("5/2 minutes", [(5, 120, None, 0)]),
        ("7/3 hours", [(7, 10800, None, 0)]),
        ("9/2 days", [(9, 172800, None, 0)]),
        ("4/0.5 seconds", [(4, 0.5, None, 0)]),
        ("1/1 second", [(1, 1, None, 0)]),
        ("3/Minutes", [(3, 60, None, 0)]),
        ("  10 / second ,20/ minute  ", [(10, 1, None, 0), (20, 60, None, 0)]),
        ("25/day@America/New_York", [(25, 86400, NY, 0)]),
        ("25/day@America/New_York 04:30", [(25, 86400, NY, 270)]),
        ("10/day@UTC 00:00", [(10, 86400, "UTC", 0)]),
        ("10/day@UTC 23:59", [(10, 86400, "UTC", 1439)]),
        (
            "1/second, 25/day, 25/day@America/New_York",
            [(1, 1, None, 0), (25, 86400, None, 0), (25, 86400, NY, 0)],
        ),
        ("5/day@UTC, 6/day@UTC 12:00", [(5, 86400, "UTC", 0), (6, 86400, "UTC", 720)]),
        ("100000/second", [(100000, 1, None, 0)]),
    ],
)
def test_valid_policies(text, windows):
    policy = parse_policy(text)
    assert [(w.limit, w.seconds, w.zone, w.reset_minutes) for w in policy.windows] == windows


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("30/second,60/minute", "30/second, 60/minute"),
        ("150/10 Seconds", "150/10 seconds"),
        ("10/day@UTC 00:00", "10/day@UTC"),
        ("25/day@America/New_York 4:30", "25/day@America/New_York 04:30"),
        ("5/1 minutes", "5/minute"),
    ],
)
def test_canonical_text_parses_back_to_the_same_policy(text, canonical):
    policy = parse_policy(text)
    assert policy.text == canonical
    assert parse_policy(policy.text) == policy
    assert hash(parse_policy(policy.text)) == hash(policy)


@pytest.mark.parametrize("plan", [(p, n) for p, plans in PROVIDER_PLANS.items() for n in plans], ids=str)
def test_every_configured_plan_parses(plan):
    provider, name = plan
    assert parse_policy(PROVIDER_PLANS[provider][name].policy).windows


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            "30/fortnight, 5/minute",
            ["bad window '30/fortnight' in '30/fortnight, 5/minute'", "unknown unit 'fortnight'"],
        ),
        ("", ["empty quota policy"]),
        ("   ", ["empty quota policy"]),
        ("5/minute,", ["bad window ''", "stray comma"]),
        ("5/minute,,6/hour", ["bad window ''"]),
        ("0/second", ["'0/second'", "at least 1"]),
        ("-3/second", ["'-3/second'", "whole number"]),
        ("2.5/second", ["'2.5/second'", "whole number"]),
        ("/second", ["'/second'", "whole number"]),
        ("30 per second", ["'30 per second'", "expected 'N/unit'"]),
        ("30/", ["'30/'", "expected a length"]),
        ("30/0 seconds", ["'30/0 seconds'", "greater than 0"]),
        ("30/0.0 minutes", ["greater than 0"]),
        ("30/-5 seconds", ["expected a length"]),
        ("30/10 fortnights", ["unknown unit 'fortnights'"]),
        ("30/seconds seconds", ["expected a length"]),
        ("5/day@Mars/Olympus", ["'5/day@Mars/Olympus'", "unknown time zone 'Mars/Olympus'"]),
        ("5/day@", ["expected '@Zone'"]),
        ("5/day@UTC 24:00", ["bad reset time '24:00'"]),
        ("5/day@UTC 12:60", ["bad reset time '12:60'"]),
        ("5/day@UTC noon", ["bad reset time 'noon'"]),
        ("5/day@UTC 1230", ["bad reset time '1230'"]),
        ("5/day@UTC 12:00 extra", ["expected '@Zone' or '@Zone HH:MM'"]),
        ("5/hour@UTC", ["calendar windows are whole days"]),
        ("5/2 days@UTC", ["calendar windows are whole days"]),
        ("5/minute, 6/minute", ["bad window '6/minute'", "duplicate", "'5/minute'"]),
        ("5/minute, 9/60 seconds", ["bad window '9/60 seconds'", "duplicate"]),
        ("5/day@UTC, 6/day@UTC 00:00", ["duplicate"]),
        ("٣/second", ["whole number"]),
    ],
)
def test_malformed_policies_say_what_is_wrong(text, fragments):
    with pytest.raises(PolicyError) as info:
        parse_policy(text)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_policy_error_is_a_value_error():
    assert issubclass(PolicyError, ValueError)


@pytest.mark.parametrize("value", [None, 30, b"30/second"])
def test_non_text_is_a_policy_error(value):
    with pytest.raises(PolicyError):
        parse_policy(value)


@pytest.mark.parametrize(
    ("text", "max_cost", "rolling", "calendar"),
    [
        ("30/second, 60/minute", 30, 2, 0),
        ("1/second, 25/day, 25/day@America/New_York", 1, 2, 1),
        ("40/day@UTC", 40, 0, 1),
    ],
)
def test_policy_properties(text, max_cost, rolling, calendar):
    policy = parse_policy(text)
    assert (policy.max_cost, len(policy.rolling), len(policy.calendar)) == (max_cost, rolling, calendar)
