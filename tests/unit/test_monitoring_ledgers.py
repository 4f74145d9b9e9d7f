"""The ledger views operators read (``monitoring.ledgers``), the demo's dispatch table and validate's verdict:
sums per provider and kind, the problems that fail a day, and which day's runs the metrics show."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from dispatch import Ledger
from monitoring.ledgers import COUNTS, by_provider, day_problems, dispatch_day, record, totals
from stack.report import dispatch_table
from stack.validate_checks import dispatch_verdict


def ledger(run_id="r1", provider="finnhub", kind="finnhub.refresh", *, planned=10, admitted=8, carried_plan=2,
           made=6, deferred=0, deferred_made=0, carried=1, stale=1, backlog=0, in_flight=0, done=True,
           closed=True, deadline=None) -> Ledger:  # fmt: skip
    return Ledger(run_id, provider, kind, "2026-11-25", planned, admitted, carried_plan, made, deferred,
                  deferred_made, 0, carried, stale, backlog, in_flight, done, closed, deadline, {})  # fmt: skip


BALANCED = ledger()  # 10 planned = 8 admitted + 2 carried at planning; 8 = 6 made + 1 carried + 1 stale
LIVE = ledger("r2", admitted=8, made=3, carried=0, stale=0, backlog=4, in_flight=1, done=False, closed=False,
              deferred=2, deferred_made=1)  # fmt: skip
LOST = ledger(
    "r3", admitted=8, made=3, carried=0, stale=0, backlog=2, in_flight=1, done=False
)  # 2 unaccounted
OVER = ledger("r4", provider="polygon", kind="polygon.eod", planned=2, admitted=2, carried_plan=0, made=3,
              carried=0, stale=0)  # fmt: skip


def test_a_balanced_record_sums_to_planned():
    r = record(BALANCED)
    assert r["adds_up"] and r["problems"] == []
    assert r["planned"] == r["made"] + r["carried"] + r["stale"] + r["pending"]  # carried counts both kinds
    assert r["carried"] == 3 and r["pending"] == 0


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        (BALANCED, []),
        (LIVE, ["r2: 5 admitted calls still pending (4 in line, 1 in flight)"]),
        (LOST, ["r3: pending 5 (admitted - made - carried - stale) != 2 in line + 1 in flight",
                "r3: 5 admitted calls still pending (2 in line, 1 in flight)"]),
        (OVER, ["r4: pending -1 (admitted - made - carried - stale) != 0 in line + 0 in flight",
                "r4: more calls settled than admitted (1 too many)", "r4: marked done with -1 pending"]),
    ],
    ids=["balanced", "live", "lost", "over"],
)  # fmt: skip
def test_day_problems_once_the_day_is_over(run, expected):
    assert day_problems([run]) == expected


def test_a_live_run_that_adds_up_is_no_problem_while_the_day_goes_on():
    live = ledger("r2", admitted=8, made=3, carried=0, stale=0, backlog=4, in_flight=1, done=False)
    assert day_problems([live], finished=False) == []
    assert day_problems([live], finished=True) == [
        "r2: 5 admitted calls still pending (4 in line, 1 in flight)"
    ]


def test_totals_per_provider_and_kind():
    runs = [record(x) for x in (BALANCED, LIVE, LOST, OVER)]
    by_kind = totals(runs, ("provider", "kind"))
    assert list(by_kind) == [("finnhub", "finnhub.refresh"), ("polygon", "polygon.eod")]
    finnhub = by_kind[("finnhub", "finnhub.refresh")]
    assert finnhub["runs"] == 3 and finnhub["not_adding_up"] == 1 and not finnhub["adds_up"]
    assert finnhub["admitted"] == 24 and finnhub["made"] == 12 and finnhub["deferred_then_made"] == 1
    assert finnhub["pending"] == 0 + 5 + 5
    assert set(COUNTS) <= set(finnhub)
    per_provider = by_provider(runs)
    assert per_provider["polygon"]["made"] == 3 and per_provider["polygon"]["not_adding_up"] == 1
    assert by_provider([]) == {}


def test_the_dispatch_table_shows_each_provider_and_the_total():
    lines = dispatch_table(by_provider([record(BALANCED), record(OVER)]))
    assert lines[0].split() == ["provider", "planned", "admitted", "made", "deferred>made", "carried", "stale",
                                "pending", "runs", "adds", "up"]  # fmt: skip
    assert lines[1].split() == ["finnhub", "10", "8", "6", "0", "3", "1", "0", "1", "yes"]
    assert lines[2].split()[-3:] == ["NO", "(1", "runs)"]
    assert lines[3].split() == ["total", "12", "10", "9", "0", "3", "1", "-1", "2", "NO"]
    assert dispatch_table({})[-1] == "(no runs)"


def test_validate_fails_a_day_whose_dispatch_does_not_add_up():
    figures, problems = dispatch_verdict([BALANCED])
    assert problems == []
    assert figures["dispatch finnhub"] == (
        "10 planned, 8 admitted, 6 made (0 after a deferral), 3 carried, 1 stale, 0 pending, 1 runs"
    )
    figures, problems = dispatch_verdict([BALANCED, LOST])
    assert figures["dispatch finnhub"].endswith("NOT adding up")
    assert problems[0].startswith("dispatch: r3: pending 5") and len(problems) == 2
    assert dispatch_verdict([])[1] == ["the paced dispatcher recorded no run for the day"]
    many = [
        ledger(f"r{i}", planned=4, admitted=2, made=0, carried=0, stale=0, backlog=2, done=False)
        for i in range(12)
    ]
    assert dispatch_verdict(many, most=3)[1][-1] == "dispatch: and 9 more"


def ny(*args) -> datetime:
    import marketcal

    return datetime(*args, tzinfo=marketcal.EASTERN)


@pytest.mark.parametrize(
    ("now", "day"),
    [
        (ny(2026, 11, 25, 12, 0), date(2026, 11, 25)),  # a Wednesday session
        (ny(2026, 11, 25, 9, 29), date(2026, 11, 24)),  # before the open: Tuesday's runs, its night's too
        (ny(2026, 11, 25, 9, 30), date(2026, 11, 25)),
        (ny(2026, 11, 25, 23, 0), date(2026, 11, 25)),
        (ny(2026, 11, 26, 12, 0), date(2026, 11, 25)),  # Thanksgiving: Wednesday
        (ny(2026, 11, 28, 12, 0), date(2026, 11, 27)),  # Saturday: Friday's half day
        (ny(2026, 11, 30, 3, 0), date(2026, 11, 27)),  # Monday night: still Friday
        (datetime(2026, 7, 15, 13, 30, tzinfo=UTC), date(2026, 7, 15)),  # 09:30 EDT, given in UTC
        (datetime(2026, 7, 15, 13, 29, tzinfo=UTC), date(2026, 7, 14)),
    ],
)
def test_dispatch_day(now, day):
    assert dispatch_day(now) == day


def test_the_dispatch_alerts_watch_undone_work_and_ledgers_that_do_not_add_up():
    from pathlib import Path

    import yaml

    rules_file = Path(__file__).resolve().parents[2] / "monitoring" / "prometheus" / "alerts.yml"
    rules = {r["alert"]: r for g in yaml.safe_load(rules_file.read_text())["groups"] for r in g["rules"]}
    undone, mismatch = rules["DispatchWorkUndone"], rules["DispatchLedgerMismatch"]
    assert undone["expr"].strip() == "tickerbeat_dispatch_undone > 0" and undone["for"] == "10m"
    assert mismatch["expr"].strip() == "tickerbeat_dispatch_unbalanced_runs > 0"
    assert mismatch["labels"]["severity"] == "critical"
