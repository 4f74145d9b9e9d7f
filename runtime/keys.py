"""The names of tickerbeat's own Redis keys (the quota engine and the dispatcher name theirs under their
own prefixes, ``tickerbeat:quota`` and ``tickerbeat:dispatch``; RedBeat under ``tickerbeat:redbeat``)."""

from __future__ import annotations

# The first start's progress and what it already asked for (hash; see tasks.tiers.bootstrap).
BOOTSTRAP = "tickerbeat:bootstrap"
# The id of the history backfill run under way (string): while it is open, no other is planned.
BACKFILL_RUN = "tickerbeat:dispatch:backfill"
# The budget check's verdict (JSON: level, active, projection...).
CONSERVATION = "tickerbeat:conservation"
# How many writes the bars table has seen: cached analysis panels are valid for one value.
BARS_VERSION = "tickerbeat:bars:version"
# Set (with the reason, for jobs.storing.DB_HOLD_SECONDS) when the database failed a store step: meanwhile no
# call is released or made (jobs.feeder, jobs.fetching), so answers that cannot be kept spend no quota.
DB_HOLD = "tickerbeat:store:hold"
# A day's planner decisions are kept this long (seconds) for the plan record.
DECISIONS_KEEP_SECONDS = 8 * 86400


def carry(provider: str, what: str) -> str:
    """The list of keys carried to ``provider``'s next ``what`` run, first in line."""
    return f"tickerbeat:carry:{provider}:{what}"


def decisions(day: str) -> str:
    """The hash of the planner's decisions for ``day`` (field: what was planned; value: JSON summary), read
    by ``celery inspect plan`` and the metrics exporter; each run's live accounting is its ledger."""
    return f"tickerbeat:plan:{day}"


def deliveries(task_id: str, retries: int) -> str:
    """The hash counting a message's redeliveries (``n``) and when it first came back (``first``, epoch s);
    per retry, since a retry is a new message under the same task id (jobs/dead_letters.py)."""
    return f"tickerbeat:deliveries:{task_id}:{retries}"
