"""tickerbeat's storage: SQLAlchemy 2 models, idempotent upserts keyed by natural keys, readers, migrations.

Sessions belong to the caller; nothing here creates one::

    from storage import Database, upsert_bars
    db = Database(url)
    with db.session() as s, s.begin():
        upsert_bars(s, bars)

``storage`` imports nothing from tasks, worker, providers, sandbox or analysis: it takes URLs and plain
records (mappings or objects with attributes named like the columns).
"""

from storage.bookkeeping import (
    add_api_usage,
    record_run_finish,
    record_run_start,
)
from storage.dead_letters import bury, count_dead_letters, dead_letter, list_dead_letters, mark_replayed
from storage.engine import DEFAULT_URL, Database, redact
from storage.errors import StorageError
from storage.panel import PANEL_FIELDS, BarMatrix, to_panel
from storage.reads import (
    active_symbols,
    bars_between,
    bars_panel,
    days_with_bars,
    last_bar_days,
    latest_bar_day,
    latest_model_version,
    latest_quotes,
    listing_split,
    pinned_tiers,
    quality_for,
    recommendations_for,
    recommendations_skipped,
    stale_for,
    symbols_missing_bar,
    symbols_without_bars,
    tiers,
    usage_for,
)
from storage.slots import (
    fail_slots_of_task,
    finish_slot,
    slot_claim,
    slot_claim_of_task,
    take_slot,
)
from storage.writes import (
    clear_stale,
    deactivate,
    mark_stale,
    record_recommendations_skipped,
    replace_quality,
    replace_recommendations,
    upsert_bars,
    upsert_indicators,
    upsert_model_version,
    upsert_predictions,
    upsert_quality,
    upsert_quotes,
    upsert_symbols,
)

__all__ = [
    "DEFAULT_URL",
    "PANEL_FIELDS",
    "Database",
    "BarMatrix",
    "StorageError",
    "active_symbols",
    "add_api_usage",
    "bury",
    "count_dead_letters",
    "dead_letter",
    "fail_slots_of_task",
    "finish_slot",
    "list_dead_letters",
    "mark_replayed",
    "slot_claim",
    "slot_claim_of_task",
    "take_slot",
    "bars_between",
    "bars_panel",
    "clear_stale",
    "deactivate",
    "listing_split",
    "pinned_tiers",
    "symbols_without_bars",
    "days_with_bars",
    "last_bar_days",
    "latest_bar_day",
    "latest_model_version",
    "latest_quotes",
    "mark_stale",
    "quality_for",
    "recommendations_for",
    "recommendations_skipped",
    "record_recommendations_skipped",
    "record_run_finish",
    "record_run_start",
    "redact",
    "replace_quality",
    "replace_recommendations",
    "stale_for",
    "symbols_missing_bar",
    "tiers",
    "to_panel",
    "upsert_bars",
    "upsert_indicators",
    "upsert_model_version",
    "upsert_predictions",
    "upsert_quality",
    "upsert_quotes",
    "upsert_symbols",
    "usage_for",
]
