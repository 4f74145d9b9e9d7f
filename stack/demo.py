"""``make demo``: one full trading day for the default universe, against the offline sandbox.

Starts an embedded Redis, the sandbox (``demo`` profile) unless provider base URLs are set in the
environment, a worker per queue; loads the universe and two years of history; then runs the day the way
beat would (``stack.day.DAY_PHASES``), printing progress per phase; prints per provider the calls made,
the share of the day's quota they used, the violations counted (the sandbox's throttle answers), coverage,
timings and the top recommendations; writes ``reports/<day>-summary.json``; stops everything it started.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import marketcal
from stack.day import phase_instant
from stack.local import PROVIDER_PREFIXES, local_stack
from stack.report import day_summary
from worker.settings import SettingsError


def _say(text: str) -> None:
    print(text, flush=True)


def external_providers() -> bool:
    """True when the user pointed every provider at real services (or a proxy) through the environment."""
    return all(os.environ.get(f"{p}_BASE_URL") for p in PROVIDER_PREFIXES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=6500, help="sandbox universe size (default 6500)")
    parser.add_argument("--workdir", default="var/demo", help="database, logs and models (default var/demo)")
    parser.add_argument("--reports", default="reports", help="where the report goes (default reports)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds allowed per phase (default 900)")
    args = parser.parse_args(argv)
    if not 50 <= args.symbols <= 15000:
        parser.error(f"--symbols must be between 50 and 15000, got {args.symbols}")
    return run(args)


def run(args) -> int:
    t0 = time.monotonic()
    work = Path(args.workdir).resolve()
    for old in work.glob("tickerbeat.db*"):
        old.unlink()
    day = marketcal.last_completed_session(datetime.now(UTC) - timedelta(hours=1))
    external = external_providers()
    if external:
        _say("providers: the base URLs and keys set in the environment")
    else:
        _say(f"sandbox: demo profile, {args.symbols} symbols ...")
    try:
        with local_stack(
            work, symbols=None if external else args.symbols, sandbox_now=phase_instant(day, "08:00"),
            profile="demo", extra_env={"TICKERBEAT_REPORTS_DIR": str(Path(args.reports).resolve())},
            timeout=args.timeout, say=_say,
        ) as local:  # fmt: skip
            _say(f"trading day {day.isoformat()} (New York)")
            local.driver.prepare(day)
            local.driver.run_day(day)
            stats = local.sandbox.stats() if local.sandbox else None
            summary = day_summary(
                local.settings, local.db, day, stats, local.driver.timings, time.monotonic() - t0
            )
    except SettingsError as exc:
        _say(f"tickerbeat: configuration error: {exc}")
        return 2
    out = Path(args.reports) / f"{day.isoformat()}-summary.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))
    print_summary(summary, out)
    return 0 if summary["violations"] == 0 else 1


def print_summary(summary: dict, path: Path) -> None:
    _say("")
    _say(
        f"tickerbeat day {summary['day']}: {summary['symbols_fresh']}/{summary['symbols_total']} symbols with a "
        f"fresh bar, {summary['recommendations']} recommendations, {summary['violations']} quota violations, "
        f"{summary['wall_seconds']:.0f} s"
    )
    if summary.get("recommendations_skipped"):
        _say(f"recommendations skipped: {summary['recommendations_skipped']}")
    _say(f"{'provider':14}{'calls':>8}{'quota used':>12}{'violations':>12}")
    for name, p in summary["providers"].items():
        _say(f"{name:14}{p['calls']:>8}{p['quota_share'] * 100:>11.2f}%{p['violations']:>12}")
    if summary["top"]:
        _say("top recommendations (not investment advice):")
    for rec in summary["top"]:
        _say(
            f"  {rec['rank']:>3}. {rec['symbol']:8} {rec['action']:5} score {rec['score']:.3f}  {'; '.join(rec['reasons'])}"
        )
    _say(f"report: {summary.get('report')}\nsummary: {path}")


if __name__ == "__main__":
    sys.exit(main())
