"""Data-quality checks for one run: freshness per tier, missing bars, price jumps, bad bars, zero volume,
stale quotes.

Every check returns ``QualityResult`` records: one aggregate record (scope ``"all"`` or ``"tier:<name>"``)
whose ``ok`` says whether the run's data is usable, plus one record per offending symbol (scope
``"symbol:<SYM>"``, ``ok=False``) so that nothing is dropped silently. Shares and returns are fractions
(0.05 = 5 %); ages are hours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

from analysis.indicators import trailing_return
from analysis.panel import Panel

# Forward splits k:1 divide the price by k (3:2 is 1.5:1); reverse splits 1:k multiply it by k.
FORWARD_SPLITS = (1.5, 2, 3, 4, 5, 6, 7, 8, 10, 15, 20)
REVERSE_SPLITS = (2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 100)


@dataclass(frozen=True)
class QualityResult:
    check: str
    scope: str
    value: float
    threshold: float
    ok: bool
    detail: str


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds. Shares are fractions of the symbols concerned; ``stale_hours`` is in hours."""

    min_fresh_share: float = 0.95
    missing_window: int = 20  # sessions
    max_missing_ratio: float = 0.02
    jump_threshold: float = 0.40  # one-day |return|
    split_tolerance: float = 0.05  # relative distance of the price ratio to 1/k or k
    forward_splits: tuple[float, ...] = FORWARD_SPLITS
    reverse_splits: tuple[float, ...] = REVERSE_SPLITS
    max_anomaly_share: float = 0.01
    max_zero_volume_share: float = 0.01
    stale_hours: float = 24.0
    max_stale_share: float = 0.01


def _examples(symbols: Sequence[str], limit: int = 10) -> str:
    head = ", ".join(symbols[:limit])
    return head + (f" and {len(symbols) - limit} more" if len(symbols) > limit else "")


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def freshness(
    last_bar: Mapping[str, date | None], tiers: Mapping[str, str], expected_day: date, min_share: float = 0.95
) -> list[QualityResult]:
    """Per tier, the share of its symbols whose last bar is ``expected_day``.

    ``tiers`` maps symbol -> tier name; a symbol absent from ``last_bar`` (or mapped to None) has no bar.
    """
    by_tier: dict[str, list[str]] = {}
    for symbol, tier in tiers.items():
        by_tier.setdefault(tier, []).append(symbol)
    results = []
    for tier in sorted(by_tier):
        members = sorted(by_tier[tier])
        stale = [s for s in members if last_bar.get(s) != expected_day]
        share = 1.0 - _share(len(stale), len(members))
        detail = (
            f"{len(members) - len(stale)} of {len(members)} symbols have a bar for {expected_day.isoformat()}"
        )
        if stale:
            detail += f"; without: {_examples(stale)}"
        results.append(
            QualityResult("freshness", f"tier:{tier}", share, min_share, share >= min_share, detail)
        )
    return results


def missing_bars(
    close: np.ndarray, symbols: Sequence[str], window: int = 20, max_ratio: float = 0.02
) -> list[QualityResult]:
    """Share of missing bars over the last ``window`` sessions, counting only sessions after a symbol's first bar.

    A symbol listed in the window counts from its first bar; one that stopped trading counts as missing.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1 session, got {window}")
    present = np.isfinite(close)
    listed = np.logical_or.accumulate(present, axis=0)[-window:]
    missing = listed & ~present[-window:]
    expected, absent = int(listed.sum()), int(missing.sum())
    ratio = _share(absent, expected)
    per_symbol = missing.sum(axis=0)
    worst = [symbols[j] for j in np.argsort(-per_symbol, kind="stable") if per_symbol[j] > 0]
    detail = f"{absent} of {expected} expected bars missing over the last {window} sessions"
    if worst:
        detail += f"; most gaps: {_examples(worst)}"
    return [QualityResult("missing_bars", "all", ratio, max_ratio, ratio <= max_ratio, detail)]


def _split_factor(ratio: float, config: QualityConfig) -> str | None:
    """The split (e.g. ``"2:1"``, ``"1:10"``) whose price ratio is within the tolerance of ``ratio``."""
    for k in config.forward_splits:
        if abs(ratio * k - 1.0) <= config.split_tolerance:
            return f"{k:g}:1"
    for k in config.reverse_splits:
        if abs(ratio / k - 1.0) <= config.split_tolerance:
            return f"1:{k:g}"
    return None


def price_jumps(
    close: np.ndarray,
    symbols: Sequence[str],
    dates: Sequence[date],
    config: QualityConfig | None = None,
) -> list[QualityResult]:
    """One-day moves (last session vs each symbol's previous bar) beyond ``config.jump_threshold``.

    A move whose price ratio is near a common split factor is not an anomaly: it is reported under
    ``split_like_jump`` (ok, informational: adjusted data should not show it). A real move of about the same
    size (e.g. -50 %) cannot be told apart from an unadjusted 2:1 split by prices alone.
    """
    config = config or QualityConfig()
    ret = trailing_return(close, 1)[-1]
    day = dates[-1].isoformat()
    with np.errstate(invalid="ignore"):
        jumped = np.flatnonzero(np.abs(ret) > config.jump_threshold)
    anomalies, split_like = [], []
    for j in jumped:
        ratio = 1.0 + float(ret[j])
        split = _split_factor(ratio, config)
        if split:
            split_like.append(f"{symbols[j]} ({split})")
            continue
        anomalies.append(
            QualityResult(
                "price_jump",
                f"symbol:{symbols[j]}",
                float(ret[j]),
                config.jump_threshold,
                False,
                f"{ret[j] * 100:+.1f} % on {day} (close {close[-1, j]:.4g}), not near a common split ratio",
            )
        )
    with_bar = int(np.isfinite(ret).sum())
    share = _share(len(anomalies), with_bar)
    flagged = [r.scope.removeprefix("symbol:") for r in anomalies]
    summary = QualityResult(
        "price_jump",
        "all",
        share,
        config.max_anomaly_share,
        share <= config.max_anomaly_share,
        f"{len(anomalies)} of {with_bar} symbols moved more than {config.jump_threshold * 100:.0f} % on {day}"
        + (f": {_examples(flagged)}" if flagged else ""),
    )
    info = QualityResult(
        "split_like_jump",
        "all",
        float(len(split_like)),
        float("nan"),
        True,
        f"{len(split_like)} moves near a split ratio on {day}"
        + (f": {_examples(split_like)}" if split_like else ""),
    )
    return [summary, info, *anomalies]


def bad_bars(panel: Panel, day: date, max_share: float = 0.0) -> list[QualityResult]:
    """Bars on the last session that cannot be right: a price <= 0, high < low, or close outside [low, high].

    Prices are compared with a relative tolerance of 1e-6 (rounding in the feed is not an error).
    """
    c, h, lo = panel.close[-1], panel.high[-1], panel.low[-1]
    has_bar = np.isfinite(c)
    tol = 1e-6 * np.abs(c)
    with np.errstate(invalid="ignore"):
        problems = {
            "price <= 0": has_bar & ((c <= 0) | (h <= 0) | (lo <= 0)),
            "high < low": has_bar & (h < lo - tol),
            "close outside [low, high]": has_bar & ((c > h + tol) | (c < lo - tol)),
        }
    flagged: dict[str, list[str]] = {}
    for what, mask in problems.items():
        for j in np.flatnonzero(mask):
            flagged.setdefault(panel.symbols[j], []).append(what)
    n = int(has_bar.sum())
    share = _share(len(flagged), n)
    names = sorted(flagged)
    summary = QualityResult(
        "bad_bar",
        "all",
        share,
        max_share,
        share <= max_share,
        f"{len(names)} of {n} bars on {day.isoformat()} are inconsistent"
        + (f": {_examples(names)}" if names else ""),
    )
    per_symbol = [
        QualityResult(
            "bad_bar", f"symbol:{s}", 0.0, 0.0, False, f"{'; '.join(flagged[s])} on {day.isoformat()}"
        )
        for s in names
    ]
    return [summary, *per_symbol]


def zero_volume(
    close: np.ndarray, volume: np.ndarray, symbols: Sequence[str], day: date, max_share: float = 0.01
) -> list[QualityResult]:
    """Symbols with a bar on the last session but a volume of exactly zero."""
    has_bar = np.isfinite(close[-1]) & np.isfinite(volume[-1])
    zero = np.flatnonzero(has_bar & (volume[-1] == 0))
    names = [symbols[j] for j in zero]
    share = _share(len(names), int(has_bar.sum()))
    summary = QualityResult(
        "zero_volume",
        "all",
        share,
        max_share,
        share <= max_share,
        f"{len(names)} of {int(has_bar.sum())} bars on {day.isoformat()} have zero volume"
        + (f": {_examples(names)}" if names else ""),
    )
    per_symbol = [
        QualityResult("zero_volume", f"symbol:{s}", 0.0, 0.0, False, f"volume 0 on {day.isoformat()}")
        for s in names
    ]
    return [summary, *per_symbol]


def stale_quotes(
    quote_times: Mapping[str, datetime], now: datetime, max_age_hours: float = 24.0, max_share: float = 0.01
) -> list[QualityResult]:
    """Quotes whose timestamp is more than ``max_age_hours`` hours before ``now`` (aware datetimes only)."""
    if now.tzinfo is None or any(t.tzinfo is None for t in quote_times.values()):
        raise ValueError("quote times and 'now' must be timezone-aware datetimes")
    ages = {s: (now - t).total_seconds() / 3600.0 for s, t in quote_times.items()}
    stale = sorted(s for s, age in ages.items() if age > max_age_hours)
    share = _share(len(stale), len(ages))
    summary = QualityResult(
        "stale_quote",
        "all",
        share,
        max_share,
        share <= max_share,
        f"{len(stale)} of {len(ages)} quotes older than {max_age_hours:g} h"
        + (f": {_examples(stale)}" if stale else ""),
    )
    per_symbol = [
        QualityResult(
            "stale_quote",
            f"symbol:{s}",
            ages[s],
            max_age_hours,
            False,
            f"last quote {quote_times[s].isoformat()}, {ages[s]:.1f} h old",
        )
        for s in stale
    ]
    return [summary, *per_symbol]


def last_bar_dates(panel: Panel) -> dict[str, date | None]:
    """Each symbol's latest session with a finite close (None when it has none)."""
    present = np.isfinite(panel.close)
    last_rows = panel.shape[0] - 1 - np.argmax(present[::-1], axis=0)
    has_any = present.any(axis=0)
    return {
        s: (panel.dates[r] if ok else None)
        for s, r, ok in zip(panel.symbols, last_rows, has_any, strict=True)
    }


def run_checks(
    panel: Panel,
    day: date,
    tiers: Mapping[str, str],
    quote_times: Mapping[str, datetime] | None = None,
    now: datetime | None = None,
    config: QualityConfig | None = None,
) -> list[QualityResult]:
    """Every check for the run of ``day``: bars after ``day`` are ignored; quotes are checked when given."""
    config = config or QualityConfig()
    known = panel.upto(day)
    results = freshness(last_bar_dates(known), tiers, day, config.min_fresh_share)
    results += missing_bars(known.close, known.symbols, config.missing_window, config.max_missing_ratio)
    if known.dates[-1] == day:
        results += price_jumps(known.close, known.symbols, known.dates, config)
        results += zero_volume(known.close, known.volume, known.symbols, day, config.max_zero_volume_share)
        results += bad_bars(known, day)
    else:
        detail = f"no session for {day.isoformat()} in the data (last: {known.dates[-1].isoformat()})"
        results.append(
            QualityResult("session_present", "all", 0.0, 1.0, False, detail + "; jump checks skipped")
        )
    if quote_times is not None:
        if now is None:
            raise ValueError("'now' is required to check quote ages")
        results += stale_quotes(quote_times, now, config.stale_hours, config.max_stale_share)
    return results
