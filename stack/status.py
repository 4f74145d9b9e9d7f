"""``make status``: where tickerbeat stands, read from Redis and the database directly (no worker needed).

    python -m stack.status

prints the first start's progress line with the next schedule entry beat will run, e.g.::

    universe 6,500 · history 137/500 sessions, about 73 min left · tiers: provisional · model: waiting for
    history · next: tier1-quotes-hourly 09:30 ET

then one line per provider: the paced dispatcher's calls in line and in flight, its open runs (made of
admitted) and when the quota grants its next slot. It uses the workers' own settings (the environment)
and exits 2 with one line when Redis or the database cannot be read, or a setting is malformed.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import marketcal
from ratelimits import next_slot
from runtime import keys

# Hourly upkeep (the run watchdog, the budget check) is due every hour: "next" names the day's work.
SKIP_CALENDARS = ("daily",)


@dataclass(frozen=True)
class Pacing:
    """One provider's paced dispatch: calls ``in_line`` and ``in_flight``; ``next_slot``: seconds until its
    quota grants the next call (0: now; ``inf``: blocked until lifted); ``runs``: (kind, made, admitted)
    of its open runs."""

    provider: str
    in_line: int
    in_flight: int
    next_slot: float
    runs: tuple[tuple[str, int, int], ...] = ()


def pacing(backlog, limiter, policies, guard: float) -> list[Pacing]:
    """Every provider of ``policies`` (name -> ``ratelimits.Policy``), read from Redis now."""
    from monitoring.ledgers import read_ledgers

    open_ids = [spec.id for spec in backlog.open_runs()]
    ledgers = read_ledgers(backlog, open_ids, tries=1)
    out = []
    for provider, policy in sorted(policies.items()):
        in_line, in_flight = backlog.depth(provider)
        bookings, now = limiter.bookings(provider, policy)
        wait = next_slot(policy, bookings, now, guard) - now
        runs = tuple((lg.kind, lg.made, lg.admitted) for lg in ledgers if lg.provider == provider)
        out.append(Pacing(provider, in_line, in_flight, max(0.0, wait), runs))
    return out


def slot_text(seconds: float) -> str:
    """``now``, ``in 0.8 s``, ``in 12 s``, ``in 4 min``, ``in 2.5 h`` or ``blocked until lifted``."""
    if math.isinf(seconds):
        return "blocked until lifted"
    if seconds < 0.05:
        return "now"
    if seconds < 10:
        return f"in {seconds:.1f} s"
    if seconds < 120:
        return f"in {seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"in {seconds / 60:.0f} min"
    return f"in {seconds / 3600:.1f} h"


def pacing_line(p: Pacing) -> str:
    """``finnhub        120 in line · 18 in flight · finnhub.refresh 62/200 made · next slot in 0.9 s``."""
    parts = [f"{p.in_line:,} in line", f"{p.in_flight:,} in flight"]
    parts += [f"{kind} {made:,}/{admitted:,} made" for kind, made, admitted in p.runs]
    parts.append(f"next slot {slot_text(p.next_slot)}")
    return f"{p.provider:13}" + " · ".join(parts)


def next_text(entries: Iterable, now: datetime) -> str:
    """The next schedule entry beat runs after ``now``, as ``tier1-quotes-hourly 09:30 ET`` (today, New
    York) or ``eod-bars Wed 00:30 ET``; hourly upkeep is left out. Empty when nothing is due for 40 days."""
    from beat_schedule import next_due

    found = next_due([e for e in entries if e.calendar not in SKIP_CALENDARS], now)
    if found is None:
        return ""
    entry, at = found
    today = now.astimezone(marketcal.EASTERN).date()
    when = at.strftime("%H:%M") if at.date() == today else at.strftime("%a %H:%M")
    return f"{entry.name} {when} ET"


def status_lines(ctx, now: datetime) -> list[str]:
    """The progress line and a line per provider, from ``ctx`` (a ``runtime.resources.Resources``)."""
    from beat_schedule import entries
    from jobs.universe import bootstrap_facts, history_day
    from planning.bootstrap import progress_line

    state = {_text(k): _text(v) for k, v in ctx.redis.hgetall(keys.BOOTSTRAP).items()}
    day = state.get("history_end") or history_day(now)
    facts, eta = bootstrap_facts(ctx, day)
    line = progress_line(
        facts, eta, state.get("model_reason", ""), next_text(entries(ctx.settings.tier_plan), now)
    )
    policies = {name: ctx.policy(name) for name in ctx.settings.providers}
    return [line] + [
        pacing_line(p) for p in pacing(ctx.backlog, ctx.limiter, policies, ctx.settings.quota_guard_seconds)
    ]


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def main(argv: list[str] | None = None, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> int:
    import redis
    from sqlalchemy.exc import SQLAlchemyError

    from ratelimits import QuotaError
    from runtime.cli import Parser
    from runtime.settings import Settings
    from storage import StorageError

    parser = Parser(prog="python -m stack.status", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    settings = Settings.from_env()  # a malformed variable: runtime.cli's one line
    from runtime.resources import Resources

    ctx = Resources(settings)
    try:
        lines = status_lines(ctx, clock())
    except (redis.RedisError, QuotaError) as exc:
        print(f"tickerbeat status: cannot read Redis at {_redis_address(settings.redis_url)}: {_first(exc)}",
              file=sys.stderr)  # fmt: skip
        return 2
    except (SQLAlchemyError, StorageError) as exc:
        reason = _first(getattr(exc, "orig", None) or exc)
        hint = " (make migrate)" if "no such table" in reason or "does not exist" in reason else ""
        print(f"tickerbeat status: cannot read the database {ctx.db.url}: {reason}{hint}", file=sys.stderr)
        return 2
    finally:
        ctx.close()
    for line in lines:
        print(line)
    return 0


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _redis_address(url: str) -> str:
    """The URL without its password."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    return f"{parts.scheme}://{host}:{parts.port or 6379}{parts.path}"


if __name__ == "__main__":
    from runtime.cli import run_main

    run_main(main)
