"""API usage counters, pipeline runs and chord batches on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from storage import (
    StorageError,
    add_api_usage,
    record_run_finish,
    record_run_start,
    usage_for,
)
from storage.models import ApiUsage, PipelineRun

DAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 22, 0, tzinfo=UTC)


def count(db, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


ZERO = {"calls": 0, "ok": 0, "throttled": 0, "quota_exhausted": 0, "errors": 0, "deferred": 0}


def test_api_usage_adds_counts(db):
    with db.session() as s, s.begin():
        assert add_api_usage(s, "finnhub", DAY, calls=2, ok=1) == 1
        add_api_usage(s, "finnhub", DAY, calls=3, throttled=1, errors=1)
        add_api_usage(s, "finnhub", DAY - timedelta(days=1), calls=7)
        add_api_usage(s, "polygon", "2026-11-27", deferred=4)
    with db.session() as s, s.begin():
        add_api_usage(s, "finnhub", DAY, calls=1, ok=1)
    with db.session() as s:
        assert usage_for(s, DAY) == {
            "finnhub": ZERO | {"calls": 6, "ok": 2, "throttled": 1, "errors": 1},
            "polygon": ZERO | {"deferred": 4},
        }
        assert usage_for(s, DAY - timedelta(days=1)) == {"finnhub": ZERO | {"calls": 7}}
    assert count(db, ApiUsage) == 3


def test_concurrent_increments_are_never_lost(db):
    workers, each = 4, 25
    failures = []

    def work():
        try:
            for _ in range(each):
                with db.session() as s, s.begin():
                    add_api_usage(s, "alphavantage", DAY, calls=1, ok=1)
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures
    with db.session() as s:
        assert usage_for(s, DAY)["alphavantage"] == ZERO | {"calls": workers * each, "ok": workers * each}


@pytest.mark.parametrize(
    ("counts", "message"),
    [({"callz": 1}, "unknown count"), ({"calls": -1}, "non-negative"), ({"calls": 1.5}, "non-negative")],
)
def test_bad_usage_counts_are_refused(db, counts, message):
    with pytest.raises(StorageError, match=message), db.session() as s, s.begin():
        add_api_usage(s, "finnhub", DAY, **counts)


def test_runs_start_once_and_finish_once(db):
    with db.session() as s, s.begin():
        run_id = record_run_start(s, "evening", DAY, run_id="celery-task-1", now=NOW)
        assert (
            record_run_start(s, "evening", DAY, run_id="celery-task-1", now=NOW + timedelta(minutes=5))
            == run_id
        )
        other = record_run_start(s, "backfill", now=NOW)
    assert run_id == "celery-task-1" and other != run_id
    with db.session() as s, s.begin():
        assert (
            record_run_finish(s, run_id, "partial", {"stale": 12, "ok": 6488}, now=NOW + timedelta(hours=1))
            == 1
        )
        assert record_run_finish(s, run_id, "ok", now=NOW + timedelta(hours=2)) == 0
        assert record_run_finish(s, "unknown", "ok") == 0
    with db.session() as s:
        run = s.get(PipelineRun, run_id)
        assert (run.status, run.summary, run.started_at, run.finished_at) == (
            "partial",
            {"stale": 12, "ok": 6488},
            NOW,
            NOW + timedelta(hours=1),
        )
        assert s.get(PipelineRun, other).status == "running"
    assert count(db, PipelineRun) == 2


def test_finishing_with_an_unknown_status_is_refused(db):
    with pytest.raises(StorageError, match="status 'done'"), db.session() as s, s.begin():
        record_run_finish(s, record_run_start(s, "evening"), "done")
