"""Resources for running fetch jobs in the test process against chosen provider URLs (the sandbox or a
``tests.canned`` server), on the test Redis and a migrated private database (``tests/conftest.py``'s
``database_url``: SQLite, or PostgreSQL when TEST_DATABASE_URL is set). As in the ``ctx`` fixture, a Celery
app on the same Redis is current, so what a job sends lands there as a message; no worker runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from runtime.queues import PROVIDERS


def provider_env(base_url: str, key: str = "test-key") -> dict[str, str]:
    """Every provider pointed at ``base_url`` (one canned server answers for all)."""
    out = {}
    for provider in PROVIDERS:
        out[f"{provider.upper()}_BASE_URL"] = base_url
        if provider != "yahoo":
            out[f"{provider.upper()}_API_KEY"] = key
    return out


@contextmanager
def fetch_ctx(tmp_path: Path, redis_url: str, database_url: str, env: dict[str, str]) -> Iterator[object]:
    from runtime.resources import Resources
    from runtime.settings import Settings
    from storage.migrate import upgrade
    from storage.testing import scratch_database
    from worker.app import make_app

    with scratch_database(database_url) as url:
        upgrade(url)
        settings = Settings.from_env({"REDIS_URL": redis_url, "DATABASE_URL": url,
                                      "TICKERBEAT_DATA_DIR": str(tmp_path / "data"),
                                      "TICKERBEAT_REPORTS_DIR": str(tmp_path / "reports"), **env})  # fmt: skip
        app = make_app(settings)
        app.set_current()
        built = Resources(settings)
        try:
            yield built
        finally:
            built.close()
            app.close()
