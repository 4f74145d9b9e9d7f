"""What the sandbox served: counters per provider and endpoint, and a bounded log of every request.

Outcomes: ``ok`` (data served, an empty day included), ``throttled`` (the client broke a limit: a quota
violation), and error kinds: ``auth``, ``not_found``, ``not_entitled``, ``bad_request``, ``server_error``,
``garbage``, ``timeout``, ``trickle``, ``note`` (the last five are injected faults). The log holds no keys.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

OK = "ok"
THROTTLED = "throttled"
LOG_SIZE = 200_000  # entries kept; older ones are dropped (``dropped`` in stats says how many)


@dataclass
class _ProviderStats:
    calls: int = 0
    ok: int = 0
    throttled: int = 0
    errors: Counter = field(default_factory=Counter)
    endpoints: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)

    def as_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls, "ok": self.ok, "throttled": self.throttled,
            "errors": dict(self.errors), "error_total": sum(self.errors.values()),
            "endpoints": dict(self.endpoints), "statuses": {str(k): v for k, v in self.statuses.items()},
        }  # fmt: skip


class Stats:
    def __init__(self, providers: tuple[str, ...], log_size: int = LOG_SIZE) -> None:
        self.providers = providers
        self.log_size = log_size
        self.reset()

    def reset(self) -> None:
        self._by = {p: _ProviderStats() for p in self.providers}
        self._log: deque[tuple[int, float, str, str, int, str]] = deque(maxlen=self.log_size)
        self._seq = 0

    def record(self, provider: str, endpoint: str, status: int, outcome: str, arrival: float) -> None:
        s = self._by[provider]
        s.calls += 1
        s.endpoints[endpoint] += 1
        s.statuses[status] += 1
        if outcome == OK:
            s.ok += 1
        elif outcome == THROTTLED:
            s.throttled += 1
        else:
            s.errors[outcome] += 1
        self._seq += 1
        self._log.append((self._seq, arrival, provider, endpoint, status, outcome))

    def snapshot(self) -> dict[str, Any]:
        per = {p: s.as_json() for p, s in self._by.items()}
        totals = {
            "calls": sum(s.calls for s in self._by.values()),
            "ok": sum(s.ok for s in self._by.values()),
            "throttled": sum(s.throttled for s in self._by.values()),
            "errors": sum(sum(s.errors.values()) for s in self._by.values()),
        }
        return {
            "providers": per,
            "totals": totals,
            "logged": len(self._log),
            "dropped": self._seq - len(self._log),
        }

    def requests(
        self, since: float | None = None, after_seq: int | None = None, limit: int = 10_000
    ) -> list[dict]:
        """Log entries arriving at or after ``since`` (epoch s) and with ``seq`` > ``after_seq``, oldest first."""
        out = []
        for seq, arrival, provider, endpoint, status, outcome in self._log:
            if since is not None and arrival < since:
                continue
            if after_seq is not None and seq <= after_seq:
                continue
            out.append({"seq": seq, "arrival": arrival, "provider": provider, "endpoint": endpoint,
                        "status": status, "outcome": outcome})  # fmt: skip
            if len(out) >= limit:
                break
        return out
