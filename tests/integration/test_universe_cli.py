"""The universe CLI against a real database: CSV import is all-or-nothing, pins move tiers."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from stack.universe import UniverseError, pin, read_csv, tier_counts
from storage import upsert_symbols
from storage.models import Symbol


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
    assert "cannot read" in capsys.readouterr().err
    assert main(["pin", "AAPL", "1"]) == 0
    assert main(["show"]) == 0
    assert "tier 1: 1 symbols" in capsys.readouterr().out
