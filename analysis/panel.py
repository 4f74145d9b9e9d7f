"""The daily price panel: wide arrays of sessions x symbols, the one input shape of the analysis core.

Rows are sessions, oldest first (strictly increasing dates); columns are symbols. Values are float64 and
NaN means "no bar for this symbol on this session" (not listed yet, halted, or not fetched). Prices are
in the quote currency (US dollars), volumes in shares. Nothing here reads storage: the caller builds the
panel from whatever it loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

FIELDS = ("close", "high", "low", "volume")


class PanelError(ValueError):
    """The arrays handed in do not form a valid panel; the message says which and why."""


def as_matrix(name: str, values: object, shape: tuple[int, int] | None = None) -> np.ndarray:
    """``values`` as a C-contiguous 2-D float64 array, or a ``PanelError`` naming ``name``."""
    try:
        array = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise PanelError(f"{name}: not numeric ({exc})") from None
    if array.ndim != 2:
        raise PanelError(f"{name}: expected a 2-D array (days x symbols), got {array.ndim} dimension(s)")
    if shape is not None and array.shape != shape:
        raise PanelError(f"{name}: shape {array.shape} does not match close's {shape}")
    return array


@dataclass(frozen=True, eq=False)
class Panel:
    """Daily bars of many symbols. See the module docstring for units and the NaN convention."""

    dates: tuple[date, ...]
    symbols: tuple[str, ...]
    close: np.ndarray
    high: np.ndarray
    low: np.ndarray
    volume: np.ndarray

    def __post_init__(self) -> None:
        dates = tuple(self.dates)
        symbols = tuple(str(s) for s in self.symbols)
        close = as_matrix("close", self.close)
        shape = close.shape
        if shape != (len(dates), len(symbols)):
            raise PanelError(
                f"close has shape {shape} but there are {len(dates)} dates and {len(symbols)} symbols"
            )
        if any(b <= a for a, b in zip(dates, dates[1:], strict=False)):
            raise PanelError("dates must be strictly increasing (oldest first, no duplicates)")
        if len(set(symbols)) != len(symbols):
            seen: set[str] = set()
            dupes = sorted({s for s in symbols if s in seen or seen.add(s)})
            raise PanelError(f"duplicate symbols: {', '.join(dupes[:10])}")
        object.__setattr__(self, "dates", dates)
        object.__setattr__(self, "symbols", symbols)
        object.__setattr__(self, "close", close)
        for name in ("high", "low", "volume"):
            object.__setattr__(self, name, as_matrix(name, getattr(self, name), shape))

    @property
    def shape(self) -> tuple[int, int]:
        """(sessions, symbols)."""
        return self.close.shape

    def row_of(self, day: date) -> int:
        """Index of the session ``day``; ``PanelError`` if the panel has no such session."""
        try:
            return self.dates.index(day)
        except ValueError:
            raise PanelError(f"{day.isoformat()} is not a session of this panel") from None

    def upto(self, day: date) -> Panel:
        """The sessions on or before ``day`` (what was knowable at that day's close)."""
        n = sum(1 for d in self.dates if d <= day)
        if n == 0:
            raise PanelError(f"the panel has no session on or before {day.isoformat()}")
        return self.take_rows(slice(0, n))

    def take_rows(self, rows: slice) -> Panel:
        return Panel(
            self.dates[rows],
            self.symbols,
            self.close[rows],
            self.high[rows],
            self.low[rows],
            self.volume[rows],
        )

    @classmethod
    def from_close(cls, dates: Sequence[date], symbols: Sequence[str], close: object) -> Panel:
        """A panel whose high and low equal the close and whose volume is unknown (NaN)."""
        c = as_matrix("close", close)
        return cls(tuple(dates), tuple(symbols), c, c.copy(), c.copy(), np.full(c.shape, np.nan))


# A quote taken up to this long after the close still stands for the session's provisional close.
QUOTE_GRACE = timedelta(hours=8)


def fill_from_quotes(close, high, low, symbols, quotes, session_hours) -> int:
    """Fill the last row of ``close``/``high``/``low`` (sessions x symbols, in place) where it has no bar
    from each symbol's quote (``quotes[symbol]`` with ``price``, ``high``, ``low``, ``at``) taken during
    the session (``session_hours`` = (open, close), aware datetimes) or up to ``QUOTE_GRACE`` after it.
    A quote without a high or low stands at its price. Volume is left unknown. Returns how many filled."""
    opens, closes = session_hours
    filled = 0
    for i, symbol in enumerate(symbols):
        q = quotes.get(symbol)
        if np.isfinite(close[-1, i]) or q is None or not (opens <= q.at <= closes + QUOTE_GRACE):
            continue
        close[-1, i] = q.price
        high[-1, i] = q.high if q.high else q.price
        low[-1, i] = q.low if q.low else q.price
        filled += 1
    return filled
