"""The universe CLI against a real database: CSV import is all-or-nothing, pins move tiers, the common
encodings are read, and a missing file or a misspelt database path creates nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from stack.universe import UniverseError, pin, read_csv, tier_counts
from storage import upsert_symbols
from storage.models import Symbol

ROOT = Path(__file__).resolve().parents[2]


def _write(tmp_path, text: str):
    path = tmp_path / "u.csv"
    path.write_text(text)
    return path


def test_import_then_pin_and_unpin(db, tmp_path):
    rows = read_csv(_write(tmp_path, "Symbol,name,tier\nAAPL,Apple,1\nBRK-B,Berkshire,\nMSFT,,\n"))
    assert [r["ticker"] for r in rows] == ["AAPL", "BRK.B", "MSFT"]  # BRK-B is spelled the canonical way
    with db.session() as s, s.begin():
        upsert_symbols(s, rows)
    pin(db, "MSFT", 2)
    assert tier_counts(db)[1] == 1 and tier_counts(db)[2] == 1
    pin(db, "MSFT", None)
    with db.session() as s:
        assert s.scalar(select(Symbol.pinned_tier).where(Symbol.ticker == "MSFT")) is None
        assert s.scalar(select(Symbol.pinned_tier).where(Symbol.ticker == "AAPL")) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ticker\nAAPL\n", "including 'symbol'"),
        ("symbol,price\nAAPL,1\n", "unknown column(s) price"),
        ("symbol\nAAPL\nNOT A TICKER\n", ":3: 'NOT A TICKER' is not a US ticker"),
        ("symbol\nAAPL\nAAPL\n", ":3: AAPL already on line 2"),
        ("symbol,tier\nAAPL,7\n", ":2: tier '7' is not one of 1, 2, 3, 4"),
        ("symbol\n", "no symbols"),
        ("symbol,name\nAAPL,Apple\nBRK.B,Berkshire, Hathaway\n", ":3: 3 fields, but the first line names 2"),
        ("symbol\nAAPL\n\nMSFT,Microsoft\n", ":4: 2 fields, but the first line names 1"),
        ("symbol,Symbol\nAAPL,AAPL\n", "column(s) symbol named more than once"),
    ],
)
def test_a_bad_file_is_rejected_whole_with_its_line(tmp_path, text, message):
    with pytest.raises(UniverseError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_csv(_write(tmp_path, text))


def test_pinning_an_unknown_symbol_or_tier_is_refused(db):
    with pytest.raises(UniverseError, match="not in the universe"):
        pin(db, "ZZZZ", 1)
    with pytest.raises(UniverseError, match="tier 9"):
        pin(db, "AAPL", 9)
    with pytest.raises(UniverseError, match="not a US ticker"):
        pin(db, "aapl!", 1)


def test_the_cli_says_what_is_wrong_without_a_traceback(tmp_path, monkeypatch, capsys):
    from stack.universe import main

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    assert main(["import", str(_write(tmp_path, "symbol\nAAPL\n"))]) == 0
    assert main(["import", str(tmp_path / "missing.csv")]) == 2
    assert "missing.csv: no such file" in capsys.readouterr().err
    assert main(["pin", "AAPL", "1"]) == 0
    assert main(["show"]) == 0
    assert "tier 1: 1 symbols" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("data", "names"),
    [
        ("symbol,name\nAAPL,Société Générale\n".encode(), "UTF-8"),
        ("symbol,name\nAAPL,Société Générale\n".encode("utf-8-sig"), "UTF-8 with a BOM"),
        ("symbol,name\nAAPL,Société Générale\n".encode("utf-16"), "UTF-16"),
        ("symbol,name\nAAPL,Société Générale\n".encode("latin-1"), "Windows-1252"),
        ("symbol,name\nAAPL,Société Générale\n".replace("G", "\u2019").encode("cp1252"), "Windows-1252"),
        (b"symbol,name\nAAPL,Soci\xe9t\xe9 \x81\n", "Latin-1"),  # 0x81: no character in cp1252
    ],
    ids=["utf-8", "utf-8-bom", "utf-16", "latin-1", "cp1252", "latin-1-only"],
)
def test_the_common_encodings_are_read(tmp_path, data, names):
    from stack.universe import parse_csv, read_text

    path = tmp_path / "u.csv"
    path.write_bytes(data)
    text, encoding = read_text(path)
    assert encoding == names
    (row,) = parse_csv(text, path)
    assert row["ticker"] == "AAPL" and row["name"].startswith("Soci\u00e9t\u00e9 ")


def test_a_binary_file_names_the_encodings_expected(tmp_path):
    path = tmp_path / "u.xlsx"
    path.write_bytes(b"PK\x03\x04\x00\x00symbol")
    with pytest.raises(UniverseError, match="not a text file: expected a CSV in UTF-8"):
        read_csv(path)


def _cli(tmp_path: Path, database: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}"}
    return subprocess.run([sys.executable, "-m", "stack.universe", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_a_missing_file_creates_no_database(tmp_path):
    database = tmp_path / "var" / "tickerbeat.db"
    done = _cli(tmp_path, database, "import", str(tmp_path / "symbols.csv"))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [f"tickerbeat: {tmp_path / 'symbols.csv'}: no such file"]
    assert not database.parent.exists()  # no file, no directory, no migration


def test_a_bad_file_creates_no_database(tmp_path, capsys, monkeypatch):
    from stack.universe import main

    database = tmp_path / "tickerbeat.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")
    assert (
        main(["import", str(_write(tmp_path, "symbol,name\nAAPL,Apple\nBRK.B,Berkshire, Hathaway\n"))]) == 2
    )
    assert capsys.readouterr().err.splitlines() == [
        f"tickerbeat: {tmp_path / 'u.csv'}:3: 3 fields, but the first line names 2 (quote a value that holds a comma)"
    ]
    assert not database.exists()


@pytest.mark.parametrize("command", [["show"], ["pin", "AAPL", "1"], ["unpin", "AAPL"]])
def test_a_misspelt_database_path_is_not_created(tmp_path, capsys, monkeypatch, command):
    from stack.universe import main

    typo = tmp_path / "tickrbeat.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{typo}")
    assert main(command) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"tickerbeat: the database {typo} does not exist: check DATABASE_URL (python -m stack.universe import "
        "FILE, or make migrate, creates it)"
    ]
    assert not typo.exists()


def test_a_latin1_file_is_imported_through_the_cli(tmp_path):
    database = tmp_path / "tickerbeat.db"
    path = tmp_path / "latin.csv"
    path.write_bytes("symbol,name,tier\nAAPL,Société Générale,1\nMSFT,Café,\n".encode("latin-1"))
    done = _cli(tmp_path, database, "import", str(path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "imported 2 symbols (1 pinned to a tier; read as Windows-1252)"
    from storage import Database

    db = Database(f"sqlite:///{database}")
    with db.session() as s:
        assert s.scalar(select(Symbol.name).where(Symbol.ticker == "AAPL")) == "Société Générale"
    db.dispose()
