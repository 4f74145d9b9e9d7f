"""The Redis-held line of admitted calls, one per provider, shared by every process and host.

``Backlog`` receives a Redis client (it never builds one) and knows nothing of Celery: it admits runs
(``submit``), lets calls out in order (``take``), and settles each released call exactly once (``settle``),
putting a deferred call back in its place in line; ``close`` ends a run's window; ``reclaim`` puts back
calls whose release was lost, at most ``max_redrives`` times per key and run: a key lost that often is
settled stale instead (a call whose task keeps dying would otherwise spend quota every hour for ever).
Each step is one atomic Lua script, so many feeders and workers can share it.

Keys (``<p>`` = prefix, default ``tickerbeat:dispatch``; ``{provider}`` is a Redis Cluster hash tag):

    <p>:{provider}:backlog    sorted set: "<run>|<key>" by priority * 1e12 + admission sequence
    <p>:{provider}:inflight   sorted set: "<run>|<key>|<score>|<token>" by release instant
    <p>:run:<run id>          hash: the run's spec and ledger counters, "l:<key>" times the key was lost
                              (expires a week after the run is done)
    <p>:run:<run id>:keys     set: the run's keys (runs with ``track_ok``)
    <p>:run:<run id>:ok       set: keys answered ``ok`` (runs with ``track_ok``)
    <p>:open, <p>:day:<day>   sets of run ids: the open runs, the runs of a day
    <p>:seq                   admission sequence
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from dispatch.runs import Ledger, Release, RunSpec

RUN_KEEP_SECONDS = 8 * 86400  # a finished run's ledger stays readable for a week of plan records
# Times a key of a run may be lost (reclaimed) before it is settled stale; TICKERBEAT_MAX_REDRIVES.
MAX_REDRIVES = 3


def _lua(name: str) -> str:
    return resources.files("dispatch").joinpath(f"{name}.lua").read_text(encoding="utf-8")


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class Settled:
    """What ``settle`` did: ``what`` is made, requeued, carried, stale or duplicate; ``complete``: this
    settle finished the run (fire its callback). For a reclaimed release: ``lost``, the times its key has
    been lost in the run, and ``given_up``, True when that reached the cap and the key was settled stale."""

    what: str
    complete: bool
    lost: int = 0
    given_up: bool = False

    @property
    def why(self) -> str:
        """The reason a given-up key is marked stale with (empty otherwise)."""
        if not self.given_up:
            return ""
        return f"lost {self.lost} times: released, never settled (TICKERBEAT_MAX_REDRIVES)"


@dataclass(frozen=True)
class Closed:
    """What ``close`` did: the keys taken out of line (to carry or mark stale) and whether the run is complete."""

    keys: tuple[str, ...]
    complete: bool


class Backlog:
    def __init__(self, client, prefix: str = "tickerbeat:dispatch") -> None:
        self.client = client
        self.prefix = prefix
        self._submit = client.register_script(_lua("submit"))
        self._take = client.register_script(_lua("take"))
        self._settle = client.register_script(_lua("settle"))
        self._close = client.register_script(_lua("close"))

    # -- keys -----------------------------------------------------------------------------------------

    def line_key(self, provider: str) -> str:
        return f"{self.prefix}:{{{provider}}}:backlog"

    def flight_key(self, provider: str) -> str:
        return f"{self.prefix}:{{{provider}}}:inflight"

    def run_key(self, run_id: str) -> str:
        return f"{self.prefix}:run:{run_id}"

    @property
    def open_key(self) -> str:
        return f"{self.prefix}:open"

    def day_key(self, day: str) -> str:
        return f"{self.prefix}:day:{day}"

    # -- the life of a call ---------------------------------------------------------------------------

    def submit(self, spec: RunSpec, keys: Sequence[str], planned: int | None = None) -> int:
        """Admit ``keys`` (in priority order) as run ``spec``; ``planned`` counts the candidates considered
        (the difference was carried at planning). Returns the calls admitted, or -1 if the run exists."""
        if any("|" in k or not k for k in keys):
            raise ValueError("keys must be non-empty and free of '|'")
        if len(set(keys)) != len(keys):  # one line member per key: a repeat would never be settled
            raise ValueError("keys must be distinct")
        planned = len(keys) if planned is None else planned
        args = [spec.id, spec.priority, spec.to_json(), planned, planned - len(keys),
                "" if spec.deadline is None else repr(float(spec.deadline)), spec.on_expiry,
                "1" if spec.track_ok else "0", *keys]  # fmt: skip
        keys_ = [self.run_key(spec.id), self.line_key(spec.provider), f"{self.prefix}:seq", self.open_key,
                 self.day_key(spec.day)]  # fmt: skip
        n = int(self._submit(keys=keys_, args=args))
        self.client.expire(self.day_key(spec.day), RUN_KEEP_SECONDS)
        return n

    def take(self, provider: str, n: int) -> list[Release]:
        """Let the first ``n`` calls of ``provider``'s line out (into flight), in order."""
        if n <= 0:
            return []
        members = self._take(keys=[self.line_key(provider), self.flight_key(provider)],
                             args=[n, uuid.uuid4().hex[:12]])  # fmt: skip
        return [Release(_text(m)) for m in members]

    def holds(self, provider: str, release: Release) -> bool:
        """True while ``release`` is in flight (not settled, not reclaimed): its call may be made."""
        return self.client.zscore(self.flight_key(provider), release.member) is not None

    def settle(
        self, provider: str, release: Release, what: str, outcome: str = "", max_redrives: int = 0
    ) -> Settled:
        """End a released call: ``made``, ``deferred`` (back to its place in line), ``reclaimed`` or ``failed``.
        ``max_redrives`` (``reclaimed`` only; 0: no cap): see ``reclaim``."""
        if what not in ("made", "deferred", "reclaimed", "failed"):
            raise ValueError(f"unknown settlement {what!r}")
        done, complete, lost, given_up = self._settle(
            keys=[self.flight_key(provider), self.line_key(provider), self.open_key],
            args=[release.member, what, outcome or what, f"{self.prefix}:run:", int(max_redrives)],
        )
        if _text(complete) == "1":
            self._expire_run(release.run_id)
        return Settled(_text(done), _text(complete) == "1", int(_text(lost)), _text(given_up) == "1")

    def close(self, spec: RunSpec) -> Closed:
        """End ``spec``'s window: what is still in line leaves it (carried or stale, as the run says)."""
        out = self._close(keys=[self.run_key(spec.id), self.line_key(spec.provider), self.open_key],
                          args=[spec.id])  # fmt: skip
        complete = _text(out[0]) == "1"
        if complete:
            self._expire_run(spec.id)
        return Closed(tuple(_text(k) for k in out[1:]), complete)

    def _expire_run(self, run_id: str) -> None:
        pipe = self.client.pipeline(transaction=False)
        for suffix in ("", ":ok", ":keys"):
            pipe.expire(self.run_key(run_id) + suffix, RUN_KEEP_SECONDS)
        pipe.execute()

    def reclaim(
        self, provider: str, released_before: float, max_redrives: int = MAX_REDRIVES
    ) -> list[tuple[Release, Settled]]:
        """Put back in line every call of ``provider`` released before ``released_before`` (epoch s) and
        still in flight: its message is presumed lost. A late run of that message finds its release gone
        (``holds`` is False) and makes no call.

        A key lost ``max_redrives`` times in its run (0: no cap) is not put back: it is settled stale and
        ``given_up`` (the caller marks it stale with ``Settled.why``). Returns each reclaimed release with
        what its settle did: as after ``settle``, a call of a run whose window has ended is carried or stale
        (the caller carries it or marks it stale), and may complete the run (the caller fires its callback)."""
        stuck = self.client.zrangebyscore(self.flight_key(provider), "-inf", released_before)
        out = []
        for m in stuck:
            release = Release(_text(m))
            settled = self.settle(provider, release, "reclaimed", max_redrives=max_redrives)
            if settled.what != "duplicate":
                out.append((release, settled))
        return out

    # -- reading --------------------------------------------------------------------------------------

    def now(self) -> float:
        seconds, micros = self.client.time()
        return seconds + micros / 1e6

    def depth(self, provider: str) -> tuple[int, int]:
        """(calls in line, calls in flight) of ``provider``."""
        pipe = self.client.pipeline(transaction=False)
        pipe.zcard(self.line_key(provider))
        pipe.zcard(self.flight_key(provider))
        line, flight = pipe.execute()
        return int(line), int(flight)

    def spec(self, run_id: str) -> RunSpec | None:
        raw = self.client.hget(self.run_key(run_id), "spec")
        return RunSpec.from_json(raw) if raw else None

    def open_runs(self) -> list[RunSpec]:
        ids = sorted(_text(i) for i in self.client.smembers(self.open_key))
        specs = [self.spec(i) for i in ids]
        return [s for s in specs if s is not None]

    def run_ids(self, day: str) -> list[str]:
        return sorted(_text(i) for i in self.client.smembers(self.day_key(day)))

    def keys(self, run_id: str) -> list[str]:
        """Every key the run admitted (runs with ``track_ok``)."""
        return sorted(_text(k) for k in self.client.smembers(self.run_key(run_id) + ":keys"))

    def ok_keys(self, run_id: str) -> list[str]:
        return sorted(_text(k) for k in self.client.smembers(self.run_key(run_id) + ":ok"))

    def ledger(self, run_id: str) -> Ledger | None:
        """The run's counts, with what is in line and in flight counted from the sets themselves."""
        raw = {_text(k): _text(v) for k, v in self.client.hgetall(self.run_key(run_id)).items()}
        if "spec" not in raw:
            return None
        spec = RunSpec.from_json(raw["spec"])
        line = 0
        if int(raw.get("admitted", 0)):
            line = int(self.client.zcount(self.line_key(spec.provider), raw["lo"], raw["hi"]))
        prefix = f"{run_id}|"
        flight = sum(1 for m in self.client.zrange(self.flight_key(spec.provider), 0, -1)
                     if _text(m).startswith(prefix) and Release(_text(m)).run_id == run_id)  # fmt: skip

        def n(name: str) -> int:
            return int(raw.get(name, 0) or 0)

        return Ledger(
            run_id=run_id, provider=spec.provider, kind=spec.kind, day=spec.day, planned=n("planned"),
            admitted=n("admitted"), carried_plan=n("carried_plan"), made=n("made"), deferred=n("deferred"),
            deferred_made=n("deferred_made"), reclaimed=n("reclaimed"), carried=n("carried"), stale=n("stale"),
            backlog=line, in_flight=flight, done=raw.get("done") == "1", closed=raw.get("closed") == "1",
            deadline=float(raw["deadline"]) if raw.get("deadline") else None,
            outcomes={k[2:]: int(v) for k, v in raw.items() if k.startswith("o:")}, given_up=n("given_up"),
        )  # fmt: skip
