"""``make demo``: one full trading day for the default universe, against the offline sandbox.

Starts an embedded Redis, the sandbox (``demo`` profile, or ``free`` for the providers' free-tier limits)
unless provider base URLs are set in the environment, a worker per queue; loads the universe and its
history; then runs the day the way beat would (``stack.day.DAY_PHASES``), printing progress per phase and,
while the paced dispatcher lets calls out, per provider the calls made of those admitted, what waits in
line and in flight, and the quota's next slot; prints per provider the calls made, the share of the day's
quota they used, the violations counted (the sandbox's throttle answers), the dispatch ledger of the day's
runs (planned, admitted, made, deferred then made, carried, stale, pending), coverage, timings and the top
recommendations; writes ``reports/<day>-summary.json``; stops everything it started. Exits 1 when a quota
was violated, a run's counts do not add up or a call is still pending at the end.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tqdm import tqdm

import marketcal
from dispatch import Backlog
from monitoring.ledgers import by_provider, read_ledgers
from monitoring.ledgers import day_ledgers as read_day_ledgers
from ratelimits import Limiter, parse_policy
from runtime.cli import Parser, positive_seconds, run_main
from runtime.settings import Settings, SettingsError
from stack.day import DAY_PHASES, Phase, phase_instant
from stack.local import PROVIDER_PREFIXES, local_stack
from stack.report import day_summary, dispatch_table
from stack.status import pacing, slot_text

PROFILES = ("demo", "free")
# The free profile's default history: enough sessions for indicators' short windows, a few minutes of
# Polygon's free 5/minute (two years, about 500 sessions, take about 100 minutes).
FREE_HISTORY_SESSIONS = 30
BACKFILL_TASK = "tasks.planner.plan_backfill"


# The demo's mark on a working directory it claimed: only where it stands does the demo delete a database,
# the one its last run left there.
WORKDIR_MARKER = ".tickerbeat-demo"
DEMO_DATABASE = "tickerbeat.db"


def claim_workdir(workdir: str | Path, environ: dict | None = None) -> Path:
    """The demo's own working directory (absolute), ready for a fresh database; checked before anything
    starts. A directory the demo claimed (``WORKDIR_MARKER``) loses its last run's database; a new or
    database-free one is claimed. ``UsageError`` (nothing deleted) for a directory holding a database the
    demo did not create, and for the directory of the operator's database (``DATABASE_URL``, default
    ``var/tickerbeat.db``): the demo never works where tickerbeat keeps its data."""
    from runtime.cli import UsageError
    from storage.engine import DEFAULT_URL, parse_url, sqlite_path
    from storage.errors import StorageError

    work = Path(workdir).resolve()
    env = os.environ if environ is None else environ
    try:
        operators = sqlite_path(parse_url(env.get("DATABASE_URL") or DEFAULT_URL))
    except StorageError:  # a malformed DATABASE_URL is the settings' to report; the demo does not use it
        operators = None
    if operators is not None and operators.resolve().parent == work:
        raise UsageError(
            f"--workdir {workdir} holds tickerbeat's own database ({operators}: DATABASE_URL or its default): "
            "the demo works in a directory of its own, e.g. the default var/demo"
        )
    if work.exists() and not work.is_dir():
        raise UsageError(f"--workdir {workdir} is a file, not a directory")
    found = sorted(p.name for p in work.glob(f"{DEMO_DATABASE}*")) if work.is_dir() else []
    if (work / WORKDIR_MARKER).is_file():
        for name in found:
            (work / name).unlink()
        return work
    if found:
        raise UsageError(f"--workdir {workdir} holds a database the demo did not create ({', '.join(found)}): it "
                         "deletes only its own; choose another --workdir, or move that database away")  # fmt: skip
    work.mkdir(parents=True, exist_ok=True)
    (work / WORKDIR_MARKER).write_text(
        "This directory belongs to tickerbeat's demo (python -m stack.demo): each run deletes the database\n"
        f"its last run left here ({DEMO_DATABASE}*). Delete this file to keep the demo out.\n"
    )
    return work


def external_providers() -> bool:
    """True when the user pointed every provider at real services (or a proxy) through the environment."""
    return all(os.environ.get(f"{p}_BASE_URL") for p in PROVIDER_PREFIXES)


def history_days(end: date, sessions: int) -> int:
    """Calendar days of history (the planner's ``history_days``) that hold the ``sessions`` trading
    sessions ending on ``end``: ``tasks.planner.missing_sessions`` counts the sessions after ``end`` minus
    that many days, through ``end``."""
    days = marketcal.trading_days(end - timedelta(days=sessions * 2 + 10), end)[-sessions:]
    return (end - days[0]).days + 1


def day_phases(days: int | None) -> tuple[Phase, ...]:
    """The day's phases; with ``days``, the night's history backfill asks for that history, not two years."""
    if not days:
        return DAY_PHASES
    return tuple(replace(p, kwargs={**p.kwargs, "history_days": days}) if p.task == BACKFILL_TASK else p
                 for p in DAY_PHASES)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m stack.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=6500, help="sandbox universe size (default 6500)")
    parser.add_argument("--profile", choices=PROFILES, default="demo",
                        help="the sandbox's limits and the providers' plans: demo (fast, default) or free (the "
                             "free tiers' quotas: the pacing runs at their real speed)")  # fmt: skip
    parser.add_argument("--history-sessions", type=int, default=None,
                        help=f"sessions of history to load first (default: two years; {FREE_HISTORY_SESSIONS} "
                             "with --profile free, about 13 s each at Polygon's free 5/minute)")  # fmt: skip
    parser.add_argument("--workdir", default="var/demo", help="database, logs and models (default var/demo)")
    parser.add_argument("--reports", default="reports", help="where the report goes (default reports)")
    parser.add_argument("--timeout", type=positive_seconds, default=None,
                        help="seconds allowed per phase (default 900, more for a long free-profile history)")  # fmt: skip
    args = parser.parse_args(argv)
    if not 50 <= args.symbols <= 15000:
        parser.error(f"--symbols must be between 50 and 15000, got {args.symbols}")
    if args.history_sessions is None and args.profile == "free":
        args.history_sessions = FREE_HISTORY_SESSIONS
    if args.history_sessions is not None and not 5 <= args.history_sessions <= 520:
        parser.error(f"--history-sessions must be between 5 and 520, got {args.history_sessions}")
    if args.timeout is None:
        # the history goes at Polygon's pace: 12 s a session on the free plan, plus the rest of the start
        args.timeout = (
            max(900.0, 13.0 * (args.history_sessions or 0) + 600) if args.profile == "free" else 900.0
        )
    Settings.from_env()  # a malformed variable stops the demo before anything starts
    return run(args)


def run(args) -> int:
    t0 = time.monotonic()
    work = claim_workdir(args.workdir)  # refuses a database the demo did not create, before anything starts
    day = marketcal.last_completed_session(datetime.now(UTC) - timedelta(hours=1))
    previous = marketcal.previous_trading_day(day)
    days = history_days(previous, args.history_sessions) if args.history_sessions else None
    external = external_providers()
    view: PacingView | None = None

    def say(text: str) -> None:
        if view is not None:
            view.say(text)
        else:
            print(text, flush=True)

    if external:
        say("providers: the base URLs and keys set in the environment")
    else:
        say(f"sandbox: {args.profile} profile, {args.symbols} symbols ...")
    if days:
        say(f"history: {args.history_sessions} sessions ({days} days) up to {previous}")
    try:
        with local_stack(
            work, symbols=None if external else args.symbols, sandbox_now=phase_instant(day, "08:00"),
            profile=args.profile, extra_env={"TICKERBEAT_REPORTS_DIR": str(Path(args.reports).resolve())},
            timeout=args.timeout, say=say,
        ) as local:  # fmt: skip
            view = PacingView(local.redis, local.settings, [previous.isoformat(), day.isoformat()])
            local.driver.progress = view
            say(f"trading day {day.isoformat()} (New York)")
            try:
                local.driver.prepare(day, history_days=days)
                local.driver.run_day(day, day_phases(days))
            finally:
                view.close()
            view = None
            stats = local.sandbox.stats() if local.sandbox else None
            summary = day_summary(local.settings, local.db, day, stats, local.driver.timings, time.monotonic() - t0,
                                  ledgers=day_ledgers(local.redis, [previous, day]))  # fmt: skip
    except SettingsError as exc:
        say(f"tickerbeat: configuration error: {exc}")
        return 2
    except TimeoutError as exc:  # stack.day: a phase that did not finish within --timeout
        print(f"tickerbeat: a phase timed out: {exc}; everything was stopped; the workers' logs are in "
              f"{work / 'logs'} (--timeout sets the seconds allowed per phase)", file=sys.stderr, flush=True)  # fmt: skip
        return 2
    out = Path(args.reports) / f"{day.isoformat()}-summary.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))
    print_summary(summary, out)
    return 0 if summary["violations"] == 0 and not summary["dispatch_problems"] else 1


class PacingView:
    """The paced dispatcher as it works, while the day driver waits for a phase (``DayDriver.progress``).

    Per provider with work in the phase: the calls made of those admitted by the runs the phase opened,
    what waits in line and in flight, and when the quota grants its next slot. On a terminal, a tqdm bar
    per provider, redrawn twice a second; elsewhere (a log, a pipe) a line per provider every ``every``
    seconds. The phase's final counts stay on screen when it ends (``say`` of a line that is not the
    driver's own waiting line, or ``close``)."""

    def __init__(self, client, settings, days: list[str], out=None, tty: bool | None = None,
                 every: float = 15.0) -> None:  # fmt: skip
        self.backlog = Backlog(client)
        self.limiter = Limiter(client, guard=settings.quota_guard_seconds)
        self.policies = {name: parse_policy(p.quota) for name, p in settings.providers.items()}
        self.guard = settings.quota_guard_seconds
        self.days = days
        self.out = out or sys.stderr
        self.tty = self.out.isatty() if tty is None else tty
        self.every = 0.5 if self.tty else every
        self.label: str | None = None
        self.before: set[str] = set()
        self.bars: dict[str, object] = {}
        self.last = 0.0

    def __call__(self, label: str) -> None:
        if label != self.label:
            self.close()
            self.label, self.before = label, self._run_ids()  # the runs from before this phase
            self.last = time.monotonic()
            return
        if time.monotonic() - self.last >= self.every:
            self.last = time.monotonic()
            self.draw()

    def _run_ids(self) -> set[str]:
        ids = {run_id for day in self.days for run_id in self.backlog.run_ids(day)}
        return ids | {spec.id for spec in self.backlog.open_runs()}

    def rows(self) -> list[tuple[str, dict, object]]:
        """(provider, summed counts of the phase's runs, ``stack.status.Pacing``) of each provider at work."""
        runs = read_ledgers(self.backlog, sorted(self._run_ids() - self.before), tries=1)
        sums = by_provider(lg.as_record() for lg in runs)
        now = {p.provider: p for p in pacing(self.backlog, self.limiter, self.policies, self.guard)}
        return [
            (name, sums[name], now[name]) for name in sorted(sums) if sums[name]["admitted"] and name in now
        ]

    def draw(self, final: bool = False) -> None:
        for provider, row, p in self.rows():
            extra = "".join(f", {row[k]:,} {k}" for k in ("carried", "stale") if row[k])
            where = f"{p.in_line:,} in line · {p.in_flight:,} in flight · next slot {slot_text(p.next_slot)}"
            if not self.tty:
                if final or row["pending"]:
                    self._print(f"    {provider:13}{row['made']:,}/{row['admitted']:,} made{extra} · {where}")
                continue
            bar = self.bars.get(provider)
            if bar is None:
                bar = self.bars[provider] = tqdm(
                    total=row["admitted"], desc=f"    {provider:12}", unit="call", file=self.out, leave=True,
                    position=len(self.bars), dynamic_ncols=True,
                    bar_format="{desc} {bar} {n_fmt}/{total_fmt} made [{elapsed}]{postfix}",
                )  # fmt: skip
            bar.total, bar.n = row["admitted"], row["made"]
            bar.set_postfix_str(f"{extra.lstrip(', ')}{' · ' if extra else ''}{where}", refresh=False)
            bar.refresh()

    def close(self) -> None:
        """The phase's final counts, then no bar any more."""
        if self.label is not None:
            self.draw(final=True)
        for bar in self.bars.values():
            bar.close()
        self.bars = {}
        self.label = None

    def say(self, text: str) -> None:
        """Print ``text`` after the phase's final counts (its end, the next phase); the driver's own
        "N tasks queued or running" line only while no bar shows the phase's work."""
        if self.label and text.startswith(f"    {self.label}: "):
            if not self.bars:
                self._print(text)
            return
        self.close()
        self._print(text)

    def _print(self, text: str) -> None:
        print(text, flush=True)


def day_ledgers(client, days: list[date]):
    """Every run of ``days`` (the preparation's runs are on the session before the day)."""
    return read_day_ledgers(Backlog(client), [d.isoformat() for d in days])


def _say(text: str) -> None:
    print(text, flush=True)


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
    _say("paced dispatch, the day's runs and its preparation's (planned = made + carried + stale + pending):")
    for line in dispatch_table(summary.get("dispatch", {})):
        _say(f"  {line}")
    problems = summary.get("dispatch_problems", [])
    if problems:
        _say(f"dispatch: {len(problems)} problems (the counts must add up, nothing may stay pending):")
        for problem in problems:
            _say(f"  {problem}")
    else:
        _say("dispatch: every run adds up, nothing pending")
    if summary["top"]:
        _say("top recommendations (not investment advice):")
    for rec in summary["top"]:
        _say(
            f"  {rec['rank']:>3}. {rec['symbol']:8} {rec['action']:5} score {rec['score']:.3f}  {'; '.join(rec['reasons'])}"
        )
    _say(f"report: {summary.get('report')}\nsummary: {path}")


if __name__ == "__main__":
    run_main(main)
