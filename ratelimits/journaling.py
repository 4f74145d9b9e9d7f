"""The journal side of ``ratelimits.Limiter``: write each decision (or an activity lease) to the durable
journal before Redis books it, and put a provider's quota state back from the journal when Redis lost it.

A mixin of the one ``Limiter`` class, kept apart so the decision path reads on its own; it uses the
limiter's client, scripts, plans and clock (``_client``, ``_restore_script``, ``_plan``, ``_clock``, ``_now``,
``_journal``, ``_leases``, ``guard``, ``key``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ratelimits.errors import QuotaUnavailable
from ratelimits.periods import DAYS_AFTER
from ratelimits.policy import Policy
from ratelimits.restore import CLOCK_MARGIN_SECONDS, JOURNAL_KEEP_SECONDS, LEASE_SECONDS, restored
from ratelimits.schedule import Bookings
from ratelimits.store import check_name, fail_closed, text


@dataclass(frozen=True)
class _Ahead:
    """What was journaled ahead of a decision: ``token`` for ``Journal.cancel``; ``decision``: the decision
    itself (else an activity lease, ``lease_before`` being the lease it renewed)."""

    token: object
    decision: bool
    lease_before: float | None


class Journaling:
    """Journal-ahead and restore, for ``Limiter`` (see the module docstring)."""

    def _ahead(self, provider: str, plan, cost: int, max_wait: float, test_now: float | None):
        """Journal the decision about to be made (or renew this process's activity lease) before Redis can
        book anything; returns what was written (``_Ahead``), None when nothing was."""
        now = self._clock() if test_now is None else test_now
        latest = now + min(max_wait, DAYS_AFTER * 86400.0) + CLOCK_MARGIN_SECONDS
        try:
            if plan.journaled:
                return _Ahead(self._journal.record(provider, now, latest, cost), True, None)
            before = self._leases.get(provider, -math.inf)
            if latest <= before:
                return None
            until = max(latest, now + LEASE_SECONDS)
            token = self._journal.record(provider, now, until, 0)
            self._leases[provider] = until
            return _Ahead(token, False, before)
        except Exception as exc:  # noqa: BLE001 - whatever the journal raises, no grant without a record
            raise QuotaUnavailable(
                f"quota journal unavailable while deciding a call to {provider!r} ({type(exc).__name__}: "
                f"{exc}); no provider call may be made"
            ) from exc

    def _withdraw(self, provider: str, ahead: _Ahead | None) -> None:
        """Take back what ``_ahead`` wrote for a decision not made (Redis answered "not restored")."""
        if ahead is not None:
            self._cancel(ahead.token)
            if not ahead.decision:
                self._leases[provider] = ahead.lease_before

    def _cancel(self, token) -> None:
        """Take a refused decision out of the journal. If that fails, the entry over-counts: safe."""
        try:
            self._journal.cancel(token)
        except Exception:  # noqa: BLE001, S110 - a leftover entry only makes a restore stricter
            pass

    def restore(self, provider: str, policy: Policy, force: bool = False) -> bool:
        """Put back ``provider``'s quota state from the journal (merged with what Redis holds, never
        loosening it) and mark it restored with the Redis server's run id. Returns False when it was
        already marked (nothing done) unless ``force`` (Redis restarted with its data: merge anyway).

        Raises ``QuotaUnavailable`` when Redis or the journal cannot be read; ``ValueError`` without a
        journal."""
        if self._journal is None:
            raise ValueError("restoring quota state needs a journal (Limiter(..., journal=...))")
        plan = self._plan(provider, policy)
        with fail_closed(f"restoring the quota state of {provider!r}"):
            mark, now = self.server_id(), self._now()
        try:
            grants = self._journal.grants(provider, now - JOURNAL_KEEP_SECONDS)
        except Exception as exc:  # noqa: BLE001 - the journal's own errors: nothing restored, no grant
            raise QuotaUnavailable(
                f"quota journal unavailable while restoring {provider!r} ({type(exc).__name__}: {exc}); "
                "no provider call may be made"
            ) from exc
        bookings = restored(policy, grants, now, self.guard)
        last = "" if bookings.last == -math.inf else f"{bookings.last:.6f}"
        args = [mark, "1" if force else "0", last, str(len(policy.windows))]
        for window in policy.windows:
            args += _restore_args(window, bookings, now, self.guard)
        with fail_closed(f"restoring the quota state of {provider!r}"):
            done = self._restore_script(keys=[plan.keys[0], *plan.keys[2:]], args=args)
        return int(done) == 1

    def server_id(self) -> str:
        """The Redis server's run id: it changes at every restart, with or without the data."""
        with fail_closed("reading the Redis server's run id"):
            return text(self._client.info("server")["run_id"])

    def restore_marks(self, providers: list[str]) -> dict[str, str | None]:
        """Each provider's restore mark (the server run id its state was restored on; None: not restored)."""
        with fail_closed("reading the quota restore marks"):
            pipe = self._client.pipeline(transaction=False)
            for provider in providers:
                pipe.hget(self.key(check_name("provider", provider), "state"), "ready")
            return {p: text(v) for p, v in zip(providers, pipe.execute(), strict=True)}


def _restore_args(window, bookings: Bookings, now: float, guard: float) -> list[str]:
    """restore.lua's arguments for one window (see its header): kind, ttl (ms), then the bookings."""
    if window.calendar:
        periods = bookings.calendar.get(window.identity, {})
        until = max(periods, default=now) + 2 * 86400.0  # the period's end, with room for a 25-hour day
        ttl = max(3_600_000, math.ceil((until - now) * 1000) + 3_600_000)
        return ["c", str(ttl), str(len(periods)), *(x for start, units in sorted(periods.items())
                                                    for x in (str(start), str(units)))]  # fmt: skip
    instants = bookings.rolling.get(window.identity, [])
    ttl = math.ceil((max(instants, default=now) - now + window.seconds + guard) * 1000) + 1000
    return ["r", str(max(ttl, 1000)), str(window.limit), str(len(instants)), *(f"{x:.6f}" for x in instants)]
