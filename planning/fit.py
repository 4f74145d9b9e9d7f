"""The capacity plan as text: the day's runs against each quota's shape, the first-run history, coverage and
freshness per tier. ``make validate-plan`` prints it, beat logs it at start, ``celery inspect plan`` and
``make validate`` include it.

Pure: it reads the settings it is given (``runtime.settings.Settings``: the providers' quotas, the guard,
the tier plan) and nothing else.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import marketcal
from beat_schedule import entries
from planning.admission import calls_in
from planning.capacity import DAY, TIER_SIZES, RunRow, capacity_plan, tier_sizes, work_for
from planning.history import history_sessions
from ratelimits import parse_policy

FRESHNESS = {
    1: "hourly quotes in market hours, provisional close at 16:00, official bar overnight",
    2: "provisional close at 16:00, official bar overnight",
    3: "provisional close at 17:00, official bar overnight",
    4: "official bar overnight (analysed on the previous session's bar in the evening)",
}
HEADER = f"{'run':28}{'provider':14}{'calls':>6}  {'start':13}{'finish':>10}{'window':>10}{'use':>6}  fits"


def span(seconds: float) -> str:
    """A duration for a reader: seconds under a minute, minutes under three hours, else hours."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3 * 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def clock(start: float) -> str:
    """New York ``HH:MM`` of a start in seconds after midnight of the session day; ``+1``: the night after."""
    minutes = int(start // 60)
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}{'+1' if start >= DAY else ''}"


def grouped(rows: tuple[RunRow, ...]) -> list[list[RunRow]]:
    """Rows in start order, consecutive runs of one entry with the same finish merged (the hourly sweeps)."""
    groups: list[list[RunRow]] = []
    last: dict[int, list[RunRow]] = {}
    for r in rows:
        g = last.get(id(r.work))
        if g and g[-1].run == r.run - 1 and round(g[-1].finish, 2) == round(r.finish, 2):
            g.append(r)
            continue
        last[id(r.work)] = [r]
        groups.append(last[id(r.work)])
    return groups


def label(group: list[RunRow]) -> tuple[str, str]:
    """(entry, with ``xN`` for N runs; New York start, or the first and last starts)."""
    r = group[0]
    name = r.work.entry + (f" x{len(group)}" if len(group) > 1 else "")
    return name, clock(r.start) + (f"-{clock(group[-1].start)}" if len(group) > 1 else "")


def run_line(group: list[RunRow]) -> str:
    r = group[0]
    name, start = label(group)
    return (
        f"{name:28}{r.work.provider:14}{r.calls:>6}  {start:13}{span(r.finish):>10}{span(r.window):>10}"
        f"{min(r.share, 9.99) * 100:>5.0f}%  {'yes' if r.fits else 'NO'}"
    )


def check(settings, universe: int, *, end: date | None = None) -> tuple[bool, list[str]]:
    """(fits, lines of the printed plan). ``end``: the session the first run's history ends on (default:
    the last completed one)."""
    policies = {name: parse_policy(p.quota) for name, p in settings.providers.items()}
    schedule = entries(settings.tier_plan)
    work = work_for(schedule, universe)
    end = end or marketcal.last_completed_session(datetime.now(UTC))
    guard = settings.quota_guard_seconds
    plan = capacity_plan(work, policies, guard, history_calls=history_sessions(end))
    lines = [
        f"capacity plan for {universe} symbols, tier plan {settings.tier_plan!r}, "
        f"against each quota's shape (a burst, then the refill; guard {guard:g} s)",
        "each run starts at its New York slot (+1: the night after the session) and queues behind earlier",
        "runs on its provider; finish: from its start to its last call at the quota's pace",
        "",
        HEADER,
    ]
    lines += [run_line(g) for g in grouped(plan.runs)]
    lines += ["", f"{'per day':28}{'provider':14}{'calls':>6}  {'a day of quota':>14}{'use':>8}"]
    for name, policy in policies.items():
        calls = sum(w.calls * w.runs for w in work if w.provider == name)
        cap = calls_in(policy, DAY)
        lines.append(f"{'':28}{name:14}{calls:>6}  {cap:>14}{calls / cap * 100:>7.1f}%")
    h = plan.history
    lines += [
        "",
        f"first run: history backfill: {h.calls} grouped calls on {h.provider} ({h.policy}): about "
        f"{span(h.seconds)} at the quota floor",
        f"  (two years to {end.isoformat()}; not bound to a window: it carries on across windows until done)",
        "",
        "quotas: " + "; ".join(f"{n} {p.quota} ({p.plan})" for n, p in settings.providers.items()),
        "",
        "coverage and freshness per tier:",
    ]
    for tier, n in tier_sizes(universe, TIER_SIZES).items():
        lines.append(f"  tier {tier}: {n:>5} symbols  {FRESHNESS[tier]}")
    lines.append("")
    if plan.fits:
        lines.append("the schedule fits: every run finishes within its window at the quota's pace")
    else:
        by_entry: dict[int, list[RunRow]] = {}
        for r in plan.late:
            by_entry.setdefault(id(r.work), []).append(r)
        late = "; ".join(
            f"{label(g)[0]} ({g[0].work.provider}) at {label(g)[1]}: "
            f"{'up to ' if len(g) > 1 else ''}{span(max(r.finish for r in g))} of {span(g[0].window)}"
            for g in by_entry.values()
        )
        lines.append(f"the schedule does NOT fit: {late}; raise the plan or shrink the tiers")
    return plan.fits, lines
