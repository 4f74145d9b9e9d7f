"""``python -m stack.universe``: the universe by hand — import a CSV, pin symbols to tiers, show tiers.

    python -m stack.universe import symbols.csv      # columns: symbol (required), name, exchange, type, tier
    python -m stack.universe pin AAPL 1               # AAPL stays in tier 1 whatever its dollar volume
    python -m stack.universe unpin AAPL
    python -m stack.universe show

A CSV is checked whole before anything is written: one bad row (an unknown column, a malformed ticker,
a tier outside 1-4, a duplicate) rejects the file with the line number, and nothing is imported.
The database is ``DATABASE_URL``; its schema is migrated first.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from providers.symbols import parse_symbol
from runtime.settings import Settings, SettingsError
from storage import Database, upsert_symbols
from storage.migrate import upgrade
from storage.models import Symbol

COLUMNS = ("symbol", "name", "exchange", "type", "tier")
TIERS = (1, 2, 3, 4)


class UniverseError(ValueError):
    """A user's file or argument is wrong; the message says where and how."""


def read_csv(path: Path) -> list[dict]:
    """Rows of a universe CSV, checked whole (see the module docstring)."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise UniverseError(f"{path}: cannot read: {exc.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        header = [h.strip().lower() for h in reader.fieldnames or []]
        if "symbol" not in header:
            raise UniverseError(f"{path}: the first line must name the columns, including 'symbol'")
        unknown = sorted(set(header) - set(COLUMNS))
        if unknown:
            raise UniverseError(f"{path}: unknown column(s) {', '.join(unknown)}; use {', '.join(COLUMNS)}")
        rows, seen = [], {}
        for line, raw in enumerate(reader, start=2):
            row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
            symbol = parse_symbol(row["symbol"])
            if symbol is None:
                raise UniverseError(f"{path}:{line}: {row['symbol']!r} is not a US ticker (e.g. AAPL, BRK.B)")
            if symbol in seen:
                raise UniverseError(f"{path}:{line}: {symbol} already on line {seen[symbol]}")
            seen[symbol] = line
            record = {"ticker": symbol, "active": True, "source": "csv"}
            for column in ("name", "exchange", "type"):
                if row.get(column):
                    record[column] = row[column]
            if row.get("tier"):
                if not row["tier"].isdigit() or int(row["tier"]) not in TIERS:
                    raise UniverseError(f"{path}:{line}: tier {row['tier']!r} is not one of 1, 2, 3, 4")
                record["pinned_tier"] = int(row["tier"])
            rows.append(record)
    if not rows:
        raise UniverseError(f"{path}: no symbols in the file")
    return rows


def pin(db: Database, symbol: str, tier: int | None) -> None:
    ticker = parse_symbol(symbol)
    if ticker is None:
        raise UniverseError(f"{symbol!r} is not a US ticker (e.g. AAPL, BRK.B)")
    if tier is not None and tier not in TIERS:
        raise UniverseError(f"tier {tier} is not one of 1, 2, 3, 4")
    with db.session() as s, s.begin():
        if s.get(Symbol, ticker) is None:
            raise UniverseError(f"{ticker} is not in the universe; import it first")
        upsert_symbols(s, [{"ticker": ticker, "pinned_tier": tier}])


def tier_counts(db: Database) -> Counter:
    with db.session() as s:
        rows = s.execute(select(Symbol.tier, Symbol.pinned_tier).where(Symbol.active.is_(True))).all()
    return Counter(pinned or tier for tier, pinned in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.universe", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("import", help="import a CSV of symbols").add_argument("file", type=Path)
    p = sub.add_parser("pin", help="keep a symbol in a tier")
    p.add_argument("symbol")
    p.add_argument("tier", type=int)
    sub.add_parser("unpin", help="let tiering place the symbol again").add_argument("symbol")
    sub.add_parser("show", help="symbols per tier")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        upgrade(settings.database_url)
        db = Database(settings.database_url)
        if args.command == "import":
            rows = read_csv(args.file)
            with db.session() as s, s.begin():
                upsert_symbols(s, rows)
            print(f"imported {len(rows)} symbols ({sum('pinned_tier' in r for r in rows)} pinned to a tier)")
        elif args.command in ("pin", "unpin"):
            pin(db, args.symbol, args.tier if args.command == "pin" else None)
            print(
                f"{args.symbol}: {'pinned to tier ' + str(args.tier) if args.command == 'pin' else 'unpinned'}"
            )
        else:
            counts = tier_counts(db)
            for tier in TIERS:
                print(f"tier {tier}: {counts.get(tier, 0)} symbols")
        db.dispose()
    except (UniverseError, SettingsError) as exc:
        print(f"tickerbeat: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
