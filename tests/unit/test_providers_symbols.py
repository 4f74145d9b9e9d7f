"""Ticker pattern, per-provider spelling, URL/text redaction and the config's repr."""

from __future__ import annotations

import logging

import pytest

from providers.config import ConfigError, ProviderConfig
from providers.redaction import RedactingFilter, redact, redact_url, register_secret
from providers.symbols import InvalidSymbol, canonical, parse_symbol, provider_spelling


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A", "A"),
        ("AAPL", "AAPL"),
        ("GOOGL", "GOOGL"),
        ("BRK.B", "BRK.B"),
        ("BRK-B", "BRK.B"),
        ("ACAH.WS", "ACAH.WS"),
        ("", None),
        ("aapl", None),
        ("AAPLXX", None),
        (" AAPL", None),
        ("AAPL ", None),
        ("BRK.", None),
        ("BRK/B", None),
        ("BRK.B.C", None),
        ("BRK.BCD", None),
        ("AAPL&apikey=X", None),
        ("../etc", None),
        ("ABRpD", None),
        ("1234", None),
        ("ÄPFEL", None),
        (None, None),
        (42, None),
    ],
)
def test_symbol_pattern(text, expected):
    assert parse_symbol(text) == expected
    if expected is None:
        with pytest.raises(InvalidSymbol, match="expected 1-5 capital letters"):
            canonical(text)
    else:
        assert canonical(text) == expected


def test_invalid_symbol_is_a_value_error_with_a_short_message():
    with pytest.raises(ValueError) as info:
        canonical("X" * 500)
    assert len(str(info.value)) < 200


@pytest.mark.parametrize(
    ("provider", "symbol", "spelled"),
    [
        ("finnhub", "BRK.B", "BRK.B"),
        ("polygon", "BRK-B", "BRK.B"),
        ("alphavantage", "BRK.B", "BRK.B"),
        ("yahoo", "BRK.B", "BRK-B"),
        ("yahoo", "BRK-B", "BRK-B"),
        ("yahoo", "AAPL", "AAPL"),
    ],
)
def test_provider_spelling(provider, symbol, spelled):
    assert provider_spelling(provider, symbol) == spelled


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "https://www.alphavantage.co/query?function=GLOBAL_QUOTE&symbol=IBM&apikey=ABCDEF123",
            "https://www.alphavantage.co/query?function=GLOBAL_QUOTE&symbol=IBM&apikey=***",
        ),
        (
            "https://api.polygon.io/v3/x?cursor=c&apiKey=K9&limit=5",
            "https://api.polygon.io/v3/x?cursor=c&apiKey=***&limit=5",
        ),
        (
            "https://finnhub.io/api/v1/quote?symbol=A&token=T0K",
            "https://finnhub.io/api/v1/quote?symbol=A&token=***",
        ),
        ("Authorization: Bearer abc.DEF-123", "Authorization: Bearer ***"),
        ("We have detected your API key as ZZTOP99 and our", "We have detected your API key as *** and our"),
        ("GET /query?function=X HTTP/1.1", "GET /query?function=X HTTP/1.1"),
    ],
)
def test_redaction(text, expected):
    assert redact_url(text) == expected


def test_registered_secrets_are_masked_anywhere():
    register_secret("SECRETXYZ987")
    assert redact("error near SECRETXYZ987, again SECRETXYZ987") == "error near ***, again ***"


def test_log_filter_rewrites_records():
    register_secret("LOGSECRET555")
    record = logging.LogRecord(
        "urllib3.connectionpool",
        logging.DEBUG,
        __file__,
        1,
        '"GET %s" %s',
        ("/q?apikey=LOGSECRET555", 200),
        None,
    )
    RedactingFilter().filter(record)
    assert record.getMessage() == '"GET /q?apikey=***" 200'


def test_config_repr_hides_the_key():
    config = ProviderConfig("alphavantage", "https://www.alphavantage.co/", "VERYSECRET42")
    assert "VERYSECRET42" not in repr(config) and "VERYSECRET42" not in str(config)
    assert "api_key='***'" in repr(config)
    assert config.base_url == "https://www.alphavantage.co"
    assert config.timeout == (5.0, 30.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_url": "ftp://x"},
        {"base_url": "https://host/path?apikey=K"},
        {"base_url": "not a url"},
        {"connect_timeout": 0},
        {"read_timeout": float("nan")},
        {"api_key": None},
    ],
)
def test_config_rejects_bad_values_without_showing_the_url(kwargs):
    values = {"name": "polygon", "base_url": "https://api.polygon.io", "api_key": "K", **kwargs}
    with pytest.raises(ConfigError) as info:
        ProviderConfig(**values)
    assert "apikey=K" not in str(info.value)


def test_config_from_settings_reveals_a_secret():
    class Secret:
        def reveal(self):
            return "FROMSETTINGS1"

    class Settings:
        name, base_url, api_key, plan = "finnhub", "https://finnhub.io/api/v1", Secret(), "free"
        connect_timeout, read_timeout = 2.0, 9.0

    config = ProviderConfig.from_settings(Settings())
    assert (config.api_key, config.timeout, config.plan) == ("FROMSETTINGS1", (2.0, 9.0), "free")
