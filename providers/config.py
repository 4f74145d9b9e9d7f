"""``ProviderConfig``: how a client reaches its provider. Built by the task layer from runtime.settings.

The API key is a plain string here (clients must send it) but never shown: the repr masks it, and
every client registers it with ``providers.redaction`` so its literal value is masked in any text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import urlsplit


class ConfigError(ValueError):
    """A ProviderConfig value is malformed (a programming or deployment mistake)."""


@dataclass(frozen=True)
class ProviderConfig:
    """``name``: provider ("finnhub", "polygon", "alphavantage", "yahoo"). ``base_url``: http(s) URL
    without a trailing slash (the sandbox's or the provider's). ``plan``: plan name, informational.
    ``connect_timeout``/``read_timeout``: seconds, passed to requests as ``(connect, read)``; the read timeout
    bounds each wait for bytes. ``deadline``: seconds for the whole call, connecting to the last byte (a
    provider trickling its answer a byte at a time never trips a read timeout)."""

    name: str
    base_url: str
    api_key: str
    plan: str = "free"
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    deadline: float = 60.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError("ProviderConfig.name must be a provider name such as 'finnhub'")
        parts = urlsplit(self.base_url) if isinstance(self.base_url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ConfigError(f"{self.name}: base_url must be an http(s) URL without a query string")
        if not isinstance(self.api_key, str):
            raise ConfigError(f"{self.name}: api_key must be a string (reveal the Secret first)")
        for field_name in ("connect_timeout", "read_timeout", "deadline"):
            value = getattr(self, field_name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise ConfigError(f"{self.name}: {field_name} must be a positive number of seconds")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))

    @property
    def timeout(self) -> tuple[float, float]:
        """``(connect, read)`` seconds, in the form requests takes."""
        return (float(self.connect_timeout), float(self.read_timeout))

    @classmethod
    def from_settings(cls, settings: object) -> ProviderConfig:
        """From a ``runtime.settings.ProviderAccount`` (duck-typed: this package never imports runtime)."""
        key = settings.api_key  # type: ignore[attr-defined]
        reveal = getattr(key, "reveal", None)
        return cls(
            name=settings.name,  # type: ignore[attr-defined]
            base_url=settings.base_url,  # type: ignore[attr-defined]
            api_key=reveal() if callable(reveal) else (key or ""),
            plan=settings.plan,  # type: ignore[attr-defined]
            connect_timeout=settings.connect_timeout,  # type: ignore[attr-defined]
            read_timeout=settings.read_timeout,  # type: ignore[attr-defined]
            deadline=getattr(settings, "deadline", cls.deadline),
        )

    def __repr__(self) -> str:
        shown = "'***'" if self.api_key else "''"
        return (
            f"ProviderConfig(name={self.name!r}, base_url={self.base_url!r}, api_key={shown}, plan={self.plan!r}, "
            f"connect_timeout={self.connect_timeout!r}, read_timeout={self.read_timeout!r}, deadline={self.deadline!r})"
        )

    __str__ = __repr__
