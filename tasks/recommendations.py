"""Queue ``compute``: model training, the day's predictions, the ranked recommendations and the report.

Degrade, never crash: while the history is too short to train a model (``analysis.model.NotEnoughHistory``),
training returns a record with the reason instead of failing, and the day's predictions and recommendations
are skipped with that reason logged on one line and stored (``storage.record_recommendations_skipped``);
the report says so at the top.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
from celery import chain

from analysis import model as forward_model
from analysis.recommend import Skipped, daily_recommendations, day_scores
from runtime import keys, resources
from storage import (
    active_symbols,
    latest_model_version,
    record_recommendations_skipped,
    replace_quality,
    replace_recommendations,
    upsert_model_version,
    upsert_predictions,
)
from tasks.analysis import analyse_day
from tasks.base import tickerbeat_task
from tasks.panels import load_panel
from tasks.reporting import write_report

log = logging.getLogger("tickerbeat.recommendations")

TRAIN_SESSIONS = 504  # two years
PREDICT_SESSIONS = 300


def _models_dir() -> Path:
    return Path(resources.current().settings.data_dir) / "models"


def train_and_store(day: date) -> forward_model.TrainedModel:
    """Train on two years up to ``day`` (walk-forward validated), save the artefact, record the version.

    Raises ``NotEnoughHistory`` (its ``reason`` logged on one line) when the history is too short yet."""
    with resources.current().db.session() as s:
        symbols = active_symbols(s)
        panel = load_panel(s, day, symbols, sessions=TRAIN_SESSIONS)
    try:
        trained = forward_model.train(panel, as_of=day)
    except forward_model.NotEnoughHistory as exc:
        log.warning("model not trained for %s: %s", day.isoformat(), exc.reason)
        raise
    path = _models_dir() / f"{trained.version}.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(forward_model.dumps(trained))
    metrics = asdict(trained.metrics)
    metrics["summary"] = trained.metrics.summary()
    with resources.current().db.session() as s, s.begin():
        upsert_model_version(
            s,
            {
                "version": trained.version,
                "trained_at": datetime.now(UTC),
                "horizon_days": trained.params.horizon,
                "features": list(trained.features),
                "metrics": metrics,
                "artifact": str(path),
            },
        )
    log.info("model %s trained: %s", trained.version, trained.metrics.summary())
    return trained


def current_model(day: date) -> forward_model.TrainedModel:
    """The newest stored model, or one trained now when there is none (or its artefact is gone);
    ``NotEnoughHistory`` when there is none and the history is too short to train one."""
    with resources.current().db.session() as s:
        row = latest_model_version(s)
    if row is not None and row.artifact and Path(row.artifact).exists():
        return forward_model.loads(Path(row.artifact).read_bytes())
    return train_and_store(day)


@tickerbeat_task(name="tasks.recommendations.retrain_model", expires=6 * 3600)
def retrain_model(day: str) -> dict:
    """A model trained up to ``day``; with too little history, ``trained`` False and the ``reason``."""
    try:
        trained = train_and_store(date.fromisoformat(day))
    except forward_model.NotEnoughHistory as exc:
        _note_for_bootstrap(exc.reason)
        return {"day": day, "trained": False, "version": None, "reason": exc.reason}
    _note_for_bootstrap(None)
    return {
        "day": day,
        "trained": True,
        "version": trained.version,
        "auc": trained.metrics.auc,
        "rank_ic": trained.metrics.rank_ic,
    }


def _note_for_bootstrap(reason: str | None) -> None:
    """Why the model is not trained yet, for the first start's progress line (``tasks.tiers.bootstrap``)."""
    if reason:
        resources.current().redis.hset(keys.BOOTSTRAP, "model_reason", reason)
    else:
        resources.current().redis.hdel(keys.BOOTSTRAP, "model_reason")


def _skip_day(session, day: str, step: str, reason: str) -> None:
    """Record (and log on one line) that ``day``'s ``step`` ran without a model, and why."""
    log.warning("%s skipped for %s: %s", step, day, reason)
    record_recommendations_skipped(session, day, reason)


class NotASession(Exception):
    """The day asked for is not an NYSE session (nothing to score)."""


def _day_panel(session, the_day: date):
    """The universe's panel ending at ``the_day`` (``NotASession`` when it is not a session)."""
    panel = load_panel(session, the_day, active_symbols(session), sessions=PREDICT_SESSIONS)
    if panel.dates[-1] != the_day:
        raise NotASession(f"{the_day.isoformat()} is not a session")
    return panel


def _model_or_reason(the_day: date) -> tuple[forward_model.TrainedModel | None, str | None]:
    try:
        return current_model(the_day), None
    except forward_model.NotEnoughHistory as exc:
        return None, exc.reason


@tickerbeat_task(name="tasks.recommendations.predict_day", expires=3600)
def predict_day(day: str) -> dict:
    """Model scores for every active symbol with complete features on ``day``; none, and the stored
    ``skipped_reason``, while there is no model (too little history)."""
    the_day = date.fromisoformat(day)
    trained, day_skipped = _model_or_reason(the_day)
    with resources.current().db.session() as s, s.begin():
        if trained is None:
            _skip_day(s, day, "predictions", day_skipped)
            return {"day": day, "scored": 0, "skipped_reason": day_skipped}
        try:
            panel, _, scores = day_scores(_day_panel(s, the_day), the_day, trained)
        except NotASession as exc:
            return {"day": day, "scored": 0, "reason": str(exc)}
        rows = [{"symbol": sym, "day": the_day, "model_version": trained.version, "score": float(sc),
                 "prob_up": float(sc)}
                for sym, sc in zip(panel.symbols, scores, strict=True) if np.isfinite(sc)]  # fmt: skip
        upsert_predictions(s, rows)
    return {"day": day, "model_version": trained.version, "symbols": len(panel.symbols), "scored": len(rows)}


@tickerbeat_task(name="tasks.recommendations.recommend_day", expires=3600)
def recommend_day(day: str) -> dict:
    """The ranked buy/hold/sell list for ``day`` (stored), the skipped symbols' reasons, and the report.

    Without a model (too little history) the list is empty, every symbol is stored as skipped with its
    own reason, and the day's reason is stored and shown at the top of the report (``skipped_reason`` in
    the result)."""
    the_day = date.fromisoformat(day)
    trained, day_skipped = _model_or_reason(the_day)
    with resources.current().db.session() as s, s.begin():
        try:
            panel = _day_panel(s, the_day)
        except NotASession as exc:
            return {"day": day, "recommendations": 0, "reason": str(exc)}
        recs, skipped = daily_recommendations(panel, the_day, trained)
        if day_skipped:
            _skip_day(s, day, "recommendations", day_skipped)
            skipped = [Skipped(k.symbol, f"no model score ({day_skipped})") if k.reason == "no model score" else k
                       for k in skipped]  # fmt: skip
        else:
            record_recommendations_skipped(s, the_day, None)
        replace_recommendations(
            s, the_day,
            [{"symbol": r.symbol, "rank": r.rank, "action": r.action, "score": r.score, "reasons": list(r.reasons)}
             for r in recs],
            model_version=trained.version if trained else None,
        )  # fmt: skip
        replace_quality(
            s, the_day, "not_recommended",
            [{"check": "not_recommended", "scope": k.symbol, "value": None, "threshold": None, "ok": False,
              "detail": {"reason": k.reason}} for k in skipped],
        )  # fmt: skip
    report = write_report(the_day, recs, skipped, panel, trained, skipped_reason=day_skipped)
    counts = {a: sum(1 for r in recs if r.action == a) for a in ("buy", "hold", "sell")}
    result = {"day": day, "recommendations": len(recs), "skipped": len(skipped), **counts, "report": report}
    return {**result, "skipped_reason": day_skipped} if day_skipped else result


@tickerbeat_task(name="tasks.recommendations.refresh_day", expires=3 * 3600)
def refresh_day(day: str) -> dict:
    """Analysis, predictions and recommendations again, in order, once the official bars are in."""
    steps = (analyse_day, predict_day, recommend_day)
    chain(*(step.si(day=day) for step in steps)).apply_async()
    return {"day": day, "steps": [step.name for step in steps]}
