"""One sandbox's state: configuration, clock, market, limits, faults and statistics.

Single-threaded by design (one asyncio loop): handlers read and update it without locks.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import marketcal
from sandbox.clock import Clock
from sandbox.faults import FaultBook
from sandbox.limits import Limiter
from sandbox.market import Market
from sandbox.profiles import PROVIDERS, Profile
from sandbox.stats import Stats
from sandbox.universe import Universe, build_universe


@dataclass(frozen=True)
class Config:
    """``keys``: the only valid API keys, or None for "any non-empty key". ``now``: the clock's pinned start
    (None: the real clock); ``frozen``: the clock stands still until moved through ``/_sandbox/clock``."""

    profile: Profile
    seed: int = 42
    symbols: int = 6500
    now: datetime | None = None
    frozen: bool = False
    keys: frozenset[str] | None = None


class Sandbox:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.profile = config.profile
        self.seed = config.seed
        self.clock = Clock(config.now, config.frozen)
        self.universe: Universe = build_universe(config.seed, config.symbols)
        self.market = Market(self.universe, config.seed, self.today())
        self.limiters = {p: Limiter(self.profile.limits[p]) for p in PROVIDERS}
        self.faults = FaultBook(self.profile.faults, config.seed)
        self.stats = Stats(PROVIDERS)
        self.cache: dict[Any, Any] = {}
        self._cache_generation = self.market.generation
        self._rngs()

    def _rngs(self) -> None:
        self._quirks = {p: random.Random(f"{self.seed}:quirks:{p}") for p in PROVIDERS}
        self._ids = random.Random(f"{self.seed}:request-ids")

    def reset(self) -> None:
        """Clear counters, the request log, limit state and blocks; restore the clock and the profile's faults."""
        self.clock.restart()
        for limiter in self.limiters.values():
            limiter.reset()
        self.faults.reset()
        self.stats.reset()
        self._rngs()

    def today(self, now: float | None = None) -> date:
        """The sandbox's date in New York."""
        at = self.clock.now() if now is None else datetime.fromtimestamp(now, marketcal.EASTERN)
        return at.astimezone(marketcal.EASTERN).date()

    def sync(self, now: float) -> Market:
        """The market, rebuilt first if the sandbox's date has changed (caches follow the market)."""
        self.market.ensure(self.today(now))
        if self.market.generation != self._cache_generation:
            self.cache.clear()
            self._cache_generation = self.market.generation
        return self.market

    def key_valid(self, key: str | None) -> bool:
        if not key:
            return False
        return self.config.keys is None or key in self.config.keys

    @staticmethod
    def client_id(key: str) -> str:
        """A digest standing for the key in limit state (the key itself is never stored or shown)."""
        return hashlib.sha256(key.encode()).hexdigest()[:20]

    def quirk(self, provider: str, rate: float) -> bool:
        """True with probability ``rate``, from the provider's seeded generator."""
        return rate > 0 and self._quirks[provider].random() < rate

    def request_id(self) -> str:
        return f"{self._ids.getrandbits(128):032x}"
