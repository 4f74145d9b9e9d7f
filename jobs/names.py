"""The names of the tasks that jobs send or name in a run (a run's fetch task and callback are stored in
Redis by name). Declared once: the task decorators in ``tasks/`` take their names from here, and
``tests/unit/test_task_registry.py`` checks that each names a registered task."""

# control
FEED = "tasks.dispatch.feed"
PLAN_BACKFILL = "tasks.planner.plan_backfill"
AFTER_EOD = "tasks.planner.after_eod"
AFTER_BACKFILL = "tasks.planner.after_backfill"
LOAD_UNIVERSE = "tasks.tiers.load_universe"
AFTER_UNIVERSE = "tasks.tiers.after_universe"
REASSIGN_TIERS = "tasks.tiers.reassign_tiers"
BOOTSTRAP = "tasks.tiers.bootstrap"
# compute
ANALYSE_RUN = "tasks.analysis.analyse_run"
RETRAIN_MODEL = "tasks.recommendations.retrain_model"
# provider queues
FINNHUB_QUOTE = "tasks.finnhub.fetch_quote"
FINNHUB_SYMBOLS = "tasks.finnhub.fetch_symbols"
POLYGON_GROUPED_DAILY = "tasks.polygon.fetch_grouped_daily"
POLYGON_PREVIOUS_CLOSE = "tasks.polygon.fetch_previous_close"
POLYGON_TICKERS = "tasks.polygon.fetch_tickers"
ALPHAVANTAGE_DAILY = "tasks.alphavantage.fetch_daily"
ALPHAVANTAGE_LISTING = "tasks.alphavantage.fetch_listing"
YAHOO_HISTORY = "tasks.yahoo.fetch_history"


def declared() -> dict[str, str]:
    """Every name above, by constant."""
    return {k: v for k, v in globals().items() if k.isupper() and isinstance(v, str)}
