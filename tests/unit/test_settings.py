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
        # checked whole: every variable, the database and the pools included
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL", "use sqlite:///"),
        ({"DATABASE_URL": "postgresql+asyncpg://u@db/x"}, "DATABASE_URL", "unsupported driver 'asyncpg'"),
        ({"DATABASE_URL": "sqlite+aiosqlite:///x.db"}, "DATABASE_URL", "unsupported driver 'aiosqlite'"),
        ({"DATABASE_URL": "garbage"}, "DATABASE_URL", "not a database URL: 'garbage'"),
        ({"TICKERBEAT_POOLS": "api_call=3"}, "TICKERBEAT_POOLS", "the pools are api_calls, compute_intensive, "),
        ({"TICKERBEAT_POOLS": "api_calls=3,api_calls=4"}, "TICKERBEAT_POOLS", "'api_calls' is given twice"),
        ({"TICKERBEAT_POOLS": "api_calls=0"}, "TICKERBEAT_POOLS", "api_calls=0"),
        ({"TICKERBEAT_VISIBILITY_TIMEOUT_SECONDS": "3600.5"}, "TICKERBEAT_VISIBILITY_TIMEOUT_SECONDS", "3600.5"),
        ({"TICKERBEAT_RESULT_EXPIRES_SECONDS": "-1"}, "TICKERBEAT_RESULT_EXPIRES_SECONDS", "whole seconds"),
        ({"TICKERBEAT_BUDGET_WARNING_USD": "60"}, "TICKERBEAT_BUDGET_WARNING_USD", "must not exceed"),
        ({"TICKERBEAT_MONTHLY_BUDGET_USD": "-1"}, "TICKERBEAT_MONTHLY_BUDGET_USD", "at least 0"),
        ({"TICKERBEAT_UNIVERSE_SOURCE": "nasdaq"}, "TICKERBEAT_UNIVERSE_SOURCE", "nasdaq"),
        ({"TICKERBEAT_DISPATCH_LOST_AFTER_SECONDS": "10"}, "TICKERBEAT_DISPATCH_LOST_AFTER_SECONDS", "at least 150"),
        ({"TICKERBEAT_QUOTA_MAX_WAIT_SECONDS": "10", "TICKERBEAT_DISPATCH_HORIZON_SECONDS": "9"},
         "TICKERBEAT_DISPATCH_HORIZON_SECONDS", "2 s below"),
        ({"TICKERBEAT_POOL_LEASE_SECONDS": "0"}, "TICKERBEAT_POOL_LEASE_SECONDS", "at least 1"),
        ({"REDIS_URL": "redis://h:6379/zero"}, "REDIS_URL", "database number"),
        ({"REDIS_URL": "redis://h:port/0"}, "REDIS_URL", "redis://h:port/0"),
        ({"REDBEAT_REDIS_URL": "unix://"}, "REDBEAT_REDIS_URL", "unix://"),
        ({"FINNHUB_CONNECT_TIMEOUT_SECONDS": "inf"}, "FINNHUB_CONNECT_TIMEOUT_SECONDS", "finite"),
    ],
)  # fmt: skip
def test_malformed_values_name_the_variable_and_quote_the_value(env, variable, quoted):
    with pytest.raises(SettingsError) as err:
        Settings.from_env(env)
    # runtime.cli prints it as the one line "tickerbeat: configuration error: VAR: ..."
    assert str(err.value).startswith(f"{variable}: ")
    assert quoted in str(err.value)


@pytest.mark.parametrize(
    "url",
    ["sqlite:///var/x.db", "sqlite://", "sqlite+pysqlite:///x.db", "postgresql+psycopg://u:p@db:5432/x"],
)
def test_the_supported_databases_are_accepted(url):
    assert Settings.from_env({"DATABASE_URL": url}).database_url == url


def test_a_database_password_is_not_echoed():
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"DATABASE_URL": "postgresql+asyncpg://bob:hunter2@db/x"})
    assert "hunter2" not in str(err.value) and "bob:***@db" in str(err.value)


def test_every_declared_pool_can_be_sized_and_every_queue_pool_is_declared():
    from runtime.plans import DEFAULT_POOLS
    from runtime.queues import QUEUES

    assert {q.pool for q in QUEUES if q.pool} <= set(DEFAULT_POOLS)
    sized = Settings.from_env({"TICKERBEAT_POOLS": ",".join(f"{name}=2" for name in DEFAULT_POOLS)})
    assert dict(sized.pools) == dict.fromkeys(DEFAULT_POOLS, 2)


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
