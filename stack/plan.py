"""``make validate-plan``: the day's capacity plan against the configured quotas.

Prints, per schedule entry and provider, the calls a run makes vs. what the quota admits in the run's
window, the coverage per tier and the expected freshness; exits 1 when any batch cannot fit. Beat runs
the same check when it starts (``worker.signals``).
"""

from __future__ import annotations

import argparse
import sys

from beat_schedule import entries
from planning import calls_in, capacity_plan, work_for
from planning.capacity import TIER_SIZES, tier_counts
from ratelimits import parse_policy
from worker.settings import Settings, SettingsError

FRESHNESS = {
    1: "hourly quotes in market hours, provisional close at 16:00, official bar overnight",
    2: "provisional close at 16:00, official bar overnight",
    3: "provisional close at 17:00, official bar overnight",
    4: "official bar overnight (analysed on the previous session's bar in the evening)",
}


def check(settings: Settings, universe: int) -> tuple[bool, list[str]]:
    """(fits, lines of the printed plan)."""
    policies = {name: parse_policy(p.quota) for name, p in settings.providers.items()}
    rows = capacity_plan(work_for(entries(settings.tier_plan), universe), policies)
    lines = [
        f"capacity plan for {universe} symbols, tier plan {settings.tier_plan!r}",
        "",
        f"{'entry':22}{'provider':14}{'calls/run':>10}{'runs':>6}{'window':>9}{'capacity':>10}{'use':>8}  fits",
    ]
    for r in rows:
        w = r.work
        lines.append(
            f"{w.entry:22}{w.provider:14}{w.calls:>10}{w.runs:>6}{w.window / 60:>8.0f}m{r.capacity:>10}"
            f"{r.share * 100:>7.1f}%  {'yes' if r.fits else 'NO'}"
        )
    lines += ["", f"{'per day':22}{'provider':14}{'calls':>10}{'':>15}{'capacity':>10}{'use':>8}  fits"]
    daily_fits = True
    for name, policy in policies.items():
        calls = sum(r.work.calls * r.work.runs for r in rows if r.work.provider == name)
        cap = calls_in(policy, 86400)
        daily_fits &= calls <= cap
        lines.append(
            f"{'':22}{name:14}{calls:>10}{'':>15}{cap:>10}{calls / cap * 100:>7.1f}%  {'yes' if calls <= cap else 'NO'}"
        )
    lines += [
        "",
        "quotas: " + "; ".join(f"{n} {p.quota} ({p.plan})" for n, p in settings.providers.items()),
        "",
    ]
    lines.append("coverage and freshness per tier:")
    for tier, n in tier_counts(universe, TIER_SIZES).items():
        lines.append(f"  tier {tier}: {n:>5} symbols  {FRESHNESS[tier]}")
    fits = daily_fits and all(r.fits for r in rows)
    lines.append("")
    lines.append(
        "the schedule fits every quota"
        if fits
        else "the schedule does NOT fit: raise the plan or shrink the tiers"
    )
    return fits, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.plan", description=__doc__.splitlines()[0])
    parser.add_argument("--universe", type=int, default=6500, help="symbols in the universe (default 6500)")
    args = parser.parse_args(argv)
    if args.universe < 1:
        parser.error("--universe must be at least 1")
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"tickerbeat: configuration error: {exc}", file=sys.stderr)
        return 2
    fits, lines = check(settings, args.universe)
    print("\n".join(lines))
    return 0 if fits else 1


if __name__ == "__main__":
    sys.exit(main())
