"""The paced dispatcher's ledgers where operators look, against a private Redis and a real database:
``celery inspect plan`` (the command's body on the process's context), the exporter's gauges, ``make status``
and the demo's live pacing view and summary. Runs are admitted, released and settled through the real
``dispatch.Backlog`` scripts; a ledger that does not add up is made by changing its counters behind the
scripts' back, as a lost call would."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

import marketcal
from dispatch import Backlog, RunSpec
from monitoring.collector import TickerbeatCollector
from monitoring.ledgers import day_ledgers
from monitoring.server import serve
from runtime import keys, resources
from runtime.settings import Settings
from storage import upsert_bars, upsert_symbols
from storage.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]
DAY = "2026-11-25"  # a Wednesday session
NOON = datetime(2026, 11, 25, 12, 0, tzinfo=marketcal.EASTERN)


def spec(
    run_id: str, provider: str = "finnhub", kind: str = "finnhub.refresh", day: str = DAY, **kw
) -> RunSpec:
    return RunSpec(run_id, provider, "tasks.finnhub.fetch_quote", "symbol", day, kind=kind, **kw)


def settle(backlog: Backlog, provider: str, n: int, what: str = "made") -> None:
    for release in backlog.take(provider, n):
        backlog.settle(provider, release, what, "ok")


@pytest.fixture
def ctx(tmp_path, redis_url):
    """The process's context on the private Redis and a migrated SQLite database (as a worker has it)."""
    url = f"sqlite:///{tmp_path / 'tickerbeat.db'}"
    upgrade(url)
    settings = Settings.from_env({"REDIS_URL": redis_url, "DATABASE_URL": url})
    installed = resources.Resources(settings)
    resources.install(installed)
    yield installed
    resources.reset()


def the_day(backlog: Backlog) -> None:
    """Finnhub: a sweep of 5 (2 more carried at planning) with 3 made, one deferred back in line, 2 in line;
    Polygon: the eod run of 2, both made (done)."""
    backlog.submit(spec("sweep"), ["A", "B", "C", "D", "E"], planned=7)
    releases = backlog.take("finnhub", 4)
    for release in releases[:3]:
        backlog.settle("finnhub", release, "made", "ok")
    backlog.settle("finnhub", releases[3], "deferred", "deferred")
    backlog.submit(spec("eod", "polygon", "polygon.eod"), [DAY, "2026-11-24"])
    settle(backlog, "polygon", 2)


def lose_a_call(r, backlog: Backlog, run_id: str) -> None:
    """A call taken out of line with no settlement: the ledger no longer adds up."""
    (member,) = r.zpopmin(backlog.line_key("finnhub"), 1)
    assert member[0].decode().startswith(f"{run_id}|")


# -- celery inspect plan -------------------------------------------------------------------------------------


def test_inspect_plan_shows_every_runs_ledger_and_whether_it_adds_up(ctx):
    from worker.control import plan

    the_day(ctx.backlog)
    ctx.redis.hset(f"tickerbeat:plan:{DAY}", "finnhub:tiers=1,2", json.dumps({"planned": 7, "admitted": 5}))
    report = plan(None, day=DAY)
    json.dumps(report, allow_nan=False)
    assert report["entries"]["finnhub:tiers=1,2"]["coverage"] == round(
        5 / 7, 4
    )  # the planner's summaries stay
    runs = {r["run"]: r for r in report["runs"]}
    assert set(runs) == {"sweep", "eod"}
    sweep = runs["sweep"]
    assert {k: sweep[k] for k in ("planned", "admitted", "made", "carried", "stale", "pending", "deferrals")} == {
        "planned": 7, "admitted": 5, "made": 3, "carried": 2, "stale": 0, "pending": 2, "deferrals": 1}  # fmt: skip
    assert sweep["adds_up"] and sweep["problems"] == [] and not sweep["done"]
    assert runs["eod"]["done"] and runs["eod"]["made"] == 2
    assert report["dispatch"]["finnhub"]["pending"] == 2 and report["dispatch"]["polygon"]["made"] == 2
    assert report["adds_up"] is True

    lose_a_call(ctx.redis, ctx.backlog, "sweep")
    report = plan(None, day=DAY)
    sweep = next(r for r in report["runs"] if r["run"] == "sweep")
    assert not sweep["adds_up"] and report["adds_up"] is False
    assert sweep["problems"] == ["pending 2 (admitted - made - carried - stale) != 1 in line + 0 in flight"]
    assert report["dispatch"]["finnhub"]["not_adding_up"] == 1 and report["dispatch"]["polygon"]["adds_up"]
    assert plan(None, day="2026-11-20")["runs"] == []
    # the first start's progress line, once the bootstrap has written one
    assert report["bootstrap"] is None
    ctx.redis.hset(keys.BOOTSTRAP, "status", "universe 6,500 · history 137/500 sessions")
    assert plan(None, day=DAY)["bootstrap"] == "universe 6,500 · history 137/500 sessions"


def test_the_day_and_its_preparation_are_read_from_their_days_and_the_open_runs(ctx):
    backlog = ctx.backlog
    backlog.submit(
        spec("history", "polygon", "polygon.backfill", day="2026-11-24", priority=2), ["2026-11-20"]
    )
    the_day(backlog)
    assert [lg.run_id for lg in day_ledgers(backlog, [DAY])] == ["eod", "sweep"]
    assert [lg.run_id for lg in day_ledgers(backlog, ["2026-11-24", DAY])] == ["history", "eod", "sweep"]
    # the open runs: the sweep once more (read once) and yesterday's backfill
    assert [lg.run_id for lg in day_ledgers(backlog, [DAY], open_runs=True)] == ["eod", "sweep", "history"]


# -- the exporter ----------------------------------------------------------------------------------------------


def scrape(url: str) -> dict[tuple[str, frozenset], float]:
    response = requests.get(url, timeout=30)
    assert response.status_code == 200, response.text[:500]
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}  # fmt: skip


def value(samples, name: str, **labels) -> float:
    return samples[(name, frozenset(labels.items()))]


@pytest.fixture
def exporter_url(redis_url, redis_client):
    settings = Settings.from_env({"REDIS_URL": redis_url})
    server, _thread = serve(TickerbeatCollector(settings, redis_client, clock=NOON.timestamp), 0, "127.0.0.1")
    yield f"http://127.0.0.1:{server.server_port}/metrics"
    server.shutdown()
    server.server_close()


def test_the_exporter_serves_the_days_ledgers_lines_and_undone_work(redis_client, exporter_url):
    backlog = Backlog(redis_client)
    the_day(backlog)
    # a tier-3 sweep whose window ended 5 minutes ago with 3 calls still in line: the feeder never closed it
    backlog.submit(spec("late", deadline=backlog.now() - 300), ["X", "Y", "Z"])
    # yesterday's backfill, still open: shown with the day's runs
    backlog.submit(
        spec("history", "polygon", "polygon.backfill", day="2026-11-24", priority=2),
        ["2026-11-20", "2026-11-19"],
    )
    # a run of another day, done: not shown
    backlog.submit(spec("old", "yahoo", "yahoo.fallback", day="2026-11-20"), ["Q"])
    settle(backlog, "yahoo", 1)
    samples = scrape(exporter_url)
    assert value(samples, "tickerbeat_exporter_source_up", source="redis") == 1
    refresh = {"provider": "finnhub", "kind": "finnhub.refresh"}
    expected = {"planned": 10, "admitted": 8, "made": 3, "deferred_then_made": 0, "carried": 2, "stale": 0,
                "pending": 5}  # fmt: skip
    assert {k: value(samples, f"tickerbeat_dispatch_{k}", **refresh) for k in expected} == expected
    assert (
        value(samples, "tickerbeat_dispatch_undone", **refresh) == 3
    )  # "late" only: "sweep" has no deadline
    assert value(samples, "tickerbeat_dispatch_unbalanced_runs", **refresh) == 0
    eod = {"provider": "polygon", "kind": "polygon.eod"}
    assert (
        value(samples, "tickerbeat_dispatch_made", **eod) == 2
        and value(samples, "tickerbeat_dispatch_pending", **eod) == 0
    )
    assert value(samples, "tickerbeat_dispatch_pending", provider="polygon", kind="polygon.backfill") == 2
    assert value(samples, "tickerbeat_dispatch_in_line", provider="finnhub") == 2 + 3
    assert not [
        k for k in samples if k[0].startswith("tickerbeat_dispatch_") and ("kind", "yahoo.fallback") in k[1]
    ]
    assert value(samples, "tickerbeat_dispatch_in_flight", provider="finnhub") == 0
    assert value(samples, "tickerbeat_dispatch_in_line", provider="yahoo") == 0

    lose_a_call(redis_client, backlog, "sweep")
    samples = scrape(exporter_url)
    assert value(samples, "tickerbeat_dispatch_unbalanced_runs", **refresh) == 1
    assert value(samples, "tickerbeat_dispatch_unbalanced_runs", **eod) == 0


def test_a_quiet_dispatcher_serves_its_lines_and_no_runs(exporter_url):
    samples = scrape(exporter_url)
    assert value(samples, "tickerbeat_dispatch_in_line", provider="polygon") == 0
    assert not [k for k in samples if k[0] == "tickerbeat_dispatch_admitted"]


# -- make status -------------------------------------------------------------------------------------------------


def test_status_prints_the_progress_line_the_next_entry_and_each_providers_pacing(ctx, monkeypatch, capsys):
    from stack import status

    with ctx.db.session() as s, s.begin():
        upsert_symbols(s, [{"ticker": t, "tier": 1} for t in ("AAA", "BBB", "CCC")])
        bar = {"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0, "source": "test"}
        upsert_bars(s, [{"symbol": t, "day": date(2026, 11, 24), **bar} for t in ("AAA", "BBB", "CCC")])
    ctx.redis.hset(
        keys.BOOTSTRAP, mapping={"history_end": "2026-11-24", "history_days": 10, "tiers": "provisional"}
    )
    ctx.backlog.submit(spec("sweep"), ["AAA", "BBB", "CCC"])
    settle(ctx.backlog, "finnhub", 1)
    monkeypatch.setenv("REDIS_URL", ctx.settings.redis_url)
    monkeypatch.setenv("DATABASE_URL", ctx.settings.database_url)
    assert status.main([], clock=lambda: NOON) == 0
    first, *providers = capsys.readouterr().out.splitlines()
    # 2026-11-14 .. 24: 7 sessions, the 24th stored
    assert first.startswith("universe 3 · history 1/7 sessions, about ")
    assert first.endswith(
        " · tiers: provisional · model: waiting for history · next: tier1-quotes-hourly 12:30 ET"
    )
    lines = {line.split()[0]: line for line in providers}
    assert sorted(lines) == ["alphavantage", "finnhub", "polygon", "yahoo"]
    assert (
        lines["finnhub"]
        .split(maxsplit=1)[1]
        .startswith("2 in line · 0 in flight · finnhub.refresh 1/3 made · next slot ")
    )
    assert lines["yahoo"].split(maxsplit=1)[1] == "0 in line · 0 in flight · next slot now"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stack.status"], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_status_says_in_one_line_what_it_cannot_read(tmp_path, redis_url):
    dead = _status({"REDIS_URL": f"redis://:secret@127.0.0.1:{_free_port()}/0",
                    "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})  # fmt: skip
    assert dead.returncode == 2 and dead.stdout == ""
    assert dead.stderr.startswith("tickerbeat status: cannot read Redis at redis://127.0.0.1:")
    assert len(dead.stderr.splitlines()) == 1 and "secret" not in dead.stderr
    bare = _status({"REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"})
    assert bare.returncode == 2 and "Traceback" not in bare.stderr
    assert (
        bare.stderr.startswith("tickerbeat status: cannot read the database")
        and "(make migrate)" in bare.stderr
    )
    wrong = _status({"REDIS_URL": "ftp://nowhere"})
    assert wrong.returncode == 2 and "configuration error: REDIS_URL" in wrong.stderr


def test_make_status_runs_the_command():
    done = subprocess.run(["make", "--no-print-directory", "-n", "status"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "MAKEFLAGS": ""})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert ".venv/bin/python -m stack.status" in done.stdout


# -- the demo: live pacing and the summary -------------------------------------------------------------------------


def test_the_pacing_view_follows_the_runs_a_phase_opens(redis_client, redis_url, capsys):
    from stack.demo import PacingView

    settings = Settings.from_env({"REDIS_URL": redis_url})
    backlog = Backlog(redis_client)
    backlog.submit(spec("before"), ["A"])  # a run from an earlier phase: not this phase's
    settle(backlog, "finnhub", 1)
    view = PacingView(redis_client, settings, [DAY], tty=False, every=0.0)
    view("tier2-quotes-close")  # the phase starts
    backlog.submit(spec("sweep"), ["B", "C", "D", "E"])
    settle(backlog, "finnhub", 1)
    view("tier2-quotes-close")  # while it waits
    view.say("    tier2-quotes-close: 3 tasks queued or running")
    view.say("    done in 1.0 s")  # the phase ends: its final counts first
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["finnhub", "1/4", "made", "·", "3", "in", "line", "·", "0", "in", "flight", "·",
                              "next", "slot", "now"]  # fmt: skip
    assert out[1] == "    tier2-quotes-close: 3 tasks queued or running"
    assert out[2] == out[0] and out[3] == "    done in 1.0 s"

    bars = io.StringIO()
    view = PacingView(redis_client, settings, [DAY], out=bars, tty=True)
    view("tier3-quotes-close")
    backlog.submit(spec("fallback", "yahoo", "yahoo.fallback"), ["F", "G"])
    settle(backlog, "yahoo", 2)
    view.draw()
    view.say("    tier3-quotes-close: 5 tasks queued or running")  # the bar shows it: not printed
    view.close()
    text = bars.getvalue()
    assert "yahoo" in text and "2/2 made" in text and "next slot now" in text and "finnhub" not in text
    assert "tasks queued" not in capsys.readouterr().out


def test_the_summary_sums_the_days_runs_and_fails_on_a_ledger_that_does_not_add_up(ctx, capsys):
    from stack.demo import print_summary
    from stack.report import day_summary

    the_day(ctx.backlog)
    day = date.fromisoformat(DAY)
    summary = day_summary(ctx.settings, ctx.db, day, None, {}, 1.0, ledgers=day_ledgers(ctx.backlog, [DAY]))
    assert summary["dispatch"]["finnhub"]["admitted"] == 5 and summary["dispatch"]["polygon"]["made"] == 2
    assert summary["dispatch_problems"] == ["sweep: 2 admitted calls still pending (2 in line, 0 in flight)"]
    settle(ctx.backlog, "finnhub", 2)
    summary = day_summary(ctx.settings, ctx.db, day, None, {}, 1.0, ledgers=day_ledgers(ctx.backlog, [DAY]))
    assert summary["dispatch_problems"] == [] and summary["dispatch"]["finnhub"]["deferred_then_made"] == 1
    json.dumps(summary, allow_nan=False)
    print_summary(summary, Path("summary.json"))
    out = capsys.readouterr().out
    assert "dispatch: every run adds up, nothing pending" in out
    assert [line.split() for line in out.splitlines() if line.strip().startswith("finnhub ")][-1] == [
        "finnhub", "7", "5", "5", "1", "2", "0", "0", "1", "yes"]  # fmt: skip

    ctx.redis.hincrby(ctx.backlog.run_key("eod"), "made", -1)  # a made call forgotten
    summary = day_summary(ctx.settings, ctx.db, day, None, {}, 1.0, ledgers=day_ledgers(ctx.backlog, [DAY]))
    assert (
        summary["dispatch_problems"][0]
        == "eod: pending 1 (admitted - made - carried - stale) != 0 in line + 0 in flight"
    )
    assert not summary["dispatch"]["polygon"]["adds_up"]
