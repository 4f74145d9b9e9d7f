"""The demo's machine-readable summary of a day, read from the database (and the sandbox's counters)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from dispatch import Ledger
from monitoring.ledgers import by_provider, day_problems, record
from planning import calls_in
from ratelimits import parse_policy
from runtime.settings import Settings
from stack.local import day_coverage
from storage import Database, recommendations_for, recommendations_skipped, usage_for


def day_summary(
    settings: Settings,
    db: Database,
    day: date,
    sandbox_stats: dict | None,
    timings: dict,
    wall: float,
    top: int = 10,
    ledgers: Sequence[Ledger] = (),
) -> dict:
    """``symbols_total``, ``symbols_fresh``, ``recommendations``, ``recommendations_skipped`` (why the day
    has none at all, e.g. too little history to train the model; None when it was recommended),
    ``violations``, ``calls`` per provider, ``wall_seconds``, per-provider quota share of the day, phase
    timings and the top recommendations.

    ``ledgers``: the paced dispatcher's runs the day made (its preparation's included): ``dispatch`` sums
    their counts per provider (planned, admitted, made, deferred_then_made, carried, stale, pending, runs),
    ``dispatch_runs`` lists each run's record, and ``dispatch_problems`` says why the accounting fails (a
    run whose counts do not add up, a call still pending once the day is over): empty when it holds.

    Violations are the sandbox's throttle answers when a sandbox served the day, else the throttle and
    quota-exhausted answers recorded in ``api_usage`` (real providers, a proxy or another emulator).
    """
    coverage = day_coverage(db, day)
    total, fresh = len(coverage.symbols), len(coverage.bars & coverage.symbols)
    with db.session() as s:
        recs = recommendations_for(s, day)
        skipped = recommendations_skipped(s, day)
        usage = usage_for(s, day)
    providers = {}
    for name, p in settings.providers.items():
        if sandbox_stats is not None:
            st = sandbox_stats["providers"].get(name, {})
            calls, violations = st.get("calls", 0), st.get("throttled", 0)
        else:
            u = usage.get(name, {})
            calls, violations = u.get("calls", 0), u.get("throttled", 0) + u.get("quota_exhausted", 0)
        daily = calls_in(parse_policy(p.quota), 86400)
        providers[name] = {
            "calls": calls,
            "violations": violations,
            "quota": p.quota,
            "quota_share": calls / daily if daily else 0.0,
        }
    ranked = sorted(recs, key=lambda r: r.rank)
    records = [record(ledger) for ledger in ledgers]
    return {
        "day": day.isoformat(),
        "symbols_total": total,
        "symbols_fresh": fresh,
        "recommendations": len(recs),
        "recommendations_skipped": skipped,
        "actions": {a: sum(1 for r in recs if r.action == a) for a in ("buy", "hold", "sell")},
        "violations": sum(p["violations"] for p in providers.values()),
        "calls": {n: p["calls"] for n, p in providers.items()},
        "providers": providers,
        "wall_seconds": round(wall, 1),
        "phases": timings,
        "dispatch": by_provider(records),
        "dispatch_runs": records,
        "dispatch_problems": day_problems(ledgers, finished=True),
        "report": str(_report_path(settings, day)),
        "top": [
            {
                "rank": r.rank,
                "symbol": r.symbol,
                "action": r.action,
                "score": r.score,
                "reasons": list(r.reasons or []),
            }
            for r in ranked[:top]
        ],
    }


def _report_path(settings: Settings, day: date):
    from pathlib import Path

    return Path(settings.reports_dir) / f"{day.isoformat()}.html"


DISPATCH_COLUMNS = (("planned", "planned"), ("admitted", "admitted"), ("made", "made"),
                    ("deferred_then_made", "deferred>made"), ("carried", "carried"), ("stale", "stale"),
                    ("pending", "pending"), ("runs", "runs"))  # fmt: skip


def dispatch_table(dispatch: dict[str, dict]) -> list[str]:
    """The ``dispatch`` sums of ``day_summary`` as text lines: a header, a row per provider (``yes`` when
    its runs add up, else how many do not), and the total."""
    widths = [max(len(name), 6) + 2 for _, name in DISPATCH_COLUMNS]

    def line(label: str, values, verdict: str) -> str:
        cells = "".join(
            f"{v:>{w},}" if isinstance(v, int) else f"{v:>{w}}" for v, w in zip(values, widths, strict=True)
        )
        return f"{label:13}{cells}  {verdict}"

    lines = [line("provider", [name for _, name in DISPATCH_COLUMNS], "adds up")]
    total = dict.fromkeys([k for k, _ in DISPATCH_COLUMNS], 0)
    for provider, row in dispatch.items():
        verdict = "yes" if row.get("adds_up", True) else f"NO ({row.get('not_adding_up', '?')} runs)"
        lines.append(line(provider, [row[k] for k, _ in DISPATCH_COLUMNS], verdict))
        for k in total:
            total[k] += row[k]
    if not dispatch:
        return [*lines, "(no runs)"]
    every = all(row.get("adds_up", True) for row in dispatch.values())
    return [*lines, line("total", list(total.values()), "yes" if every else "NO")]
