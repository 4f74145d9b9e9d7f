"""Property test of the paced dispatcher's decisions (``dispatch.Backlog``: the real Lua scripts on the
private Redis): random interleavings of submit / take / settle (made, deferred, failed, reclaimed) / close /
reclaim over a few runs on two providers, checked after every step against a plain Python model. Reclaims
are capped (``MAX_REDRIVES`` here): a key lost that often in its run is settled stale and given up.

After each step: every ledger adds up (``Ledger.problems() == []``) and equals the model's counts; nothing
is lost (the keys in line and in flight, read from Redis, plus the model's made, carried and stale keys are
exactly the admitted keys, each once); calls leave a line in (priority, admission) order, a deferred key
going back to its own place (ahead of later keys of its priority); a settled or reclaimed release is no
longer ``holds()`` and settling it again changes nothing; every run that completes is reported complete
exactly once, by the call that completed it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from dispatch import Backlog, Release, RunSpec

PROVIDERS = ("pa", "pb")
RUN_IDS = ("r0", "r1", "r2", "r3", "r4")
KEYS = ("A", "B", "C", "D", "E", "F", "G")
MAX_REDRIVES = 2  # lower than the default, so that random interleavings reach the cap often
_prefixes = itertools.count()


@dataclass
class RunModel:
    spec: RunSpec
    keys: list[str]
    scores: dict[str, float]  # key -> its place in the provider's line
    planned: int = 0
    status: dict[str, str] = field(default_factory=dict)  # key -> line, flight, made, carried, stale
    made: int = 0
    carried: int = 0
    stale: int = 0
    deferred: int = 0
    reclaimed: int = 0
    deferred_made: int = 0
    requeued: set[str] = field(default_factory=set)
    lost: dict[str, int] = field(default_factory=dict)  # key -> times reclaimed in this run
    given_up: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    ok: set[str] = field(default_factory=set)
    closed: bool = False
    done: bool = False
    completions: int = 0  # times a call reported this run complete

    @property
    def pending(self) -> int:
        return len(self.keys) - self.made - self.carried - self.stale


class BacklogMachine(RuleBasedStateMachine):
    client = None  # set by the test: the private Redis

    def __init__(self) -> None:
        super().__init__()
        self.backlog = Backlog(self.client, prefix=f"test:dispatch:{next(_prefixes)}")
        self.runs: dict[str, RunModel] = {}
        self.seq = 0
        self.flight: dict[str, tuple[str, str]] = {}  # in-flight member -> (provider, run id)
        self.gone: list[tuple[str, str]] = []  # (provider, member) settled or reclaimed: must be duplicates

    # -- helpers -----------------------------------------------------------------------------------------

    def _line(self, provider: str) -> list[tuple[float, str, str]]:
        """The model's line of ``provider``: (score, run id, key), in release order."""
        return sorted((m.scores[k], rid, k) for rid, m in self.runs.items() if m.spec.provider == provider
                      for k in m.keys if m.status[k] == "line")  # fmt: skip

    def _complete_if_due(self, m: RunModel) -> bool:
        if m.pending <= 0 and not m.done:
            m.done = True
            return True
        return False

    def _settle_model(self, member: str, what: str, outcome: str) -> tuple[str, bool]:
        provider, rid = self.flight.pop(member)
        self.gone.append((provider, member))
        m = self.runs[rid]
        key = Release(member).key
        if what == "made":
            m.made += 1
            m.status[key] = "made"
            if key in m.requeued:
                m.deferred_made += 1
            name = outcome or "made"
            m.outcomes[name] = m.outcomes.get(name, 0) + 1
            if name == "ok":
                m.ok.add(key)
            result = "made"
        elif what == "failed":
            m.stale += 1
            m.status[key] = "stale"
            m.outcomes["failed"] = m.outcomes.get("failed", 0) + 1
            result = "stale"
        elif what == "reclaimed" and m.lost.get(key, 0) + 1 >= MAX_REDRIVES:
            m.lost[key] = m.lost.get(key, 0) + 1
            m.stale += 1
            m.given_up += 1
            m.status[key] = "stale"
            result = "stale"
        elif m.closed:
            if what == "reclaimed":
                m.lost[key] = m.lost.get(key, 0) + 1
            result = "carried" if m.spec.on_expiry == "carry" else "stale"
            setattr(m, result, getattr(m, result) + 1)
            m.status[key] = result
        else:
            m.status[key] = "line"
            m.requeued.add(key)
            if what == "reclaimed":
                m.lost[key] = m.lost.get(key, 0) + 1
                m.reclaimed += 1
            else:
                m.deferred += 1
            result = "requeued"
        return result, self._complete_if_due(m)

    # -- steps -------------------------------------------------------------------------------------------

    @initialize()
    def start(self) -> None:
        assert self.backlog.depth("pa") == (0, 0)

    @rule(rid=st.sampled_from(RUN_IDS), provider=st.sampled_from(PROVIDERS), priority=st.integers(0, 2),
          on_expiry=st.sampled_from(["carry", "stale"]), track=st.booleans(),
          keys=st.lists(st.sampled_from(KEYS), unique=True, max_size=6), extra=st.integers(0, 3))  # fmt: skip
    def submit(self, rid, provider, priority, on_expiry, track, keys, extra) -> None:
        spec = RunSpec(rid, provider, "tasks.test.call", "symbol", "2026-11-20", kind="test", priority=priority,
                       on_expiry=on_expiry, carry_to=f"carry:{rid}", track_ok=track)  # fmt: skip
        n = self.backlog.submit(spec, keys, planned=len(keys) + extra)
        if rid in self.runs:  # a planner that runs twice admits nothing twice
            assert n == -1
            return
        assert n == len(keys)
        step = max(len(keys), 1)
        first = self.seq + 1
        self.seq += step
        base = priority * 1e12
        m = RunModel(spec, list(keys), {k: base + first + i for i, k in enumerate(keys)}, len(keys) + extra)
        m.status = {k: "line" for k in keys}
        self.runs[rid] = m
        if not keys:
            m.done = True  # nothing to call: complete at once (the caller fires the callback)
            m.completions += 1

    @rule(provider=st.sampled_from(PROVIDERS), n=st.integers(0, 4))
    def take(self, provider, n) -> None:
        expected = self._line(provider)[:n]
        releases = self.backlog.take(provider, n)
        assert [(r.run_id, r.key) for r in releases] == [(rid, k) for _, rid, k in expected]
        for release, (score, rid, key) in zip(releases, expected, strict=True):
            assert float(release.member.rsplit("|", 3)[2]) == score  # its place in line travels with it
            assert self.backlog.holds(provider, release)
            self.flight[release.member] = (provider, rid)
            self.runs[rid].status[key] = "flight"

    @rule(data=st.data(), what=st.sampled_from(["made", "made", "deferred", "failed", "reclaimed"]),
          outcome=st.sampled_from(["ok", "ok", "not_found", ""]))  # fmt: skip
    def settle(self, data, what, outcome) -> None:
        if not self.flight:
            return
        member = data.draw(st.sampled_from(sorted(self.flight)))
        provider = self.flight[member][0]
        expected = self._settle_model(member, what, outcome if what == "made" else "")
        settled = self.backlog.settle(provider, Release(member), what, outcome if what == "made" else "",
                                      max_redrives=MAX_REDRIVES)  # fmt: skip
        assert (settled.what, settled.complete) == expected
        if settled.complete:
            self.runs[Release(member).run_id].completions += 1
        assert not self.backlog.holds(provider, Release(member))

    @rule(data=st.data(), what=st.sampled_from(["made", "deferred", "failed", "reclaimed"]))
    def settle_again(self, data, what) -> None:
        """A redelivered message, or one whose release was reclaimed: its settle changes nothing."""
        if not self.gone:
            return
        provider, member = data.draw(st.sampled_from(self.gone))
        before = {rid: self.backlog.ledger(rid) for rid in self.runs}
        settled = self.backlog.settle(provider, Release(member), what, "ok")
        assert (settled.what, settled.complete) == ("duplicate", False)
        assert {rid: self.backlog.ledger(rid) for rid in self.runs} == before

    @rule(rid=st.sampled_from(RUN_IDS))
    def close(self, rid) -> None:
        m = self.runs.get(rid)
        if m is None:
            return
        closed = self.backlog.close(m.spec)
        if m.closed:
            assert closed.keys == () and not closed.complete
            return
        m.closed = True
        expected = [k for _, r, k in self._line(m.spec.provider) if r == rid]
        assert list(closed.keys) == expected
        for k in expected:
            kind = "carried" if m.spec.on_expiry == "carry" else "stale"
            setattr(m, kind, getattr(m, kind) + 1)
            m.status[k] = kind
        assert closed.complete == self._complete_if_due(m)
        if closed.complete:
            m.completions += 1

    @rule(data=st.data(), provider=st.sampled_from(PROVIDERS))
    def reclaim(self, data, provider) -> None:
        """Releases in flight since before a cutoff are presumed lost and go back to their place in line."""
        instants = {member: self.client.zscore(self.backlog.flight_key(provider), member)
                    for member, (p, _) in self.flight.items() if p == provider}  # fmt: skip
        if not instants:
            return
        cutoff = data.draw(st.sampled_from(sorted(set(instants.values()))))
        # in the order Redis holds them (release instant, then member): the last one may complete a run
        lost = sorted((at, member) for member, at in instants.items() if at <= cutoff)
        results = {}
        for _, member in lost:
            given_before = self.runs[self.flight[member][1]].given_up
            outcome = self._settle_model(member, "reclaimed", "")
            m = self.runs[Release(member).run_id]
            results[member] = (*outcome, m.lost[Release(member).key], m.given_up > given_before)
        reclaimed = self.backlog.reclaim(provider, cutoff, max_redrives=MAX_REDRIVES)
        assert [r.member for r, _ in reclaimed] == [member for _, member in lost]
        for release, settled in reclaimed:
            assert not self.backlog.holds(provider, release)
            # what the settle did comes back with it: the caller carries, marks stale (with "lost N times"
            # when given up), fires the callback
            assert (settled.what, settled.complete, settled.lost, settled.given_up) == results[release.member]
            assert bool(settled.why) == settled.given_up
            assert not settled.given_up or settled.why.startswith(f"lost {MAX_REDRIVES} times")
            if settled.complete:
                self.runs[release.run_id].completions += 1

    # -- what must always hold ---------------------------------------------------------------------------

    @invariant()
    def ledgers_add_up_and_nothing_is_lost(self) -> None:
        line = {
            p: [m.decode() for m in self.client.zrange(self.backlog.line_key(p), 0, -1)] for p in PROVIDERS
        }
        flight = {
            p: [m.decode() for m in self.client.zrange(self.backlog.flight_key(p), 0, -1)] for p in PROVIDERS
        }
        assert sorted(m for p in PROVIDERS for m in flight[p]) == sorted(self.flight)
        open_ids = {i.decode() for i in self.client.smembers(self.backlog.open_key)}
        for rid, m in self.runs.items():
            ledger = self.backlog.ledger(rid)
            assert ledger.problems() == [], (rid, ledger.problems())
            in_line = [mem.split("|", 1)[1] for mem in line[m.spec.provider] if mem.split("|", 1)[0] == rid]
            in_flight = [Release(mem).key for mem in flight[m.spec.provider] if Release(mem).run_id == rid]
            settled = [k for k in m.keys if m.status[k] in ("made", "carried", "stale")]
            # nothing lost, nothing doubled: every admitted key is in exactly one place
            assert sorted(in_line + in_flight + settled) == sorted(m.keys), rid
            assert sorted(in_line) == sorted(k for k in m.keys if m.status[k] == "line")
            counts = (ledger.admitted, ledger.planned, ledger.made, ledger.carried, ledger.stale, ledger.deferred,
                      ledger.reclaimed, ledger.deferred_made, ledger.backlog, ledger.in_flight, ledger.done,
                      ledger.closed, ledger.given_up)  # fmt: skip
            model = (len(m.keys), m.planned, m.made, m.carried, m.stale, m.deferred, m.reclaimed, m.deferred_made,
                     len(in_line), len(in_flight), m.done, m.closed, m.given_up)  # fmt: skip
            assert counts == model, (rid, counts, model)
            assert ledger.outcomes == m.outcomes
            assert ledger.pending == m.pending >= 0
            if m.spec.track_ok:
                assert self.backlog.keys(rid) == sorted(m.keys)
                assert self.backlog.ok_keys(rid) == sorted(m.ok)
            # open until done; a completed run was reported complete exactly once
            assert (rid in open_ids) == (not m.done)
            assert m.completions == (1 if m.done else 0), (rid, m.completions)


def test_dispatch_backlog_decisions_add_up_under_random_interleavings(redis_client):
    BacklogMachine.client = redis_client
    run_state_machine_as_test(
        BacklogMachine,
        settings=settings(max_examples=120, stateful_step_count=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow]),
    )  # fmt: skip


def test_dispatch_backlog_deferred_key_goes_back_to_the_front_of_its_priority(redis_client):
    """The example the property covers, spelled out: A deferred goes out before B and C of its priority,
    after the priority-0 run admitted later."""
    backlog = Backlog(redis_client, prefix="test:dispatch:front")
    sweep = RunSpec("sweep", "pa", "tasks.test.call", "symbol", "2026-11-20", kind="test", priority=1)
    bars = RunSpec("bars", "pa", "tasks.test.call", "day", "2026-11-20", kind="test", priority=0)
    assert backlog.submit(sweep, ["A", "B", "C"]) == 3
    (first,) = backlog.take("pa", 1)
    assert first.key == "A"
    assert backlog.submit(bars, ["2026-11-19"]) == 1
    assert backlog.settle("pa", first, "deferred").what == "requeued"
    assert [r.key for r in backlog.take("pa", 3)] == ["2026-11-19", "A", "B"]
    assert backlog.ledger("sweep").deferred == 1 and backlog.ledger("sweep").problems() == []


def test_dispatch_backlog_reclaim_after_the_window_says_what_became_of_the_call(redis_client):
    """The run's window ended (close) while its last call was in flight; the call is then presumed lost.
    Reclaiming it ends the run: the key is carried (or stale) and the run complete, and reclaim says so,
    so that the feeder can carry the key and fire the callback as after any settle."""
    backlog = Backlog(redis_client, prefix="test:dispatch:reclaim")
    spec = RunSpec("eod", "pa", "tasks.test.call", "symbol", "2026-11-20", kind="test", on_expiry="stale")
    assert backlog.submit(spec, ["A", "B"]) == 2
    (release,) = backlog.take("pa", 1)
    assert backlog.close(spec).keys == ("B",)
    ((reclaimed, settled),) = backlog.reclaim("pa", backlog.now() + 1)
    assert reclaimed == release and not backlog.holds("pa", release)
    assert (settled.what, settled.complete) == ("stale", True)
    ledger = backlog.ledger("eod")
    assert (ledger.stale, ledger.pending, ledger.done, ledger.problems()) == (2, 0, True, [])
    assert backlog.settle("pa", release, "made", "ok").what == "duplicate"  # the late message: no effect


def test_dispatch_backlog_refuses_a_key_twice_in_one_run(redis_client):
    """A key given twice would be counted admitted twice but wait in line once: the run could never
    complete. The submit is refused whole, and nothing is admitted."""
    import pytest

    backlog = Backlog(redis_client, prefix="test:dispatch:twice")
    spec = RunSpec("twice", "pa", "tasks.test.call", "symbol", "2026-11-20", kind="test")
    with pytest.raises(ValueError, match="distinct"):
        backlog.submit(spec, ["A", "B", "A"])
    assert backlog.ledger("twice") is None and backlog.depth("pa") == (0, 0)
