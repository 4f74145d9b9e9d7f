"""``.env.example`` documents every variable ``runtime/settings.py`` reads, names nothing else but the compose
stack's secrets, and is itself a valid configuration."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from runtime.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")


class Recording(Mapping):
    """An empty environment that remembers every name looked up."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self.values = dict(values or {})
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return self.values[name]

    def get(self, name, default=None):
        self.read.add(name)
        return self.values.get(name, default)

    def __contains__(self, name) -> bool:
        self.read.add(name)
        return name in self.values

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("Settings must read variables by name, not iterate the environment")

    def __len__(self) -> int:
        return len(self.values)


def example() -> dict[str, tuple[str, bool]]:
    """name -> (value, set): every ``NAME=value`` and ``# NAME=value`` line of .env.example."""
    found = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = LINE.match(line.strip())
        if match:
            found[match.group(2)] = (match.group(3), match.group(1) is None)
    return found


def compose_variables() -> set[str]:
    text = (ROOT / "docker-compose.yml").read_text()
    return set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", text))


def test_settings_reads_only_documented_variables():
    env = Recording()
    Settings.from_env(env)
    assert len(env.read) > 20  # the recording works
    missing = sorted(env.read - set(example()))
    assert not missing, f"read by runtime/settings.py but not in .env.example: {missing}"


def test_every_documented_variable_is_used():
    from stack.flower import AUTH_VARIABLE  # the flower service reads it from .env

    env = Recording()
    Settings.from_env(env)
    extra = sorted(set(example()) - env.read - compose_variables() - {AUTH_VARIABLE})
    assert not extra, f"in .env.example but read by neither Settings, Flower nor docker-compose.yml: {extra}"


def test_compose_interpolates_only_documented_variables():
    missing = sorted(compose_variables() - set(example()))
    assert not missing, f"docker-compose.yml uses variables .env.example does not document: {missing}"


def test_compose_secrets_are_set_placeholders():
    values = example()
    for name in ("FLOWER_BASIC_AUTH", "POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD"):
        value, is_set = values[name]
        assert is_set and "change-me" in value, name


def test_the_example_is_a_valid_configuration_with_its_defaults():
    """Uncommenting every line changes nothing: the documented defaults are the real ones."""
    values = {name: value for name, (value, _) in example().items()}
    assert Settings.from_env(values) == Settings.from_env(Recording())


@pytest.mark.parametrize("name", ["FINNHUB_API_KEY", "ALPHAVANTAGE_API_KEY", "POLYGON_API_KEY"])
def test_keys_are_empty_in_the_example(name):
    assert example()[name] == ("", True)
