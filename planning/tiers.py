"""Tier assignment by recent dollar volume: tier 1 the most traded, with the seed's sizes by default.

Pure: dollar volumes in, tiers out. Pinned symbols keep their pinned tier and take a place in it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from planning.capacity import TIER_SIZES


def assign_tiers(
    dollar_volume: Mapping[str, float],
    pins: Mapping[str, int] | None = None,
    sizes: Sequence[int | None] = TIER_SIZES,
) -> dict[str, int]:
    """Rank symbols by dollar volume (NaN/missing last, ties by ticker) and fill tiers in order.

    A pinned symbol is placed in its pinned tier and counts against that tier's size.
    """
    pins = dict(pins or {})
    last = len(sizes)
    for symbol, tier in pins.items():
        if not 1 <= tier <= last:
            raise ValueError(f"{symbol}: pinned tier {tier} is not between 1 and {last}")
    room = [None if s is None else s for s in sizes]
    for tier in pins.values():
        if room[tier - 1] is not None:
            room[tier - 1] = max(0, room[tier - 1] - 1)

    def key(symbol: str) -> tuple[int, float, str]:
        v = dollar_volume.get(symbol, math.nan)
        return (1, 0.0, symbol) if v is None or math.isnan(v) else (0, -v, symbol)

    result = dict(pins)
    tier = 1
    for symbol in sorted((s for s in dollar_volume if s not in pins), key=key):
        while tier < last and room[tier - 1] is not None and room[tier - 1] <= 0:
            tier += 1
        result[symbol] = tier
        if room[tier - 1] is not None:
            room[tier - 1] -= 1
    return result


def mean_dollar_volumes(close, volume, symbols) -> dict[str, float]:
    """Each symbol's mean close x volume over the sessions (rows) of ``close``/``volume``, NaN where it has
    no bar at all (such a symbol goes to the last tier)."""
    close, volume = np.asarray(close, dtype=float), np.asarray(volume, dtype=float)
    if close.shape[0] == 0:
        return {s: math.nan for s in symbols}
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: NaN, on purpose
        means = np.nanmean(close * volume, axis=0)
    return {s: float(v) for s, v in zip(symbols, means, strict=True)}


def count_by_tier(tiers: dict[str, int]) -> dict[int, int]:
    """How many symbols each tier holds, tiers in order."""
    return {tier: sum(1 for v in tiers.values() if v == tier) for tier in sorted(set(tiers.values()))}
