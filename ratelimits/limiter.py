"""The global quota: many worker processes on many hosts share one provider quota through Redis.

One decision is one atomic run of ``acquire.lua`` on the Redis server's clock: every window of the policy
is checked and booked together, callers are served in arrival order, and a caller that cannot go now is
booked the earliest slot every window admits (a reservation, not a denial). See docs/quotas.md.

Given a ``Journal`` (the workers' limiter), it also never decides on state Redis may have lost: each
decision is journaled ahead (``ratelimits.restore``), the script refuses while the provider's state is not
marked restored, and the limiter then restores it from the journal and decides again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from ratelimits.errors import QuotaNotRestored, QuotaWait
from ratelimits.journaling import Journaling
from ratelimits.periods import starts_for_decision, throttle_until
from ratelimits.policy import Policy
from ratelimits.restore import (
    Journal,
    journaled,
)
from ratelimits.schedule import Bookings
from ratelimits.stats import ProviderStats, read_stats
from ratelimits.store import check_name, fail_closed, instant, lua, text, unavailable

# Waits longer than this are "forever" for the script (Lua cannot parse "inf" portably).
_FOREVER = 1e15


@dataclass(frozen=True)
class Grant:
    """Permission to make ``cost`` calls to ``provider`` from ``at`` (epoch seconds, Redis clock) on.

    ``wait``: seconds between the decision and ``at``: what ``acquire`` slept, or what the caller of
    ``reserve`` must still wait before calling.
    """

    at: float
    wait: float
    provider: str = ""
    cost: int = 1


@dataclass(frozen=True)
class Decision:
    """The raw answer of the script: ``booked`` at ``at``, or refused with ``at`` the earliest slot;
    ``now`` is the Redis clock (epoch seconds) at the decision."""

    booked: bool
    at: float
    now: float


class _Plan:
    """What a decision for one provider and policy needs beyond the call's own arguments."""

    __slots__ = ("keys", "windows", "max_cost", "count", "rolling_only", "tail", "journaled")

    def __init__(self, keys: list[str], windows: list, max_cost: int, count: str, rolling_only: bool,
                 journaled: bool) -> None:  # fmt: skip
        self.keys = keys
        self.windows = windows  # (limit text, "r:<seconds>" or the calendar Window)
        self.max_cost = max_cost
        self.count = count
        self.rolling_only = rolling_only
        self.tail = [x for limit, spec in windows for x in (limit, spec)] if rolling_only else []
        self.journaled = journaled  # every decision journaled (a long window), else an activity lease


class Limiter(Journaling):
    """Paces calls to providers under their policies, for every process that shares the Redis ``client``.

    ``guard`` (seconds, default 0.02) is added to every rolling window so that jitter between the grant and
    the call's arrival cannot land N+1 calls inside one window of a provider that counts on arrival.
    ``sleep`` (seconds -> None) is what ``acquire`` waits with. The client is injected, never built here;
    it may use ``decode_responses`` or not.

    ``journal`` (a ``ratelimits.restore.Journal``, default None): the durable record of grants. With one,
    every decision is journaled before it is made, and no decision is made on a provider's state until it
    is marked restored (restored from the journal on demand, once, by whichever process needs it first).
    Without one, Redis is the only record: fine for a library user whose Redis keeps its data.
    """

    def __init__(
        self,
        client,
        *,
        guard: float = 0.02,
        key_prefix: str = "tickerbeat:quota",
        sleep: Callable[[float], None] = time.sleep,
        journal: Journal | None = None,
    ) -> None:
        if not (isinstance(guard, int | float) and math.isfinite(guard) and guard >= 0):
            raise ValueError(f"guard must be a number of seconds >= 0, got {guard!r}")
        self.guard = float(guard)
        self.key_prefix = key_prefix
        self._client = client
        self._sleep = sleep
        self._acquire_script = client.register_script(lua("acquire"))
        self._block_script = client.register_script(lua("block"))
        self._restore_script = client.register_script(lua("restore"))
        self._registered: set[str] = set()
        self._plans: dict[tuple[str, Policy], _Plan] = {}
        self._guard_text = repr(self.guard)
        self._journal = journal
        self._ready_flag = "0" if journal is None else "1"
        self._offset: float | None = None  # Redis clock - this process's clock (s), from the last decision
        self._leases: dict[str, float] = {}  # provider -> end of this process's journaled activity lease

    def __repr__(self) -> str:
        return f"Limiter(key_prefix={self.key_prefix!r}, guard={self.guard:g})"

    # -- keys -------------------------------------------------------------------------------------------

    def key(self, provider: str, suffix: str) -> str:
        """A key of ``provider``: ``<prefix>:{<provider>}:<suffix>`` (one Redis Cluster slot per provider)."""
        return f"{self.key_prefix}:{{{provider}}}:{suffix}"

    def _plan(self, provider: str, policy: Policy) -> _Plan:
        """The validated, precomputed parts of a decision for ``provider`` under ``policy`` (memoised)."""
        plan = self._plans.get((provider, policy))
        if plan is None:
            check_name("provider", provider)
            if not isinstance(policy, Policy):
                raise TypeError(
                    f"policy must be a ratelimits.Policy (see parse_policy), got {type(policy).__name__}"
                )
            keys = [self.key(provider, "state"), self.key(provider, "stats")]
            keys += [self.key(provider, f"w:{w.identity}") for w in policy.windows]
            windows = [(str(w.limit), w if w.calendar else f"r:{w.seconds!r}") for w in policy.windows]
            plan = _Plan(
                keys, windows, policy.max_cost, str(len(windows)), not policy.calendar, journaled(policy)
            )
            if len(self._plans) > 1000:  # policies are few; never grow without bound
                self._plans.clear()
            self._plans[(provider, policy)] = plan
        return plan

    def _register(self, provider: str) -> None:
        if provider not in self._registered:
            with fail_closed(f"registering provider {provider!r}"):
                self._client.sadd(f"{self.key_prefix}:providers", provider)
            self._registered.add(provider)

    # -- decisions --------------------------------------------------------------------------------------

    def decide(
        self,
        provider: str,
        policy: Policy,
        cost: int = 1,
        max_wait: float = 0.0,
        *,
        test_now: float | None = None,
    ) -> Decision:
        """One atomic decision (see acquire.lua). ``test_now`` replaces the Redis clock: tests only."""
        return Decision(*self._decide(provider, policy, cost, max_wait, test_now))

    def _decide(
        self, provider: str, policy: Policy, cost: int, max_wait: float, test_now: float | None
    ) -> tuple[bool, float, float]:
        plan = self._plans.get((provider, policy)) or self._plan(provider, policy)
        if type(cost) is not int or not 1 <= cost <= plan.max_cost:
            raise ValueError(
                f"cost must be a whole number from 1 to {plan.max_cost} for '{policy}', got {cost!r}"
            )
        if type(max_wait) not in (int, float) or not max_wait >= 0:  # also refuses NaN
            raise ValueError(f"max_wait must be a number of seconds >= 0, got {max_wait!r}")
        argv = [str(cost), repr(float(max_wait)) if max_wait < _FOREVER else "1e15", self._guard_text]
        argv += ("" if test_now is None else repr(float(test_now)), self._ready_flag, plan.count)
        if plan.rolling_only:
            argv += plan.tail
        else:
            around = self._clock() if test_now is None else test_now  # the Redis clock, not this host's
            for limit, spec in plan.windows:
                if isinstance(spec, str):
                    argv += (limit, spec)
                else:
                    argv += (limit, "c:" + ",".join(map(str, starts_for_decision(spec, around, max_wait))))
        if provider not in self._registered:
            self._register(provider)
        ahead = None if self._journal is None else self._ahead(provider, plan, cost, max_wait, test_now)
        status, at, now = self._run(provider, plan, argv)
        if status == "u":  # Redis lost this provider's state: restore it from the journal, decide again
            self._withdraw(provider, ahead)  # this decision is not made yet: the restore must not count it
            self.restore(provider, policy)
            ahead = self._ahead(provider, plan, cost, max_wait, test_now)
            status, at, now = self._run(provider, plan, argv)
        if test_now is None:
            self._offset = now - time.time()
        if status != "1" and ahead is not None and ahead.decision:
            self._cancel(ahead.token)
        if status == "u":
            raise QuotaNotRestored(
                f"the quota state of {provider!r} is not restored; no provider call may be made"
            )
        return status == "1", at, now

    def _run(self, provider: str, plan: _Plan, argv: list[str]) -> tuple[str, float, float]:
        try:
            status, at, now = self._acquire_script(keys=plan.keys, args=argv)
        except redis.RedisError as exc:  # fail closed: no grant (a journaled decision stays counted)
            raise unavailable(f"deciding a call to {provider!r}", exc) from exc
        return text(status), float(at), float(now)

    def _clock(self) -> float:
        """The Redis clock as this process estimates it (epoch seconds), without a round trip."""
        if self._offset is None:
            self._offset = self._now() - time.time()
        return time.time() + self._offset

    def reserve(self, provider: str, policy: Policy, cost: int = 1, max_wait: float = 30.0) -> Grant:
        """Book the earliest slot for ``cost`` calls without sleeping; ``Grant.wait`` is the seconds to wait.

        Raises ``QuotaWait`` (nothing booked) when the slot is more than ``max_wait`` seconds away,
        ``QuotaUnavailable`` when Redis cannot be reached (no call may be made).
        """
        booked, at, now = self._decide(provider, policy, cost, max_wait, None)
        wait = at - now if at > now else 0.0
        if not booked:
            raise QuotaWait(until=at, provider=provider, wait=wait)
        return Grant(at, wait, provider, cost)

    def acquire(self, provider: str, policy: Policy, cost: int = 1, max_wait: float = 30.0) -> Grant:
        """Book a slot, sleep until it (Redis-clock wait), and return when the call may be made now.

        A block reported while sleeping (``report_throttle``/``block``) voids the slot: the caller books
        again, within what is left of ``max_wait``. Raises like ``reserve``.
        """
        grant = self.reserve(provider, policy, cost, max_wait)
        waited = 0.0
        while grant.wait > 0:
            self._sleep(grant.wait)
            waited += grant.wait
            until = self.blocked_until(provider)
            if until is None or until <= grant.at:
                return Grant(grant.at, waited, provider, cost)
            grant = self.reserve(provider, policy, cost, max(0.0, max_wait - waited))
        return grant if not waited else Grant(grant.at, waited, provider, cost)

    # -- feedback and operator blocks -------------------------------------------------------------------

    def report_throttle(
        self,
        provider: str,
        policy: Policy,
        retry_after: float | None = None,
        exhausted: bool = False,
        reason: str = "429",
    ) -> float:
        """The provider pushed back (HTTP 429, Alpha Vantage ``Information``/``Note``): count a violation and
        block it for every worker; returns the blocked-until instant (epoch seconds, Redis clock).

        Until: ``now + retry_after`` (seconds) if given; else, if ``exhausted``, the next reset of the policy's
        longest window (its calendar-day reset when it has one); else ``now`` + the shortest window's length.
        An existing longer block is kept.
        """
        check_name("provider", provider)
        if not isinstance(policy, Policy):
            raise TypeError(
                f"policy must be a ratelimits.Policy (see parse_policy), got {type(policy).__name__}"
            )
        until = throttle_until(policy, self._now(), retry_after, exhausted)
        return self._set_block(provider, until, reason, violation=True)

    def block(self, provider: str, seconds: float = math.inf, reason: str = "paused by operator") -> float:
        """Block ``provider`` for ``seconds`` (``inf``: until ``unblock``); an existing longer block is kept.
        Returns the blocked-until instant (epoch seconds, Redis clock; ``inf`` for an indefinite block)."""
        check_name("provider", provider)
        if not isinstance(seconds, int | float) or math.isnan(seconds) or seconds < 0:
            raise ValueError(f"seconds must be a number >= 0 (inf for until unblocked), got {seconds!r}")
        until = math.inf if math.isinf(seconds) else self._now() + seconds
        return self._set_block(provider, until, reason, violation=False)

    def unblock(self, provider: str) -> None:
        """Lift any block of ``provider`` (operator or feedback); bookings already made stand."""
        check_name("provider", provider)
        with fail_closed(f"unblocking {provider!r}"):
            self._client.hdel(self.key(provider, "state"), "until", "reason", "since")

    def blocked_until(self, provider: str) -> float | None:
        """The instant (epoch seconds, Redis clock; ``inf`` = until unblocked) the provider is blocked until,
        or None when it is not blocked."""
        check_name("provider", provider)
        with fail_closed(f"reading the block of {provider!r}"):
            pipe = self._client.pipeline(transaction=False)
            pipe.time()
            pipe.hget(self.key(provider, "state"), "until")
            (seconds, micros), until = pipe.execute()
        until = instant(until)
        return until if until is not None and until > seconds + micros / 1e6 else None

    def _set_block(self, provider: str, until: float, reason: str, *, violation: bool) -> float:
        self._register(provider)
        stamp = "inf" if math.isinf(until) else f"{until:.6f}"
        with fail_closed(f"blocking {provider!r}"):
            result, _ = self._block_script(
                keys=[self.key(provider, "state"), self.key(provider, "stats")],
                args=[stamp, str(reason)[:500], "1" if violation else "0"],
            )
        return instant(result)

    def _now(self) -> float:
        """The Redis clock, epoch seconds."""
        with fail_closed("reading the Redis clock"):
            seconds, micros = self._client.time()
        return seconds + micros / 1e6

    # -- observation ------------------------------------------------------------------------------------

    def stats(self, provider: str, policy: Policy) -> ProviderStats:
        """Usage of every window, block and counters of ``provider``, read from Redis alone (one transaction)."""
        check_name("provider", provider)
        keys = self._plan(provider, policy).keys
        with fail_closed(f"reading the stats of {provider!r}"):
            return read_stats(self._client, provider, policy, keys, self.guard)

    def bookings(self, provider: str, policy: Policy) -> tuple[Bookings, float]:
        """``provider``'s booked calls as a pure ``Bookings`` value, and the Redis clock (epoch seconds), read
        in one transaction: what ``ratelimits.schedule.capacity_within`` needs to tell how many calls the
        quota can still serve within a horizon."""
        keys = self._plan(provider, policy).keys
        with fail_closed(f"reading the bookings of {provider!r}"):
            pipe = self._client.pipeline(transaction=True)
            pipe.time()
            pipe.hmget(keys[0], "last", "until", "ready")
            for window, key in zip(policy.windows, keys[2:], strict=True):
                if window.calendar:
                    pipe.hgetall(key)
                else:
                    pipe.lrange(key, 0, -1)
            (seconds, micros), (last, until, ready), *states = pipe.execute()
        if ready is None and self._journal is not None:
            self.restore(provider, policy)  # (or found restored meanwhile by another process)
            return self.bookings(provider, policy)  # what the next decision will see, not an empty quota
        now = seconds + micros / 1e6
        booked = Bookings(last=instant(last) or -math.inf)
        until = instant(until)
        booked.blocked_until = until if until is not None and until > now else None
        for window, state in zip(policy.windows, states, strict=True):
            if window.calendar:
                booked.calendar[window.identity] = {int(text(k)): int(text(v)) for k, v in state.items()}
            else:
                booked.rolling[window.identity] = [float(text(v)) for v in state]
        return booked, now

    def known_providers(self) -> list[str]:
        """Providers that have quota state in Redis (used or blocked at least once), sorted."""
        with fail_closed("listing providers"):
            members = self._client.smembers(f"{self.key_prefix}:providers")
        return sorted(text(m) for m in members)
