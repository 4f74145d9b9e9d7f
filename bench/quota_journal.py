"""What the quota journal costs (``ratelimits.restore``), on a private redis-server it starts itself and a
SQLite file (and PostgreSQL with ``--database-url``).

    .venv/bin/python bench/quota_journal.py [--decisions 400] [--database-url postgresql+psycopg://...]

Prints, per database:
1. the time of one decision (``Limiter.reserve``, median of slices) under a day quota, which journals every
   decision ahead (a committed insert), against the same decision without a journal, and under a minute
   quota, which journals an activity lease once per ``LEASE_SECONDS`` (so about nothing per decision);
2. the time of a restore after Redis lost its data: reading a day's journal (1,000 entries: Yahoo's free
   day) and putting the windows back, once per provider and Redis loss.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis  # noqa: E402

from ratelimits import Limiter, parse_policy  # noqa: E402
from stack.redis_server import RedisServer  # noqa: E402
from storage.testing import migrated_database  # noqa: E402
from storage.usage import GrantJournal  # noqa: E402

DAY = parse_policy("100000/second, 100000000/day")  # journaled, and nobody ever waits
MINUTE = parse_policy("100000/second, 10000000/minute")  # leased
YAHOO = parse_policy("1/second, 30/minute, 1000/day")
SLICES = 5


def per_decision(limiter: Limiter, provider: str, policy, n: int) -> float:
    """Median seconds per ``reserve`` over ``SLICES`` slices of ``n // SLICES`` decisions."""
    times = []
    for _ in range(SLICES):
        start = time.perf_counter()
        for _ in range(max(1, n // SLICES)):
            limiter.reserve(provider, policy, max_wait=30.0)
        times.append((time.perf_counter() - start) / max(1, n // SLICES))
    return statistics.median(times)


def restore_time(client, db) -> float:
    """Seconds to restore Yahoo's free quota from a full day's journal (1,000 decisions)."""
    journal = GrantJournal(db)
    now = client.time()[0]
    for i in range(1000):
        journal.record("yahoo", now - 80000 + i * 80, now - 80000 + i * 80 + 35, 1)
    limiter = Limiter(client, guard=0.25, journal=journal)
    client.flushall()
    start = time.perf_counter()
    limiter.restore("yahoo", YAHOO)
    return time.perf_counter() - start


def bench(url: str, label: str, client, n: int) -> None:
    with migrated_database(url) as db:
        client.flushall()
        plain = Limiter(client, guard=0.25)
        journaled = Limiter(client, guard=0.25, journal=GrantJournal(db))
        per_decision(journaled, "warm", DAY, 20)
        bare = per_decision(plain, "plain", DAY, n)
        day = per_decision(journaled, "day", DAY, n)
        minute = per_decision(journaled, "minute", MINUTE, n)
        restore = restore_time(client, db)
    print(f"{label}:")
    print(f"  decision, no journal            {bare * 1e3:8.3f} ms")
    print(
        f"  decision, day quota (journaled) {day * 1e3:8.3f} ms  (+{(day - bare) * 1e3:.3f} ms: one committed insert)"
    )
    print(f"  decision, minute quota (leased) {minute * 1e3:8.3f} ms")
    print(f"  restore of a 1,000-call day     {restore * 1e3:8.1f} ms  (once per provider and Redis loss)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=400)
    parser.add_argument("--database-url", help="also measure on this database (a scratch schema is used)")
    args = parser.parse_args()
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        with tempfile.TemporaryDirectory() as tmp:
            bench(f"sqlite:///{tmp}/bench.db", "SQLite (WAL, synchronous=NORMAL)", client, args.decisions)
        if args.database_url:  # migrated_database works in a scratch schema of it
            bench(args.database_url, "PostgreSQL", client, args.decisions)
        client.close()


if __name__ == "__main__":
    main()
