"""The demo's machine-readable summary of a day, read from the database (and the sandbox's counters)."""

from __future__ import annotations

from datetime import date

from planning import calls_in
from ratelimits import parse_policy
from stack.local import day_coverage
from storage import Database, recommendations_for, recommendations_skipped, usage_for
from worker.settings import Settings


def day_summary(
    settings: Settings,
    db: Database,
    day: date,
    sandbox_stats: dict | None,
    timings: dict,
    wall: float,
    top: int = 10,
) -> dict:
    """``symbols_total``, ``symbols_fresh``, ``recommendations``, ``recommendations_skipped`` (why the day
    has none at all, e.g. too little history to train the model; None when it was recommended),
    ``violations``, ``calls`` per provider, ``wall_seconds``, per-provider quota share of the day, phase
    timings and the top recommendations.

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
