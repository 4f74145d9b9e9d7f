"""What a run is: the calls one planning decision admitted, and the ledger that accounts for each of them.

Pure values, no I/O. A ``RunSpec`` names the task that makes one call (``task(key_arg=key, **common)``),
the callback fired once when the run has nothing pending, and what becomes of calls its window could not
serve (``on_expiry``: carried to the next run, or stale). A ``Ledger`` is the run's counts as read back;
its invariants are the "nothing silently lost" rule:

    planned  = admitted + carried_plan
    admitted = made + carried + stale + pending
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

ON_EXPIRY = ("carry", "stale")
# Outcomes of a settled call that made no provider call (a task that failed before calling, say).
NO_CALL = frozenset({"deferred", "unavailable", "failed", "superseded"})


@dataclass(frozen=True)
class RunSpec:
    """One run of calls to one provider.

    ``id``: unique and stable for the decision (a planner that runs twice submits nothing twice).
    ``priority``: 0 goes before 1 before 2 in the provider's line (official bars before sweeps before history).
    ``deadline``: epoch seconds (Redis clock) when the run's window ends; None = until done (history).
    ``callback``: task name sent once, with ``run_id`` and ``callback_kwargs``, when nothing is pending.
    ``carry_to``: the Redis list that takes carried keys (the next run of the same kind reads it first).
    ``track_ok``: keep the run's keys, and those whose call answered ``ok`` (the callback reads them).
    """

    id: str
    provider: str
    task: str
    key_arg: str | None
    day: str
    kind: str
    common: dict = field(default_factory=dict)
    callback: str | None = None
    callback_kwargs: dict = field(default_factory=dict)
    priority: int = 1
    deadline: float | None = None
    on_expiry: str = "carry"
    carry_to: str = ""
    track_ok: bool = False

    def __post_init__(self) -> None:
        if "|" in self.id or not self.id:
            raise ValueError(f"run id must be non-empty and free of '|', got {self.id!r}")
        if self.on_expiry not in ON_EXPIRY:
            raise ValueError(f"on_expiry must be one of {ON_EXPIRY}, got {self.on_expiry!r}")
        if self.priority not in (0, 1, 2, 3):
            raise ValueError(f"priority must be 0..3, got {self.priority!r}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> RunSpec:
        return cls(**json.loads(text))

    def call_kwargs(self, key: str) -> dict:
        """The keyword arguments of the task that makes the call for ``key``."""
        if self.key_arg is None:
            return dict(self.common)
        return {self.key_arg: key, **self.common}


@dataclass(frozen=True)
class Release:
    """A call let out of the backlog: ``member`` names it in flight (run, key, place in line, token)."""

    member: str

    @property
    def run_id(self) -> str:
        return self.member.rsplit("|", 3)[0]

    @property
    def key(self) -> str:
        return self.member.rsplit("|", 3)[1]


@dataclass(frozen=True)
class Ledger:
    """A run's accounting. ``deferred_made``: made after at least one deferral (a subset of ``made``);
    ``deferred``: deferrals (a call may be deferred more than once); ``reclaimed``: releases presumed lost
    and put back in line (re-drives); ``given_up``: keys lost ``TICKERBEAT_MAX_REDRIVES`` times and settled
    stale instead (a part of ``stale``); ``outcomes``: made calls per outcome (ok, not_found, throttled...)."""

    run_id: str
    provider: str
    kind: str
    day: str
    planned: int
    admitted: int
    carried_plan: int
    made: int
    deferred: int
    deferred_made: int
    reclaimed: int
    carried: int
    stale: int
    backlog: int
    in_flight: int
    done: bool
    closed: bool
    deadline: float | None
    outcomes: dict[str, int]
    given_up: int = 0

    @property
    def pending(self) -> int:
        """Admitted calls not yet made, carried or stale (waiting in line, or in flight)."""
        return self.admitted - self.made - self.carried - self.stale

    @property
    def carried_total(self) -> int:
        return self.carried_plan + self.carried

    def problems(self) -> list[str]:
        """Why the counts do not add up (empty when they do)."""
        out = []
        if self.planned != self.admitted + self.carried_plan:
            out.append(
                f"planned {self.planned} != admitted {self.admitted} + carried at planning {self.carried_plan}"
            )
        if self.pending != self.backlog + self.in_flight:
            out.append(
                f"pending {self.pending} (admitted - made - carried - stale) != "
                f"{self.backlog} in line + {self.in_flight} in flight"
            )
        if self.pending < 0:
            out.append(f"more calls settled than admitted ({-self.pending} too many)")
        if self.done and self.pending:
            out.append(f"marked done with {self.pending} pending")
        if self.given_up > self.stale:
            out.append(f"given up {self.given_up} > stale {self.stale}")
        return out

    def undone_after(self, now: float) -> int:
        """Admitted calls still pending past the run's deadline (0 before it, or without one)."""
        if self.deadline is None or now < self.deadline:
            return 0
        return self.pending

    def usage(self) -> dict[str, int]:
        """The run as ``api_usage`` columns: calls made (every outcome of a made call), ok, throttled,
        quota_exhausted, errors (made calls that were none of those) and deferred (deferrals: no call)."""
        ok, throttled, exhausted = (self.outcomes.get(o, 0) for o in ("ok", "throttled", "quota_exhausted"))
        made = sum(n for o, n in self.outcomes.items() if o not in NO_CALL)
        return {"calls": made, "ok": ok, "throttled": throttled, "quota_exhausted": exhausted,
                "errors": made - ok - throttled - exhausted, "deferred": self.deferred}  # fmt: skip

    def as_record(self) -> dict:
        """The plan record's view: every count an operator needs, in one flat dict."""
        return {
            "run": self.run_id, "provider": self.provider, "kind": self.kind, "day": self.day,
            "planned": self.planned, "admitted": self.admitted, "made": self.made,
            "deferred_then_made": self.deferred_made, "carried": self.carried_total, "stale": self.stale,
            "pending": self.pending, "deferrals": self.deferred, "reclaimed": self.reclaimed,
            "given_up": self.given_up, "done": self.done, "adds_up": not self.problems(),
        }  # fmt: skip
