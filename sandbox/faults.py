"""Injected faults: the profile's, replaced at runtime through ``POST /_sandbox/faults``.

Per provider, the effective faults are the provider's own entry if it has one, else the ``"*"`` entry,
else none. Choices come from one seeded generator per provider, so a given sequence of requests meets
the same faults on every run with the same seed (arrival order across providers does not matter).
"""

from __future__ import annotations

import random
from dataclasses import asdict
from typing import Any

from sandbox.profiles import PROVIDERS, Faults, ProfileError, faults_from_json

ERROR = "server_error"
GARBAGE = "garbage"
TIMEOUT = "timeout"
TRICKLE = "trickle"
NOTE = "note"
NONE = Faults()


class FaultBook:
    def __init__(self, defaults: dict[str, Faults], seed: int) -> None:
        self._defaults = dict(defaults)
        self._seed = seed
        self.reset()

    def reset(self) -> None:
        """Back to the profile's faults and fresh generators."""
        self._faults: dict[str, Faults] = dict(self._defaults)
        self._rngs = {p: random.Random(f"{self._seed}:faults:{p}") for p in PROVIDERS}

    def effective(self, provider: str) -> Faults:
        return self._faults.get(provider) or self._faults.get("*") or NONE

    def update(self, body: Any) -> None:
        """Replace the faults of the providers named in ``body`` ({provider or "*": faults or null}).

        An object (even all zeros) overrides ``"*"`` for that provider; ``null`` removes its entry.
        """
        if not isinstance(body, dict):
            raise ProfileError('faults: expected a JSON object like {"finnhub": {"error_rate": 0.5}}')
        parsed: dict[str, Faults | None] = {}
        for provider, value in body.items():
            if provider not in PROVIDERS and provider != "*":
                raise ProfileError(
                    f"faults: unknown provider {provider!r}; choose among {', '.join(PROVIDERS)} or '*'"
                )
            parsed[provider] = None if value is None else faults_from_json(value, f"faults.{provider}")
        for provider, faults in parsed.items():
            if faults is None:  # null: the provider falls back to "*" (or to no faults)
                self._faults.pop(provider, None)
            else:
                self._faults[provider] = faults

    def as_json(self) -> dict[str, Any]:
        return {
            "configured": {p: asdict(f) for p, f in self._faults.items()},
            "effective": {p: asdict(self.effective(p)) for p in PROVIDERS},
        }

    def draw(self, provider: str) -> tuple[float, str | None]:
        """(delay in seconds, fault kind or None) for the next request to ``provider``."""
        f = self.effective(provider)
        if f is NONE or f == NONE:
            return 0.0, None
        rng = self._rngs[provider]
        delay = (f.latency_ms + (rng.random() * f.jitter_ms if f.jitter_ms else 0.0)) / 1000.0
        if f.always_error:
            return delay, ERROR
        u = rng.random()
        kinds = (
            (ERROR, f.error_rate),
            (GARBAGE, f.garbage_rate),
            (TIMEOUT, f.timeout_rate),
            (TRICKLE, f.trickle_rate),
        )
        for kind, rate in kinds:
            if u < rate:
                return delay, kind
            u -= rate
        if provider == "alphavantage" and u < f.note_rate:
            return delay, NOTE
        return delay, None

    def pick(self, provider: str, n: int) -> int:
        """A deterministic choice among ``n`` variants (which 5xx, how to garble)."""
        return self._rngs[provider].randrange(n)
