"""The model's jobs: training, the day's predictions, the ranked recommendations and the report.

Degrade, never crash: while the history is too short to train a model (``analysis.model.NotEnoughHistory``),
training returns a record with the reason instead of failing, and the day's predictions and recommendations
are skipped with that reason logged on one line and stored (``storage.record_recommendations_skipped``);
the report says so at the top.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path

import numpy as np

from analysis import model as forward_model
from analysis.recommend import Skipped, daily_recommendations, day_scores
from jobs.panels import load_panel
from jobs.reporting import write_report
from jobs.universe import note_model_reason
from storage import (
    active_symbols,
    latest_model_version,
    record_recommendations_skipped,
    replace_quality,
    replace_recommendations,
    upsert_model_version,
    upsert_predictions,
)

log = logging.getLogger("tickerbeat.recommendations")

TRAIN_SESSIONS = 504  # two years
PREDICT_SESSIONS = 300


class NotASession(Exception):
    """The day asked for is not an NYSE session (nothing to score)."""


def train_and_store(ctx, day: date, now: datetime) -> forward_model.TrainedModel:
    """Train on two years up to ``day`` (walk-forward validated), save the artefact, record the version.

    Raises ``NotEnoughHistory`` (its ``reason`` logged on one line) when the history is too short yet."""
    with ctx.db.session() as s:
        panel = load_panel(ctx, s, day, active_symbols(s), sessions=TRAIN_SESSIONS)
    try:
        trained = forward_model.train(panel, as_of=day)
    except forward_model.NotEnoughHistory as exc:
        log.warning("model not trained for %s: %s", day.isoformat(), exc.reason)
        raise
    path = Path(ctx.settings.data_dir) / "models" / f"{trained.version}.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(forward_model.dumps(trained))
    metrics = {**asdict(trained.metrics), "summary": trained.metrics.summary()}
    with ctx.db.session() as s, s.begin():
        upsert_model_version(s, {"version": trained.version, "trained_at": now, "horizon_days": trained.params.horizon,
                                 "features": list(trained.features), "metrics": metrics, "artifact": str(path)})  # fmt: skip
    log.info("model %s trained: %s", trained.version, trained.metrics.summary())
    return trained


def retrain(ctx, day: str, now: datetime) -> dict:
    """A model trained up to ``day``; with too little history, ``trained`` False and the ``reason``."""
    try:
        trained = train_and_store(ctx, date.fromisoformat(day), now)
    except forward_model.NotEnoughHistory as exc:
        note_model_reason(ctx.redis, exc.reason)
        return {"day": day, "trained": False, "version": None, "reason": exc.reason}
    note_model_reason(ctx.redis, None)
    return {"day": day, "trained": True, "version": trained.version, "auc": trained.metrics.auc,
            "rank_ic": trained.metrics.rank_ic}  # fmt: skip


def model_or_reason(ctx, day: date, now: datetime) -> tuple[forward_model.TrainedModel | None, str | None]:
    """The newest stored model, or one trained now when there is none (or its artefact is gone); without
    one, (None, why: the history is too short to train one)."""
    with ctx.db.session() as s:
        row = latest_model_version(s)
    if row is not None and row.artifact and Path(row.artifact).exists():
        return forward_model.loads(Path(row.artifact).read_bytes()), None
    try:
        return train_and_store(ctx, day, now), None
    except forward_model.NotEnoughHistory as exc:
        return None, exc.reason


def day_panel(ctx, session, day: date):
    """The universe's panel ending at ``day`` (``NotASession`` when it is not a session)."""
    panel = load_panel(ctx, session, day, active_symbols(session), sessions=PREDICT_SESSIONS)
    if panel.dates[-1] != day:
        raise NotASession(f"{day.isoformat()} is not a session")
    return panel


def _skip_day(session, day: str, step: str, reason: str) -> None:
    """Record (and log on one line) that ``day``'s ``step`` ran without a model, and why."""
    log.warning("%s skipped for %s: %s", step, day, reason)
    record_recommendations_skipped(session, day, reason)


def predict(ctx, day: str, now: datetime) -> dict:
    """Model scores for every active symbol with complete features on ``day``; none, and the stored
    ``skipped_reason``, while there is no model (too little history)."""
    the_day = date.fromisoformat(day)
    trained, day_skipped = model_or_reason(ctx, the_day, now)
    with ctx.db.session() as s, s.begin():
        if trained is None:
            _skip_day(s, day, "predictions", day_skipped)
            return {"day": day, "scored": 0, "skipped_reason": day_skipped}
        try:
            panel, _, scores = day_scores(day_panel(ctx, s, the_day), the_day, trained)
        except NotASession as exc:
            return {"day": day, "scored": 0, "reason": str(exc)}
        rows = [{"symbol": sym, "day": the_day, "model_version": trained.version, "score": float(sc),
                 "prob_up": float(sc)}
                for sym, sc in zip(panel.symbols, scores, strict=True) if np.isfinite(sc)]  # fmt: skip
        upsert_predictions(s, rows)
    return {"day": day, "model_version": trained.version, "symbols": len(panel.symbols), "scored": len(rows)}


def recommend(ctx, day: str, now: datetime) -> dict:
    """The ranked buy/hold/sell list for ``day`` (stored), the skipped symbols' reasons, and the report.

    Without a model (too little history) the list is empty, every symbol is stored as skipped with its
    own reason, and the day's reason is stored and shown at the top of the report (``skipped_reason`` in
    the result)."""
    the_day = date.fromisoformat(day)
    trained, day_skipped = model_or_reason(ctx, the_day, now)
    with ctx.db.session() as s, s.begin():
        try:
            panel = day_panel(ctx, s, the_day)
        except NotASession as exc:
            return {"day": day, "recommendations": 0, "reason": str(exc)}
        recs, skipped = daily_recommendations(panel, the_day, trained)
        if day_skipped:
            _skip_day(s, day, "recommendations", day_skipped)
            skipped = [Skipped(k.symbol, f"no model score ({day_skipped})") if k.reason == "no model score" else k
                       for k in skipped]  # fmt: skip
        else:
            record_recommendations_skipped(s, the_day, None)
        _store_day(s, the_day, recs, skipped, trained.version if trained else None)
    report = write_report(ctx, the_day, recs, skipped, panel, trained, skipped_reason=day_skipped)
    counts = {a: sum(1 for r in recs if r.action == a) for a in ("buy", "hold", "sell")}
    result = {"day": day, "recommendations": len(recs), "skipped": len(skipped), **counts, "report": report}
    return {**result, "skipped_reason": day_skipped} if day_skipped else result


def _store_day(session, day: date, recs, skipped, model_version: str | None) -> None:
    """The day's list replaces any earlier one; each skipped symbol is a ``not_recommended`` check."""
    rows = [{"symbol": r.symbol, "rank": r.rank, "action": r.action, "score": r.score, "reasons": list(r.reasons)}
            for r in recs]  # fmt: skip
    replace_recommendations(session, day, rows, model_version=model_version)
    replace_quality(session, day, "not_recommended",
                    [{"check": "not_recommended", "scope": k.symbol, "value": None, "threshold": None, "ok": False,
                      "detail": {"reason": k.reason}} for k in skipped])  # fmt: skip
