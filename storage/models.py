"""The schema: SQLAlchemy 2 typed models, one table per kind of fact, each keyed by its natural key.

Natural keys make every write an idempotent upsert: a redelivered Celery task writes the same key again
and changes values, never row counts. Units: prices in the listing currency, volumes in shares, ``*_pct``
in percent, instants are aware UTC datetimes (``UTCDateTime``), days are exchange-local dates.

Foreign keys only where a dangling reference is a bug: predictions and recommendations must name a
registered model version. Bars, quotes and indicators deliberately do not reference ``symbols``: the
grouped-daily endpoint answers for ~12,400 tickers and filtering to the universe is the caller's choice.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.types import UTCDateTime

RUN_ID = 128  # longest dispatch run id ("universe:<day>:<token>", "eod-yahoo:<day>", a task id...)
TICKER = 32  # longest ticker we accept (US tickers are <= 10; class shares and warrants add suffixes)
ACTIONS = ("buy", "hold", "sell")
# A symbol stored without a tier (a CSV import, the first start's listing) starts in tier 3 until tiering places
# it. Tier 3 is not the least refreshed: tier 4, the rest of the universe, is (the overnight official bar only
# under the `bulk-first` tier plan, Yahoo weekly under `seed`: beat_schedule.py; sizes in planning/capacity.py),
# and the daily universe refresh puts new listings there itself.
DEFAULT_TIER = 3
USAGE_COUNTS = ("calls", "ok", "throttled", "quota_exhausted", "errors", "deferred")
INDICATORS = (
    "sma_20",
    "sma_50",
    "sma_200",
    "ema_20",
    "ema_50",
    "ema_200",
    "rsi_14",
    "macd",
    "macd_signal",
    "macd_hist",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "atr_14",
    "volume_z",
    "high_52w",
    "low_52w",
)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON(), float: Float()}


class Symbol(Base):
    """The universe. ``tier`` is assigned by tiering; ``pinned_tier`` (operator's choice) overrides it."""

    __tablename__ = "symbols"

    ticker: Mapped[str] = mapped_column(String(TICKER), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    exchange: Mapped[str | None] = mapped_column(String(32))
    type: Mapped[str | None] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(8), default="USD")
    tier: Mapped[int] = mapped_column(Integer, default=DEFAULT_TIER)
    pinned_tier: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    listed_on: Mapped[date | None] = mapped_column(Date)
    delisted_on: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_symbols_active", "active"),)


class DailyBar(Base):
    """One session's OHLCV for one symbol. ``adjusted``: split-adjusted prices as the provider sent them."""

    __tablename__ = "daily_bars"

    symbol: Mapped[str] = mapped_column(String(TICKER), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    open: Mapped[float]
    high: Mapped[float]
    low: Mapped[float]
    close: Mapped[float]
    volume: Mapped[float]  # shares; float because aggregates carry fractional shares
    vwap: Mapped[float | None]
    adjusted: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(32))
    fetched_at: Mapped[datetime]

    __table_args__ = (Index("ix_daily_bars_day", "day"),)


class Quote(Base):
    """A quote as of ``at`` (the provider's timestamp, UTC)."""

    __tablename__ = "quotes"

    symbol: Mapped[str] = mapped_column(String(TICKER), primary_key=True)
    at: Mapped[datetime] = mapped_column(primary_key=True)
    price: Mapped[float]
    change: Mapped[float | None]
    change_pct: Mapped[float | None]  # percent
    open: Mapped[float | None]
    high: Mapped[float | None]
    low: Mapped[float | None]
    prev_close: Mapped[float | None]
    source: Mapped[str] = mapped_column(String(32))
    fetched_at: Mapped[datetime]


class Indicator(Base):
    """Indicator values of one symbol on one day; NULL where history is too short (never a made-up number)."""

    __tablename__ = "indicators"

    symbol: Mapped[str] = mapped_column(String(TICKER), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sma_20: Mapped[float | None]
    sma_50: Mapped[float | None]
    sma_200: Mapped[float | None]
    ema_20: Mapped[float | None]
    ema_50: Mapped[float | None]
    ema_200: Mapped[float | None]
    rsi_14: Mapped[float | None]
    macd: Mapped[float | None]
    macd_signal: Mapped[float | None]
    macd_hist: Mapped[float | None]
    bb_upper: Mapped[float | None]
    bb_middle: Mapped[float | None]
    bb_lower: Mapped[float | None]
    atr_14: Mapped[float | None]
    volume_z: Mapped[float | None]
    high_52w: Mapped[float | None]
    low_52w: Mapped[float | None]

    __table_args__ = (Index("ix_indicators_day", "day"),)


class ModelVersion(Base):
    """A trained model: its out-of-sample ``metrics`` (auc, rank_ic, folds...) and where its artifact lives."""

    __tablename__ = "model_versions"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    trained_at: Mapped[datetime]
    horizon_days: Mapped[int] = mapped_column(Integer)
    features: Mapped[list[Any]]
    metrics: Mapped[dict[str, Any]]
    artifact: Mapped[str | None] = mapped_column(Text)  # path or URI of the pickled estimator


class Prediction(Base):
    """A model's score for one symbol on one day; ``prob_up`` in [0, 1]."""

    __tablename__ = "predictions"

    symbol: Mapped[str] = mapped_column(String(TICKER), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    model_version: Mapped[str] = mapped_column(
        String(64), ForeignKey("model_versions.version"), primary_key=True
    )
    score: Mapped[float]
    prob_up: Mapped[float | None]

    __table_args__ = (Index("ix_predictions_day", "day"),)


class Recommendation(Base):
    """The day's ranked list (rank 1 = best); ``reasons`` is a JSON list of human-readable strings."""

    __tablename__ = "recommendations"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    symbol: Mapped[str] = mapped_column(String(TICKER), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(4))
    score: Mapped[float]
    reasons: Mapped[list[Any]]
    model_version: Mapped[str | None] = mapped_column(String(64), ForeignKey("model_versions.version"))

    __table_args__ = (CheckConstraint("action IN ('buy', 'hold', 'sell')", name="ck_recommendations_action"),)


class ApiUsage(Base):
    """Calls per provider per day, one row per dispatch run (``run_id``; readers sum a day's rows): a run's
    row is set to its ledger's counts, so a callback that runs again counts nothing twice. Counts not tied
    to a run go to the row with ``run_id`` '' and only ever grow (increment-upserts)."""

    __tablename__ = "api_usage"

    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(RUN_ID), primary_key=True, default="")
    calls: Mapped[int] = mapped_column(Integer, default=0)
    ok: Mapped[int] = mapped_column(Integer, default=0)
    throttled: Mapped[int] = mapped_column(Integer, default=0)
    quota_exhausted: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    deferred: Mapped[int] = mapped_column(Integer, default=0)


class DispatchRun(Base):
    """A run of the paced dispatcher as it was admitted (``spec``: its ``dispatch.RunSpec`` as JSON; ``keys``:
    every key admitted), kept until its callback has run so that a run Redis lost can be submitted again.
    ``state``: 'open', 'fired' (complete, callback sent), 'done' (callback ran) or 'abandoned' (too old to
    re-drive: the reason is logged); ``redriven``: times it was submitted again after Redis lost it."""

    __tablename__ = "dispatch_runs"

    id: Mapped[str] = mapped_column(String(RUN_ID), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    spec: Mapped[dict[str, Any]]
    keys: Mapped[list[Any]]
    planned: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="open")
    redriven: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_dispatch_runs_state", "state"),)


class QuotaGrant(Base):
    """The quota journal (``ratelimits.restore``): written before a quota decision, so that a quota state
    Redis lost is rebuilt without granting a day twice. ``earliest``/``latest``: epoch seconds (Redis clock)
    between which ``cost`` units may have been booked; cost 0 is an activity lease until ``latest``."""

    __tablename__ = "quota_grants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(32))
    earliest: Mapped[float]
    latest: Mapped[float]
    cost: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_quota_grants_provider_latest", "provider", "latest"),)


class PipelineRun(Base):
    """One run of a pipeline stage (``kind``: e.g. 'evening', 'backfill'); ``status`` 'running' until finished."""

    __tablename__ = "pipeline_runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    trading_day: Mapped[date | None] = mapped_column(Date)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="running")
    summary: Mapped[dict[str, Any] | None]

    __table_args__ = (Index("ix_pipeline_runs_kind_day", "kind", "trading_day"),)


# The day-level "no recommendations today" record: a data_quality row of this check and scope whose
# detail carries the reason (e.g. too little history to train the model); see storage.writes.
SKIPPED_CHECK, SKIPPED_SCOPE = "recommendations_skipped", "universe"


class DataQuality(Base):
    """One data-quality check's outcome for a day and scope (e.g. check 'freshness', scope 'tier:1')."""

    __tablename__ = "data_quality"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    check: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float | None]
    threshold: Mapped[float | None]
    ok: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[dict[str, Any] | None]


class StaleMark(Base):
    """A symbol served from cache on ``day``: its newest real bar is from ``last_good_day``."""

    __tablename__ = "stale_marks"

    symbol: Mapped[str] = mapped_column(String(TICKER), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    last_good_day: Mapped[date | None] = mapped_column(Date)


SLOT_STATES = ("running", "done", "failed")


class SlotRun(Base):
    """A beat slot's claim: the message (``task_id``) that runs entry ``entry``'s firing ``slot`` (the trading
    day and New York time, ``beat_schedule.Firing.key``). Survives the worker's death and a Redis restart, so
    a redelivered message finishes its own slot and a duplicate never runs it twice (jobs/slots.py).
    ``started_at``: when the current attempt started; ``attempts``: deliveries that ran it."""

    __tablename__ = "slot_runs"

    entry: Mapped[str] = mapped_column(String(64), primary_key=True)
    slot: Mapped[str] = mapped_column(String(32), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(8))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("state IN ('running', 'done', 'failed')", name="ck_slot_runs_state"),
        Index("ix_slot_runs_task_id", "task_id"),
    )


class DeadLetter(Base):
    """A message delivered more than ``TICKERBEAT_MAX_DELIVERIES`` times without finishing (its worker died
    each time), kept instead of run again. ``args``/``kwargs`` as the message carried them (task arguments
    never hold keys); ``replayed_at``/``replayed_as``: when an operator sent it again, and the new task id."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task: Mapped[str] = mapped_column(String(255))
    task_id: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(32))
    args: Mapped[list[Any]]
    kwargs: Mapped[dict[str, Any]]
    deliveries: Mapped[int] = mapped_column(Integer)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    replayed_at: Mapped[datetime | None]
    replayed_as: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("task_id", name="uq_dead_letters_task_id"),)
