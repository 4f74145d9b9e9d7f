"""Sandbox profiles as data: each provider's limits, faults, quirks and data-availability rules.

A profile is a frozen ``Profile``; ``PROFILES`` holds the three built-in ones (``free``, ``demo``,
``unlimited``). ``load_profile(name, overrides)`` starts from a built-in profile and deep-merges a JSON
document over it (``--profile-file``), validating every field with a ``ProfileError`` that names it.

Units: window lengths and block durations in seconds; latency in milliseconds; rates are probabilities
in [0, 1] drawn per request from the sandbox's seeded generators.

Limits are sliding windows counted at request arrival: at most ``limit`` admitted calls in any interval of
``seconds`` (throttled answers are not admitted, so they do not count). A daily quota counts admitted calls
per calendar day of ``zone``, the day starting at ``reset`` (HH:MM local time).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROVIDERS: tuple[str, ...] = ("finnhub", "polygon", "alphavantage", "yahoo")


class ProfileError(ValueError):
    """A profile name, file or field is invalid; the message names the field."""


@dataclass(frozen=True)
class Window:
    """At most ``limit`` admitted calls in any interval of ``seconds`` seconds."""

    limit: int
    seconds: float


@dataclass(frozen=True)
class DailyQuota:
    """At most ``limit`` admitted calls per calendar day of ``zone``; the day begins at ``reset`` (HH:MM)."""

    limit: int
    zone: str = "America/New_York"
    reset: str = "00:00"


@dataclass(frozen=True)
class Limits:
    """One provider's limits. ``block_seconds`` > 0: a violation blocks the client for that long (Yahoo)."""

    windows: tuple[Window, ...] = ()
    daily: DailyQuota | None = None
    block_seconds: float = 0.0
    per: str = "key"  # "key" (the API key) or "ip" (the client's address)


@dataclass(frozen=True)
class Faults:
    """Injected faults. ``latency_ms`` (+ uniform ``jitter_ms``) delays every answer; the rates pick at most
    one fault per request: a 5xx, a truncated/garbage 200 body, a hang of ``timeout_seconds`` (or until the
    client disconnects), the real answer trickled at ``trickle_bytes_per_second`` (headers at once, then the
    body a few bytes at a time, until done or the client disconnects), or Alpha Vantage's legacy ``Note``
    body. ``always_error``: only 5xx answers."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    garbage_rate: float = 0.0
    timeout_rate: float = 0.0
    trickle_rate: float = 0.0
    note_rate: float = 0.0
    always_error: bool = False
    timeout_seconds: float = 60.0
    trickle_bytes_per_second: float = 1.0


@dataclass(frozen=True)
class Quirks:
    """Documented variants of the providers' answers, drawn per answer with these probabilities."""

    polygon_empty_429_rate: float = 0.1  # "sometimes an empty body"
    polygon_401_message_rate: float = 0.5  # "some answers carry the text under `message`"
    yahoo_edge_rate: float = 0.25  # `Edge: Too Many Requests` instead of `Too Many Requests`
    av_daily_variant_rate: float = 0.25  # the "Thank you for using Alpha Vantage! Our standard..." variant


@dataclass(frozen=True)
class Polygon:
    """The Polygon plan's data rules.

    ``available``: when a session's data may be requested: ``"next_day"`` = at ``at`` (HH:MM, ``zone``) on
    the calendar day after the session (docs/providers.md: after midnight ET, marked (?)); ``"close"`` = at the
    session's close plus ``delay_minutes``. ``history_years``: requests older than that many calendar years
    before today answer the 403 timeframe body (``None``: no such rule). ``enforce_today``: today's date
    requested before it is available answers the 403 "before end of day" body (else: no bars yet).
    """

    available: str = "next_day"
    at: str = "00:00"
    zone: str = "America/New_York"
    delay_minutes: float = 0.0
    history_years: int | None = 2
    enforce_today: bool = True


@dataclass(frozen=True)
class Profile:
    name: str
    limits: dict[str, Limits]
    faults: dict[str, Faults] = field(default_factory=dict)  # provider or "*" -> faults
    quirks: Quirks = Quirks()
    polygon: Polygon = Polygon()


_FREE = Profile(
    name="free",
    limits={
        "finnhub": Limits(windows=(Window(30, 1.0), Window(60, 60.0))),
        "polygon": Limits(windows=(Window(5, 60.0),)),
        "alphavantage": Limits(windows=(Window(1, 1.0),), daily=DailyQuota(25)),
        "yahoo": Limits(windows=(Window(60, 60.0),), block_seconds=300.0, per="ip"),
    },
)

# The client's "demo" plan (runtime/plans.py) uses exactly these numbers: keep them in step.
_DEMO = Profile(
    name="demo",
    limits={
        "finnhub": Limits(windows=(Window(50, 1.0), Window(2000, 60.0))),
        "polygon": Limits(windows=(Window(20, 1.0), Window(600, 60.0))),
        "alphavantage": Limits(windows=(Window(5, 1.0),), daily=DailyQuota(500)),
        "yahoo": Limits(windows=(Window(20, 1.0),), per="ip"),
    },
    polygon=Polygon(available="close", history_years=None),
)

_UNLIMITED = Profile(
    name="unlimited",
    limits={p: Limits() for p in PROVIDERS},
    polygon=Polygon(available="close", history_years=None),
)

PROFILES: dict[str, Profile] = {p.name: p for p in (_FREE, _DEMO, _UNLIMITED)}


def load_profile(name: str, overrides: dict[str, Any] | None = None) -> Profile:
    """The built-in profile ``name`` with ``overrides`` (the JSON form of a profile, partial) merged over it."""
    if name not in PROFILES:
        raise ProfileError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    profile = PROFILES[name]
    if not overrides:
        return profile
    if not isinstance(overrides, dict):
        raise ProfileError("profile file: expected a JSON object at the top level")
    merged = _merge(profile_to_json(profile), overrides, "profile")
    return profile_from_json(merged)


def load_profile_file(name: str, path: str | Path) -> Profile:
    """``load_profile`` with overrides read from a JSON file; clear errors for unreadable or bad JSON."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ProfileError(f"cannot read profile file {str(path)!r}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileError(
            f"profile file {str(path)!r} is not valid JSON: {exc.msg} (line {exc.lineno})"
        ) from None
    if isinstance(data, dict) and "base" in data:
        name = data.pop("base")
    return load_profile(str(name), data)


def profile_to_json(profile: Profile) -> dict[str, Any]:
    return json.loads(json.dumps(asdict(profile)))


def profile_from_json(data: dict[str, Any]) -> Profile:
    """Build and validate a profile from its JSON form (all fields present or defaulted)."""
    limits_json = _obj(data.get("limits", {}), "limits")
    limits = {}
    for provider in PROVIDERS:
        limits[provider] = _limits(
            _obj(limits_json.get(provider, {}), f"limits.{provider}"), f"limits.{provider}"
        )
    for key in limits_json:
        if key not in PROVIDERS:
            raise ProfileError(f"limits: unknown provider {key!r}; choose among {', '.join(PROVIDERS)}")
    faults_json = _obj(data.get("faults", {}), "faults")
    faults = {p: faults_from_json(v, f"faults.{p}") for p, v in faults_json.items() if v is not None}
    for key in faults:
        if key not in PROVIDERS and key != "*":
            raise ProfileError(
                f"faults: unknown provider {key!r}; choose among {', '.join(PROVIDERS)} or '*'"
            )
    quirks = _dataclass(Quirks, _obj(data.get("quirks", {}), "quirks"), "quirks")
    for f in fields(Quirks):
        _rate(getattr(quirks, f.name), f"quirks.{f.name}")
    polygon = _dataclass(Polygon, _obj(data.get("polygon", {}), "polygon"), "polygon")
    if polygon.available not in ("next_day", "close"):
        raise ProfileError(f"polygon.available: expected 'next_day' or 'close', got {polygon.available!r}")
    _hhmm(polygon.at, "polygon.at")
    _zone(polygon.zone, "polygon.zone")
    if polygon.history_years is not None and (
        not isinstance(polygon.history_years, int) or polygon.history_years < 1
    ):
        raise ProfileError(
            f"polygon.history_years: expected a positive integer or null, got {polygon.history_years!r}"
        )
    return Profile(
        name=str(data.get("name", "custom")), limits=limits, faults=faults, quirks=quirks, polygon=polygon
    )


def faults_from_json(data: Any, where: str = "faults") -> Faults:
    """Validate one provider's faults from JSON (missing fields take their zero defaults)."""
    faults = _dataclass(Faults, _obj(data, where), where)
    rates = ("error_rate", "garbage_rate", "timeout_rate", "trickle_rate", "note_rate")
    for name in rates:
        _rate(getattr(faults, name), f"{where}.{name}")
    if sum(getattr(faults, name) for name in rates) > 1.0 + 1e-9:
        raise ProfileError(f"{where}: {' + '.join(rates)} must not exceed 1")
    for name in ("latency_ms", "jitter_ms", "timeout_seconds"):
        _number(getattr(faults, name), f"{where}.{name}", minimum=0.0)
    _number(faults.trickle_bytes_per_second, f"{where}.trickle_bytes_per_second", minimum=0.01)
    if not isinstance(faults.always_error, bool):
        raise ProfileError(f"{where}.always_error: expected true or false, got {faults.always_error!r}")
    return faults


def _limits(data: dict[str, Any], where: str) -> Limits:
    windows = []
    for i, w in enumerate(data.get("windows", []) or []):
        w = _dataclass(Window, _obj(w, f"{where}.windows[{i}]"), f"{where}.windows[{i}]")
        _number(w.limit, f"{where}.windows[{i}].limit", minimum=1, integer=True)
        _number(w.seconds, f"{where}.windows[{i}].seconds", minimum=0.001)
        windows.append(w)
    daily = None
    if data.get("daily") is not None:
        daily = _dataclass(DailyQuota, _obj(data["daily"], f"{where}.daily"), f"{where}.daily")
        _number(daily.limit, f"{where}.daily.limit", minimum=1, integer=True)
        _zone(daily.zone, f"{where}.daily.zone")
        _hhmm(daily.reset, f"{where}.daily.reset")
    block = data.get("block_seconds", 0.0)
    _number(block, f"{where}.block_seconds", minimum=0.0)
    per = data.get("per", "key")
    if per not in ("key", "ip"):
        raise ProfileError(f"{where}.per: expected 'key' or 'ip', got {per!r}")
    unknown = set(data) - {"windows", "daily", "block_seconds", "per"}
    if unknown:
        raise ProfileError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    return Limits(windows=tuple(windows), daily=daily, block_seconds=float(block), per=per)


def _merge(base: Any, over: Any, where: str) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base[k], v, f"{where}.{k}") if k in base and base[k] is not None else v
        return out
    return over


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProfileError(f"{where}: expected a JSON object, got {json.dumps(value)}")
    return value


def _dataclass(cls: type, data: dict[str, Any], where: str) -> Any:
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ProfileError(
            f"{where}: unknown field(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(names))}"
        )
    try:
        return cls(**data)
    except TypeError as exc:
        raise ProfileError(f"{where}: {exc}") from None


def _number(value: Any, where: str, minimum: float, integer: bool = False) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or value < minimum or (integer and int(value) != value):
        kind = "an integer" if integer else "a number"
        raise ProfileError(f"{where}: expected {kind} >= {minimum:g}, got {json.dumps(value)}")


def _rate(value: Any, where: str) -> None:
    _number(value, where, minimum=0.0)
    if value > 1:
        raise ProfileError(f"{where}: expected a probability between 0 and 1, got {value!r}")


def _zone(value: Any, where: str) -> None:
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ProfileError(f"{where}: unknown time zone {value!r}") from None


def _hhmm(value: Any, where: str) -> time:
    try:
        hh, mm = str(value).split(":")
        return time(int(hh), int(mm))
    except ValueError:
        raise ProfileError(f"{where}: expected a clock time HH:MM, got {value!r}") from None
