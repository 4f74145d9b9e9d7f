"""The paced dispatcher's ledgers as operators see them: read from the ``dispatch.Backlog``, summed per
provider (or per provider and kind), and the reasons a day's accounting fails.

One rule, everywhere (``celery inspect plan``, the metrics, the demo's summary, ``make validate``): every
planned call is admitted or carried at planning, and every admitted call ends made, carried (first in line
next run) or stale with a reason; until then it is pending, in line or in flight::

    planned  = admitted + carried at planning
    admitted = made + carried + stale + pending

The record's ``carried`` (``Ledger.as_record``) counts both kinds of carried, so ``planned = made +
carried + stale + pending`` too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

import marketcal
from dispatch import Backlog, Ledger

# The counts of a plan record (``Ledger.as_record``) that add up, in the order tables show them.
COUNTS = ("planned", "admitted", "made", "deferred_then_made", "carried", "stale", "pending")


def read_ledgers(backlog: Backlog, run_ids: Iterable[str], tries: int = 3) -> list[Ledger]:
    """The ledger of each run (runs that no longer exist are left out), in the order given, once each.

    A ledger's counters, its calls in line and its calls in flight are read in separate round trips, so a
    call released or settled between them can make a live run look off by one for an instant: a ledger
    that does not add up is read again, up to ``tries`` reads in all, and kept as last read."""
    out = []
    for run_id in dict.fromkeys(run_ids):
        ledger = backlog.ledger(run_id)
        for _ in range(tries - 1):
            if ledger is None or not ledger.problems():
                break
            ledger = backlog.ledger(run_id)
        if ledger is not None:
            out.append(ledger)
    return out


def day_ledgers(backlog: Backlog, days: Iterable[str], open_runs: bool = False) -> list[Ledger]:
    """The ledgers of every run of ``days`` (a run's ``day`` field), and of every open run if asked."""
    ids = [run_id for day in days for run_id in backlog.run_ids(day)]
    if open_runs:
        ids += [spec.id for spec in backlog.open_runs()]
    return read_ledgers(backlog, ids)


def record(ledger: Ledger) -> dict:
    """The plan record (``Ledger.as_record``) with ``problems``: why its counts do not add up (empty when
    they do)."""
    return {**ledger.as_record(), "problems": ledger.problems()}


def totals(records: Iterable[dict], by: Sequence[str] = ("provider",)) -> dict[tuple, dict]:
    """Plan records summed per value of the ``by`` fields (sorted): every count of ``COUNTS``, ``runs``
    and ``not_adding_up`` (runs whose counts do not add up), and ``adds_up``."""
    out: dict[tuple, dict] = {}
    for r in records:
        row = out.setdefault(
            tuple(r[k] for k in by), {**dict.fromkeys(COUNTS, 0), "runs": 0, "not_adding_up": 0}
        )
        for name in COUNTS:
            row[name] += int(r[name])
        row["runs"] += 1
        row["not_adding_up"] += 0 if r["adds_up"] else 1
    for row in out.values():
        row["adds_up"] = row["not_adding_up"] == 0
    return dict(sorted(out.items()))


def by_provider(records: Iterable[dict]) -> dict[str, dict]:
    """``totals`` per provider, keyed by the provider's name."""
    return {key[0]: row for key, row in totals(records).items()}


def day_problems(ledgers: Iterable[Ledger], finished: bool = True) -> list[str]:
    """Why a day's accounting fails: each run's ``problems()``, and, once the day is ``finished`` (nothing
    may be in line or in flight any more), the calls its runs still have pending."""
    out = []
    for ledger in ledgers:
        out += [f"{ledger.run_id}: {p}" for p in ledger.problems()]
        if finished and ledger.pending > 0:
            out.append(
                f"{ledger.run_id}: {ledger.pending} admitted calls still pending "
                f"({ledger.backlog} in line, {ledger.in_flight} in flight)"
            )
    return out


def dispatch_day(now: datetime) -> date:
    """The trading day whose runs the metrics show at the aware instant ``now``: today's session from its
    open, else the session before, whose runs (its sweeps, then its overnight official bars, fallbacks and
    backfill, all with its ``day``) stay in view until the next open. Open runs are shown besides."""
    today = now.astimezone(marketcal.EASTERN).date()
    if marketcal.is_trading_day(today) and now >= marketcal.session_open(today):
        return today
    return marketcal.previous_trading_day(today)
