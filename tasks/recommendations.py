"""Queue ``compute``: model training, the day's predictions, the ranked recommendations and the report
(``jobs.recommendations`` does the work)."""

from __future__ import annotations

from datetime import UTC, datetime

from celery import chain

from jobs import names
from jobs import recommendations as jobs
from runtime import resources
from tasks.analysis import analyse_day
from tasks.base import tickerbeat_task


@tickerbeat_task(name=names.RETRAIN_MODEL, expires=6 * 3600)
def retrain_model(day: str) -> dict:
    """A model trained up to ``day``; with too little history, ``trained`` False and the ``reason``."""
    return jobs.retrain(resources.current(), day, datetime.now(UTC))


@tickerbeat_task(name="tasks.recommendations.predict_day", expires=3600)
def predict_day(day: str) -> dict:
    """Model scores for every active symbol on ``day``; none, with the reason, while there is no model."""
    return jobs.predict(resources.current(), day, datetime.now(UTC))


@tickerbeat_task(name="tasks.recommendations.recommend_day", expires=3600)
def recommend_day(day: str) -> dict:
    """The ranked buy/hold/sell list for ``day`` (stored), the skipped symbols' reasons, and the report."""
    return jobs.recommend(resources.current(), day, datetime.now(UTC))


@tickerbeat_task(name="tasks.recommendations.refresh_day", expires=3 * 3600)
def refresh_day(day: str) -> dict:
    """Analysis, predictions and recommendations again, in order, once the official bars are in."""
    steps = (analyse_day, predict_day, recommend_day)
    chain(*(step.si(day=day) for step in steps)).apply_async()
    return {"day": day, "steps": [step.name for step in steps]}
