"""``python -m stack.universe``: the universe by hand — import a CSV, pin symbols to tiers, show tiers.

    python -m stack.universe import symbols.csv      # columns: symbol (required), name, exchange, type, tier
    python -m stack.universe pin AAPL 1               # AAPL stays in tier 1 whatever its dollar volume
    python -m stack.universe unpin AAPL
    python -m stack.universe show

A CSV is checked whole before anything is written: one bad row (an unknown column, more fields than the
header names, a malformed ticker, a tier outside 1-4, a duplicate) rejects the file with the line number,
and nothing is imported; a missing file creates nothing. The file may be UTF-8 (with or without a BOM),
UTF-16 with its BOM, or else is read as Windows-1252 (Latin-1, as Excel writes on Western systems).
The database is ``DATABASE_URL``; its schema is migrated first. ``show``, ``pin`` and ``unpin`` refuse an
SQLite file that does not exist (a misspelt path) instead of creating an empty database.
"""

from __future__ import annotations

import codecs
import csv
import io
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from providers.symbols import parse_symbol
from runtime.cli import Parser, run_main
from runtime.settings import Settings
from storage import Database, upsert_symbols
from storage.engine import parse_url, sqlite_path
from storage.migrate import upgrade
from storage.models import Symbol

COLUMNS = ("symbol", "name", "exchange", "type", "tier")
ENCODINGS = "UTF-8 (a BOM allowed), UTF-16 with a BOM, or Windows-1252/Latin-1"
TIERS = (1, 2, 3, 4)


class UniverseError(ValueError):
    """A user's file or argument is wrong; the message says where and how."""


def read_text(path: Path) -> tuple[str, str]:
    """The file's text and the encoding it was read in: UTF-8 (a BOM allowed), UTF-16 when it starts with
    its BOM, else Windows-1252 (a superset of Latin-1's printable characters), else Latin-1."""
    if not path.exists():
        raise UniverseError(f"{path}: no such file")
    if path.is_dir():
        raise UniverseError(f"{path}: is a directory, not a CSV file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UniverseError(f"{path}: cannot read: {exc.strerror}") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text, encoding = _decode(path, data, "utf-16", "UTF-16")
    elif data.startswith(codecs.BOM_UTF8):
        text, encoding = _decode(path, data, "utf-8-sig", "UTF-8 with a BOM")
    else:
        try:
            text, encoding = data.decode("utf-8"), "UTF-8"
        except UnicodeDecodeError:
            try:  # not UTF-8: what Excel writes on Western systems, which reads Latin-1's letters too
                text, encoding = data.decode("cp1252"), "Windows-1252"
            except (
                UnicodeDecodeError
            ):  # one of the five bytes cp1252 leaves undefined: Latin-1 reads any byte
                text, encoding = data.decode("latin-1"), "Latin-1"
    if "\x00" in text:
        raise UniverseError(f"{path}: not a text file: expected a CSV in {ENCODINGS}")
    return text, encoding


def _decode(path: Path, data: bytes, codec: str, name: str) -> tuple[str, str]:
    try:
        return data.decode(codec), name
    except UnicodeDecodeError as exc:
        raise UniverseError(
            f"{path}: starts like {name} but byte {exc.start} is not: save it as {ENCODINGS}"
        ) from None


def read_csv(path: Path) -> list[dict]:
    """Rows of a universe CSV, checked whole (see the module docstring)."""
    return parse_csv(read_text(path)[0], path)


def parse_csv(text: str, path: Path) -> list[dict]:
    """Rows of a universe CSV's ``text`` (read from ``path``, named in the messages), checked whole."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in reader.fieldnames or []]
        if "symbol" not in header:
            raise UniverseError(f"{path}: the first line must name the columns, including 'symbol'")
        unknown = sorted(set(header) - set(COLUMNS))
        if unknown:
            raise UniverseError(f"{path}: unknown column(s) {', '.join(unknown)}; use {', '.join(COLUMNS)}")
        twice = sorted({h for h in header if header.count(h) > 1})
        if twice:
            raise UniverseError(f"{path}: column(s) {', '.join(twice)} named more than once")
        rows, seen = [], {}
        for raw in reader:
            line = reader.line_num
            if None in raw:  # DictReader keeps the fields beyond the header's under None
                fields = len(header) + len(raw[None])
                raise UniverseError(f"{path}:{line}: {fields} fields, but the first line names {len(header)} "
                                    "(quote a value that holds a comma)")  # fmt: skip
            row = {k.strip().lower(): (v or "").strip() for k, v in raw.items()}
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
    except csv.Error as exc:
        raise UniverseError(f"{path}:{reader.line_num}: {exc}") from None
    if not rows:
        raise UniverseError(f"{path}: no symbols in the file")
    return rows


def require_database(url: str) -> None:
    """``show``, ``pin`` and ``unpin`` read an existing universe: an SQLite file that does not exist is a
    misspelt path, not a new database to create."""
    path = sqlite_path(parse_url(url))
    if path is not None and not path.exists():
        raise UniverseError(
            f"the database {path} does not exist: check DATABASE_URL (python -m stack.universe import FILE, "
            "or make migrate, creates it)"
        )


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
    parser = Parser(prog="python -m stack.universe", description=__doc__.splitlines()[0])
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
        if args.command == "import":  # the whole file is checked before the database is touched
            text, encoding = read_text(args.file)
            rows = parse_csv(text, args.file)
        else:
            require_database(settings.database_url)
        upgrade(settings.database_url)
        db = Database(settings.database_url)
        if args.command == "import":
            with db.session() as s, s.begin():
                upsert_symbols(s, rows)
            read_as = "" if encoding.startswith("UTF-8") else f"; read as {encoding}"
            print(
                f"imported {len(rows)} symbols ({sum('pinned_tier' in r for r in rows)} pinned to a tier{read_as})"
            )
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
    except UniverseError as exc:
        print(f"tickerbeat: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    run_main(main)
