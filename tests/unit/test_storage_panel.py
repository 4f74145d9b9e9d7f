"""Long bars -> wide (days x symbols) arrays: shapes, axis order and NaN placement (no database)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from storage.errors import StorageError
from storage.panel import to_panel


def frame(rows):
    """rows: (symbol, 'YYYY-MM-DD', close); high/low/volume derived so every field is checked."""
    return pd.DataFrame(
        {
            "symbol": [r[0] for r in rows],
            "day": pd.to_datetime([r[1] for r in rows]),
            "close": [r[2] for r in rows],
            "high": [r[2] + 1 for r in rows],
            "low": [r[2] - 1 for r in rows],
            "volume": [r[2] * 100 for r in rows],
        }
    )


NAN = np.nan
BARS = [
    ("MSFT", "2026-11-24", 1.0),
    ("AAPL", "2026-11-25", 2.0),
    ("MSFT", "2026-11-25", 3.0),
    ("AAPL", "2026-11-24", 4.0),
]


@pytest.mark.parametrize(
    ("rows", "symbols", "days", "want_days", "want_symbols", "want_close"),
    [
        # defaults: sorted symbols, the frame's days
        (BARS, None, None, ["2026-11-24", "2026-11-25"], ("AAPL", "MSFT"), [[4.0, 1.0], [2.0, 3.0]]),
        # a missing bar is NaN in its cell only
        (BARS[:3], None, None, ["2026-11-24", "2026-11-25"], ("AAPL", "MSFT"), [[NAN, 1.0], [2.0, 3.0]]),
        # caller's symbol order; a symbol without bars is an all-NaN column; others are left out
        (
            BARS,
            ["MSFT", "ZZZZ"],
            None,
            ["2026-11-24", "2026-11-25"],
            ("MSFT", "ZZZZ"),
            [[1.0, NAN], [3.0, NAN]],
        ),
        # caller's days: a session without bars is an all-NaN row; bars on other days are left out
        (
            BARS,
            None,
            [date(2026, 11, 26), date(2026, 11, 25)],
            ["2026-11-25", "2026-11-26"],
            ("AAPL", "MSFT"),
            [[2.0, 3.0], [NAN, NAN]],
        ),
        # nothing at all
        ([], None, None, [], (), np.empty((0, 0))),
        ([], ["AAPL"], ["2026-11-24"], ["2026-11-24"], ("AAPL",), [[NAN]]),
    ],
)
def test_to_panel(rows, symbols, days, want_days, want_symbols, want_close):
    panel = to_panel(frame(rows), symbols=symbols, days=days)
    assert panel.days.dtype == np.dtype("datetime64[D]")
    assert [str(d) for d in panel.days] == want_days
    assert panel.symbols == want_symbols
    want = np.array(want_close, dtype=float).reshape(len(want_days), len(want_symbols))
    assert panel.shape == want.shape
    for name, offset in (("close", 0), ("high", 1), ("low", -1)):
        np.testing.assert_array_equal(getattr(panel, name), want + offset)
    np.testing.assert_array_equal(panel.volume, want * 100)
    assert all(getattr(panel, n).dtype == np.float64 for n in ("close", "high", "low", "volume"))


def test_column_lookup():
    panel = to_panel(frame(BARS))
    assert panel.close[0, panel.column("MSFT")] == 1.0
    with pytest.raises(KeyError):
        panel.column("NOPE")


@pytest.mark.parametrize(
    ("rows", "symbols", "message"),
    [
        (BARS + [("AAPL", "2026-11-24", 9.0)], None, "more than one bar"),
        (BARS, ["AAPL", "AAPL"], "duplicates"),
    ],
)
def test_to_panel_refuses_ambiguity(rows, symbols, message):
    with pytest.raises(StorageError, match=message):
        to_panel(frame(rows), symbols=symbols)
