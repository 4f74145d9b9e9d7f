"""Tier assignment by recent dollar volume: tier 1 the most traded, with the seed's sizes by default.

Pure: dollar volumes in, tiers out. Pinned symbols keep their pinned tier and take a place in it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

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
