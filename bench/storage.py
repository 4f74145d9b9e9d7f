"""Storage speed: the daily 6,500-bar upsert, a 6,500 x N-day backfill, and reading the panel back.

    .venv/bin/python bench/storage.py                      # SQLite in a temporary file
    .venv/bin/python bench/storage.py --url postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/storage.py --days 50            # a shorter backfill

PostgreSQL runs in a throw-away schema (``storage.testing.scratch_database``). The baseline, measured in
the same run on the same database, is the raw driver's ``executemany`` of a plain INSERT of the same
6,500 rows into an unindexed scratch table: the ratio says what validation, the natural-key index and
ON CONFLICT cost over the cheapest possible write. Prints seconds; no pass/fail.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage import bars_panel, upsert_bars  # noqa: E402
from storage.testing import migrated_database  # noqa: E402

COLUMNS = (
    "symbol",
    "day",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "vwap",
    "adjusted",
    "source",
    "fetched_at",
)


def day_rows(symbols: list[str], day: date, rng: np.random.Generator) -> list[dict]:
    close = rng.uniform(5, 500, len(symbols))
    now = datetime.now(UTC)
    return [
        {
            "symbol": s,
            "day": day,
            "open": c * 0.99,
            "high": c * 1.01,
            "low": c * 0.98,
            "close": c,
            "volume": 1e6,
            "vwap": c,
            "adjusted": True,
            "source": "polygon",
            "fetched_at": now,
        }
        for s, c in zip(symbols, close.tolist(), strict=True)
    ]


def baseline(db, rows: list[dict]) -> float:
    """Seconds for the raw driver to executemany a plain INSERT of ``rows`` (no index, no conflict)."""
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        marker = "?" if db.dialect == "sqlite" else "%s"
        cursor.execute(
            "CREATE TABLE bench_raw (symbol TEXT, day DATE, open FLOAT, high FLOAT, low FLOAT, close FLOAT, "
            "volume FLOAT, vwap FLOAT, adjusted BOOLEAN, source TEXT, fetched_at TIMESTAMP)"
        )
        raw.commit()
        params = [
            tuple(r[c] if c != "fetched_at" else r[c].replace(tzinfo=None) for c in COLUMNS) for r in rows
        ]
        start = time.perf_counter()
        cursor.executemany(f"INSERT INTO bench_raw VALUES ({', '.join([marker] * len(COLUMNS))})", params)
        raw.commit()
        return time.perf_counter() - start
    finally:
        raw.close()


def timed(label: str, fn, rows: int) -> float:
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    print(f"  {label:<44} {seconds:8.2f} s  {rows / seconds:>10,.0f} rows/s", flush=True)
    return seconds


def run(url: str, n_symbols: int, n_days: int) -> None:
    rng = np.random.default_rng(7)
    symbols = [f"S{i:05d}" for i in range(n_symbols)]
    first = date(2024, 1, 2)
    days = [first + timedelta(days=i) for i in range(n_days)]
    with migrated_database(url) as db:
        print(f"{db.dialect}: {n_symbols:,} symbols x {n_days} days", flush=True)
        today = day_rows(symbols, days[-1] + timedelta(days=1), rng)
        base = baseline(db, today)
        print(
            f"  {'baseline: raw executemany INSERT, 1 day':<44} {base:8.2f} s  {len(today) / base:>10,.0f} rows/s"
        )

        def write(rows):
            with db.session() as s, s.begin():
                upsert_bars(s, rows)

        insert = timed("upsert_bars, 1 day, new rows", lambda: write(today), len(today))
        update = timed("upsert_bars, 1 day again (all conflicts)", lambda: write(today), len(today))

        def backfill():
            for d in days:
                write(day_rows(symbols, d, rng))

        total = n_symbols * n_days
        fill = timed(f"backfill: {n_days} calls of {n_symbols:,} rows", backfill, total)
        read = timed(
            "bars_panel, all symbols x all days",
            lambda: _read(db, symbols, days, n_symbols),
            total,
        )
        print(
            f"  ratios to baseline: insert {insert / base:.1f}x, update {update / base:.1f}x, "
            f"backfill per day {fill / n_days / base:.1f}x, panel read per day {read / n_days / base:.1f}x"
        )


def _read(db, symbols, days, n_symbols):
    with db.session() as s:
        panel = bars_panel(s, days[0], days[-1], symbols=symbols)
    assert panel.shape == (len(days), n_symbols), panel.shape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--symbols", type=int, default=6500)
    parser.add_argument("--days", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(args.url or f"sqlite:///{tmp}/bench.db", args.symbols, args.days)


if __name__ == "__main__":
    main()
