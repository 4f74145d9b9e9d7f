"""Pure reshaping of long-form bars into the wide arrays the analysis code works on.

A ``BarMatrix`` holds one float64 array per field, shaped ``(days, symbols)``: row ``i`` is ``days[i]``,
column ``j`` is ``symbols[j]``, and a missing bar is NaN in every field (never a carried-forward value).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from storage.errors import StorageError

PANEL_FIELDS = ("close", "high", "low", "volume")


@dataclass(frozen=True)
class BarMatrix:
    """Wide bars: ``days`` (datetime64[D], ascending), ``symbols`` and one (days x symbols) array per field."""

    days: np.ndarray
    symbols: tuple[str, ...]
    close: np.ndarray
    high: np.ndarray
    low: np.ndarray
    volume: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.days), len(self.symbols))

    def column(self, symbol: str) -> int:
        """The column index of ``symbol``; ``KeyError`` if it is not in the panel."""
        try:
            return self.symbols.index(symbol)
        except ValueError:
            raise KeyError(symbol) from None


def to_panel(
    frame: pd.DataFrame, *, symbols: Sequence[str] | None = None, days: Sequence | None = None
) -> BarMatrix:
    """Spread ``frame`` (columns symbol, day, close, high, low, volume) into a ``BarMatrix``.

    ``symbols``: the columns, in this order (a symbol without bars is an all-NaN column); default: the
    frame's symbols, sorted. ``days``: the rows, sorted ascending (days without bars are all-NaN rows,
    bars on other days are left out); default: the frame's distinct days. Duplicate ``(symbol, day)``
    rows are an error rather than a silent choice.
    """
    if symbols is None:
        symbol_axis = tuple(sorted(pd.unique(frame["symbol"])))
    else:
        symbol_axis = tuple(symbols)
        if len(set(symbol_axis)) != len(symbol_axis):
            raise StorageError("bars_panel: symbols contain duplicates")
    frame_days = (
        np.asarray(frame["day"], dtype="datetime64[D]") if len(frame) else np.array([], "datetime64[D]")
    )
    day_axis = np.unique(frame_days if days is None else np.asarray(list(days), dtype="datetime64[D]"))
    rows = pd.Index(day_axis).get_indexer(frame_days) if len(frame) else np.array([], dtype=np.intp)
    cols = pd.Index(symbol_axis).get_indexer(frame["symbol"]) if len(frame) else np.array([], dtype=np.intp)
    keep = (rows >= 0) & (cols >= 0)
    rows, cols = rows[keep], cols[keep]
    if len(rows) and len(np.unique(rows * max(len(symbol_axis), 1) + cols)) != len(rows):
        raise StorageError("bars_panel: more than one bar for a (symbol, day)")
    arrays = {}
    for name in PANEL_FIELDS:
        array = np.full((len(day_axis), len(symbol_axis)), np.nan, dtype=np.float64)
        array[rows, cols] = np.asarray(frame[name], dtype=np.float64)[keep]
        arrays[name] = array
    return BarMatrix(days=day_axis, symbols=symbol_axis, **arrays)
