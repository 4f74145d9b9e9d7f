"""Beat's capacity plan at start: a fresh database (no schema yet) is planned for the default universe and
says so; a database that cannot be read is an error naming it (password hidden), and the plan is not
checked, rather than silently planned for 6,500 symbols."""

from __future__ import annotations

import logging

from runtime.settings import Settings
from storage import upsert_symbols
from storage.testing import migrated_database
from worker.signals import DEFAULT_UNIVERSE, _universe_size, report_capacity_plan


def _settings(url: str) -> Settings:
    return Settings.from_env({"DATABASE_URL": url, "REDIS_URL": "redis://127.0.0.1:1/0"})


def test_a_fresh_database_is_planned_for_the_default_universe_and_says_so(tmp_path, caplog):
    caplog.set_level(logging.INFO, "tickerbeat.worker")
    settings = _settings(f"sqlite:///{tmp_path / 'fresh.db'}")

    assert _universe_size(settings) == DEFAULT_UNIVERSE
    assert "is a fresh database (no schema yet): checked for the default universe of 6500" in caplog.text
    assert report_capacity_plan(settings) is not None  # checked
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_stored_universe_is_planned_for_its_size(tmp_path):
    url = f"sqlite:///{tmp_path / 'stored.db'}"
    with migrated_database(url) as db, db.session() as s, s.begin():
        upsert_symbols(s, [{"ticker": f"T{i}", "name": "t", "source": "test"} for i in range(42)])
    assert _universe_size(_settings(url)) == 42


def test_a_database_that_cannot_be_read_is_an_error_and_the_plan_is_not_checked(caplog):
    caplog.set_level(logging.INFO, "tickerbeat.worker")
    settings = _settings("postgresql+psycopg://tickerbeat:s3cret@127.0.0.1:1/tickerbeat")  # nothing listens

    assert _universe_size(settings) is None
    assert report_capacity_plan(settings) is None
    (error, *_) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "capacity plan NOT checked: the universe could not be read from" in error.getMessage()
    assert "tickerbeat:***@127.0.0.1:1/tickerbeat" in error.getMessage()
    assert "s3cret" not in caplog.text
    assert "6500" not in caplog.text  # no silent default
