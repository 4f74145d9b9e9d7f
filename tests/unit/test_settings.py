"""Settings: defaults, overrides, and a clear error naming the variable for every malformed value."""

import pytest

from runtime.plans import PROVIDER_PLANS
from runtime.queues import PROVIDERS
from runtime.settings import Secret, Settings, SettingsError


def test_defaults_run_the_embedded_stack():
    s = Settings.from_env({})
    assert s.redis_url == "redis://127.0.0.1:6379/0"
    assert s.broker_url == s.redis_url == s.result_backend == s.redbeat_redis_url
    assert s.database_url.startswith("sqlite:///")
    assert set(s.providers) == set(PROVIDERS)
    for name, p in s.providers.items():
        assert p.plan == "free"
        assert p.quota == PROVIDER_PLANS[name]["free"].policy
        assert p.base_url.startswith("https://")
        assert not p.api_key


def test_overrides_are_read_and_urls_lose_trailing_slash():
    s = Settings.from_env(
        {
            "REDIS_URL": "redis://h:6380/2",
            "FINNHUB_BASE_URL": "http://127.0.0.1:9000/finnhub/api/v1/",
            "FINNHUB_API_KEY": "k-123",
            "POLYGON_PLAN": "starter",
            "ALPHAVANTAGE_QUOTA": "2/second, 10/day@UTC 00:00",
            "TICKERBEAT_POOLS": "api_calls=3",
        }
    )
    assert s.broker_url == "redis://h:6380/2"
    assert s.providers["finnhub"].base_url == "http://127.0.0.1:9000/finnhub/api/v1"
    assert s.providers["finnhub"].api_key.reveal() == "k-123"
    assert s.providers["polygon"].quota == PROVIDER_PLANS["polygon"]["starter"].policy
    assert s.providers["polygon"].monthly_usd == PROVIDER_PLANS["polygon"]["starter"].monthly_usd
    assert s.providers["alphavantage"].quota == "2/second, 10/day@UTC 00:00"
    assert s.pools["api_calls"] == 3 and s.pools["database_tasks"] == 12


@pytest.mark.parametrize(
    ("env", "variable", "quoted"),
    [
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL", "localhost:6379"),
        ({"CELERY_BROKER_URL": "amqp://x"}, "CELERY_BROKER_URL", "amqp://x"),
        ({"FINNHUB_BASE_URL": "ftp://x"}, "FINNHUB_BASE_URL", "ftp://x"),
        ({"POLYGON_PLAN": "gold"}, "POLYGON_PLAN", "gold"),
        ({"FINNHUB_QUOTA": "30/fortnight"}, "FINNHUB_QUOTA", "30/fortnight"),
        ({"TICKERBEAT_QUOTA_GUARD_SECONDS": "abc"}, "TICKERBEAT_QUOTA_GUARD_SECONDS", "abc"),
        ({"TICKERBEAT_QUOTA_GUARD_SECONDS": "-1"}, "TICKERBEAT_QUOTA_GUARD_SECONDS", "-1"),
        ({"TICKERBEAT_VISIBILITY_TIMEOUT_SECONDS": "nan"}, "TICKERBEAT_VISIBILITY_TIMEOUT_SECONDS", "nan"),
        ({"TICKERBEAT_POOLS": "api_calls=zero"}, "TICKERBEAT_POOLS", "api_calls=zero"),
        ({"YAHOO_READ_TIMEOUT_SECONDS": "0"}, "YAHOO_READ_TIMEOUT_SECONDS", "0"),
        ({"TICKERBEAT_TIER_PLAN": "weekly-ish"}, "TICKERBEAT_TIER_PLAN", "weekly-ish"),
        ({"POLYGON_INCLUDED_CALLS": "-5"}, "POLYGON_INCLUDED_CALLS", "-5"),
        ({"POLYGON_OVERAGE_USD_PER_CALL": "cheap"}, "POLYGON_OVERAGE_USD_PER_CALL", "cheap"),
    ],
)
def test_malformed_values_name_the_variable_and_quote_the_value(env, variable, quoted):
    with pytest.raises(SettingsError) as err:
        Settings.from_env(env)
    assert variable in str(err.value)
    assert quoted in str(err.value)


def test_passwords_in_urls_are_not_echoed():
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"REDIS_URL": "http://user:hunter2@host/0"})
    assert "hunter2" not in str(err.value)


def test_secret_never_prints_itself():
    s = Settings.from_env({"POLYGON_API_KEY": "SECRETKEY1234567890"})
    key = s.providers["polygon"].api_key
    assert isinstance(key, Secret)
    for text in (repr(s), str(s), repr(key), str(key), f"{key}", repr(s.providers["polygon"])):
        assert "SECRETKEY1234567890" not in text
