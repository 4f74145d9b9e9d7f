"""API usage per run, and the quota journal: what must outlive Redis about the calls made.

- ``set_run_usage``: a dispatch run's calls, as its ledger counts them, in ``api_usage`` keyed by the run:
  set, not added to, so a callback that runs again (a redelivered message, a re-fired callback) counts
  nothing twice. Readers sum a day's rows (``storage.reads.usage_for``).
- ``GrantJournal``: the ``ratelimits.restore.Journal`` of the workers' limiter, on the ``quota_grants``
  table. Each method runs and commits its own short transaction (it is called from inside a quota
  decision, never from inside a caller's transaction).

Sessions belong to the caller (``GrantJournal`` owns the ``Database`` it is given, not a session).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from storage.bookkeeping import USAGE_SPEC, usage_rows
from storage.errors import StorageError
from storage.models import ApiUsage, QuotaGrant
from storage.upsert import write_rows


def set_run_usage(session: Session, run_id: str, provider: str, day: date | str, **counts: int) -> int:
    """Set run ``run_id``'s row of ``api_usage`` for ``provider`` on ``day`` to ``counts`` (any of calls,
    ok, throttled, quota_exhausted, errors, deferred; >= 0; missing ones are 0). Returns 1 (rows written).

    Idempotent: the same run recorded again leaves the same row (the later counts, which only grow as a
    run's ledger does)."""
    if not run_id:
        raise StorageError("api_usage: a run's usage needs its run id (counts without a run: add_api_usage)")
    return write_rows(session, ApiUsage.__table__, USAGE_SPEC.keys, usage_rows(provider, day, run_id, counts))


class GrantJournal:
    """The quota journal on ``quota_grants`` (see ``ratelimits.restore``): ``record`` and ``cancel`` commit
    before they return, ``grants`` reads. ``db`` is a ``storage.Database``."""

    def __init__(self, db) -> None:
        self.db = db

    def record(self, provider: str, earliest: float, latest: float, cost: int) -> int:
        with self.db.session() as s, s.begin():
            values = {"provider": provider, "earliest": earliest, "latest": latest, "cost": cost}
            return s.execute(insert(QuotaGrant).values(**values).returning(QuotaGrant.id)).scalar_one()

    def cancel(self, token: int) -> None:
        with self.db.session() as s, s.begin():
            s.execute(delete(QuotaGrant).where(QuotaGrant.id == token))

    def grants(self, provider: str, since: float) -> list[tuple[float, float, int]]:
        query = select(QuotaGrant.earliest, QuotaGrant.latest, QuotaGrant.cost).where(
            QuotaGrant.provider == provider, QuotaGrant.latest >= since
        )
        with self.db.session() as s:
            return [(float(a), float(b), int(c)) for a, b, c in s.execute(query)]


def prune_grants(session: Session, before: float) -> int:
    """Delete journal entries whose ``latest`` is before ``before`` (epoch s): they constrain nothing."""
    return session.execute(delete(QuotaGrant).where(QuotaGrant.latest < before)).rowcount or 0


__all__ = ["GrantJournal", "prune_grants", "set_run_usage"]
