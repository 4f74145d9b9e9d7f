"""One bad provider field never stalls a batch: through ``jobs.fetching.run_fetch`` and ``jobs.storing``
with the real clients, the real database (SQLite, or PostgreSQL with TEST_DATABASE_URL) and a local server
answering what the sandbox never would (``tests.canned``).

- text no column can hold is cut or cleaned, never a reason to refuse the listing;
- a record the database refuses (here a constraint the test adds) is that record's bad data: logged with
  the reason, counted in ``dropped`` and in the metrics, and the answer's other records are stored;
- a one-symbol answer none of whose records can be stored ends ``bad_data`` and settles as made, so the
  batch goes on.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, time

import pytest
from sqlalchemy import func, select

import marketcal
from dispatch import RunSpec
from jobs import runs
from jobs.fetching import run_fetch
from jobs.storing import store_missing_bars, store_symbols, store_universe_bars
from monitoring import recording
from storage.models import DailyBar, Symbol
from tests.canned import canned_server
from tests.integration.fetching import fetch_ctx, provider_env

pytestmark = pytest.mark.redis

DAY = marketcal.previous_trading_day(datetime.now(UTC).astimezone(marketcal.EASTERN).date())
STAMP_MS = int(marketcal.session_close(DAY).timestamp() * 1000)


@pytest.fixture
def canned():
    with canned_server() as server:
        yield server


@pytest.fixture
def ctx(tmp_path, redis_url, database_url, canned):
    with fetch_ctx(tmp_path, redis_url, database_url, provider_env(canned.url)) as built:
        yield built


def refuse_bars_of(db, symbol: str) -> None:
    """A rule the model does not declare, so only the database can apply it: bars of ``symbol`` are refused
    (a constraint violation, as a real schema's CHECK or trigger would raise)."""
    with db.engine.begin() as c:
        if db.dialect == "sqlite":
            c.exec_driver_sql(f"CREATE TRIGGER refuse_{symbol} BEFORE INSERT ON daily_bars WHEN NEW.symbol = "
                              f"'{symbol}' BEGIN SELECT RAISE(ABORT, 'refused by the test constraint'); END")  # fmt: skip
        else:
            c.exec_driver_sql(
                f"ALTER TABLE daily_bars ADD CONSTRAINT refuse_{symbol} CHECK (symbol <> '{symbol}')"
            )


def _bar(symbol: str, price: float | None) -> dict:
    return {
        "T": symbol,
        "o": price,
        "h": price,
        "l": price,
        "c": price,
        "v": 1000,
        "vw": price,
        "t": STAMP_MS,
    }


def _counts(ctx, key: str) -> dict[tuple[str, str], float]:
    return recording.counts(ctx.redis.hgetall(key), 2)


def test_text_no_column_can_hold_is_cut_or_cleaned_and_the_listing_stored(ctx, canned):
    """A 300-character Finnhub description used to fail the whole symbol upsert (the name column holds
    255); a NUL (PostgreSQL refuses it in text) or a lone surrogate (no driver can encode it) likewise."""
    canned.serve(json.dumps([
        {"symbol": "AAPL", "description": "APPLE INC " + "x" * 290, "mic": "XNAS", "type": "Common Stock",
         "currency": "USD"},
        {"symbol": "BRK.B", "description": "BERKSHIRE\x00 HATHAWAY \ud800B", "mic": "XNYS" * 20, "currency": ""},
        {"symbol": "ABCD.PRA", "description": "an OTC spelling no provider can be asked about"},
    ]))  # fmt: skip

    summary = run_fetch(ctx, "finnhub", lambda c: c.symbols(), lambda r: store_symbols(ctx, r))

    assert (summary["outcome"], summary["stored"], summary["dropped"]) == ("ok", 2, 1)
    with ctx.db.session() as s:
        rows = {r.ticker: r for r in s.scalars(select(Symbol))}
    assert sorted(rows) == ["AAPL", "BRK.B"]
    assert len(rows["AAPL"].name) == 255 and rows["AAPL"].name.startswith("APPLE INC x")
    assert rows["BRK.B"].name == "BERKSHIRE HATHAWAY B"
    assert len(rows["BRK.B"].exchange) == 32
    assert rows["BRK.B"].currency == "USD"  # no currency given: the column's default, not a refusal
    assert _counts(ctx, recording.STORE_RECORDS_KEY) == {("finnhub", "stored"): 2}


def test_a_listing_without_currencies_is_stored(ctx, canned):
    """Alpha Vantage's listing has no currency column; its rows used to be refused whole (the column
    cannot be NULL), so the listing could never be stored."""
    canned.serve("symbol,name,exchange,assetType,ipoDate,delistingDate,status\r\n"
                 "IBM,International Business Machines,NYSE,Stock,1962-01-02,null,Active\r\n"
                 "MSFT,Microsoft,NASDAQ,Stock,1986-03-13,null,Active\r\n")  # fmt: skip

    summary = run_fetch(ctx, "alphavantage", lambda c: c.listing_status(), lambda r: store_symbols(ctx, r))

    assert (summary["outcome"], summary["stored"], summary["dropped"]) == ("ok", 2, 0)
    with ctx.db.session() as s:
        assert dict(s.execute(select(Symbol.ticker, Symbol.currency)).all()) == {"IBM": "USD", "MSFT": "USD"}


def test_a_bar_the_database_refuses_is_that_symbols_bad_data_and_the_others_are_stored(ctx, canned, caplog):
    """A grouped-daily answer holds every symbol's bar: one the database refuses used to fail the whole
    store, the task and the run's release (every symbol of the session then stale)."""
    refuse_bars_of(ctx.db, "BADX")
    canned.serve(json.dumps({"status": "OK", "adjusted": True, "results": [
        _bar("AAA", 10.0), _bar("BADX", 11.0), _bar("CCC", 12.0), _bar("NAN", None)]}))  # fmt: skip

    with caplog.at_level(logging.WARNING):
        summary = run_fetch(
            ctx, "polygon", lambda c: c.grouped_daily(DAY), lambda r: store_universe_bars(ctx, r)
        )

    # NAN failed the client's validation, BADX the database: both dropped, both counted
    assert (summary["outcome"], summary["records"], summary["stored"], summary["dropped"]) == ("ok", 3, 2, 2)
    assert "storage refused 1 of 3 records: BADX" in summary["message"]
    assert "IntegrityError" in summary["message"]  # the reason, as the database gave it
    with ctx.db.session() as s:
        assert sorted(s.scalars(select(DailyBar.symbol))) == ["AAA", "CCC"]
    assert any("database refused BADX" in r.getMessage() for r in caplog.records)
    assert _counts(ctx, recording.STORE_RECORDS_KEY) == {("polygon", "stored"): 2, ("polygon", "refused"): 1}


def test_a_symbol_none_of_whose_bars_can_be_stored_is_bad_data_and_its_run_goes_on(ctx, canned):
    """A fallback run's call for a symbol whose bars the database refuses: the call settles ``made`` with
    outcome ``bad_data`` (never a failed task), and the run's other call is made as usual."""
    refuse_bars_of(ctx.db, "BADX")
    opened = datetime.combine(DAY, time(9, 30), marketcal.EASTERN).timestamp()
    chart = {"chart": {"error": None, "result": [{"timestamp": [int(opened)], "indicators": {"quote": [
        {"open": [10.0], "high": [10.5], "low": [9.5], "close": [10.2], "volume": [1000]}]}}]}}  # fmt: skip
    canned.serve(json.dumps(chart))
    day = DAY.isoformat()
    spec = RunSpec(f"fallback:{day}", "yahoo", "tasks.yahoo.fetch_history", "symbol", day, "yahoo.test",
                   track_ok=True)  # fmt: skip
    assert ctx.backlog.submit(spec, ["BADX", "GOOD"]) == 2
    summaries = {}
    for release in ctx.backlog.take("yahoo", 2):
        symbol = release.key

        def fetch(symbol=symbol):
            return run_fetch(ctx, "yahoo", lambda c: c.daily_history(symbol, DAY, DAY),
                             lambda r: store_missing_bars(ctx, r, symbol, DAY, DAY), symbol=symbol)  # fmt: skip

        summaries[symbol] = runs.call_dispatched(ctx, "yahoo", release.member, fetch)

    assert summaries["BADX"]["outcome"] == "bad_data" and summaries["BADX"]["stored"] == 0
    assert "storage refused 1 of 1 records: BADX" in summaries["BADX"]["message"]
    assert (summaries["GOOD"]["outcome"], summaries["GOOD"]["stored"]) == ("ok", 1)
    ledger = ctx.backlog.ledger(spec.id)
    assert (ledger.made, ledger.stale, ledger.pending, ledger.done, ledger.problems()) == (2, 0, 0, True, [])
    assert ledger.outcomes == {"bad_data": 1, "ok": 1}
    assert ctx.backlog.ok_keys(spec.id) == ["GOOD"]
    with ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(DailyBar)) == 1
