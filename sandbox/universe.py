"""The synthetic universe: tickers, names, exchanges, listings, delistings, splits and halts.

Deterministic in ``(seed, size)`` and independent of "today": events are drawn once over a fixed span
(``EVENTS_START``..``EVENTS_END``), so two sandboxes started on different days agree on every date.
``size`` established securities are listed before the span; new listings come on top of them at about the
rate of delistings, so roughly ``size`` symbols are active on any date in the span.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

EVENTS_START = date(2022, 1, 3)
EVENTS_END = date(2031, 12, 31)
MAX_SYMBOLS = 15_000
SECTORS: tuple[str, ...] = (
    "Energy", "Materials", "Industrials", "Consumer Discretionary", "Consumer Staples", "Health Care",
    "Financials", "Information Technology", "Communication Services", "Utilities", "Real Estate",
)  # fmt: skip


@dataclass(frozen=True)
class Exchange:
    name: str  # Finnhub/our canonical name
    mic: str  # Finnhub `mic`, Polygon `primary_exchange`
    av: str  # Alpha Vantage LISTING_STATUS `exchange`
    yahoo: str  # Yahoo `exchangeName`
    yahoo_full: str  # Yahoo `fullExchangeName`


EXCHANGES: dict[str, Exchange] = {
    "NYSE": Exchange("NYSE", "XNYS", "NYSE", "NYQ", "NYSE"),
    "NASDAQ": Exchange("NASDAQ", "XNAS", "NASDAQ", "NMS", "NasdaqGS"),
    "NYSE ARCA": Exchange("NYSE ARCA", "ARCX", "NYSE ARCA", "PCX", "NYSEArca"),
    "NYSE American": Exchange("NYSE American", "XASE", "NYSE MKT", "ASE", "NYSE American"),
}


@dataclass(frozen=True)
class Split:
    symbol: int  # index into Universe.securities
    day: date  # ex-date: the first session traded at the new price
    numerator: int  # new shares ...
    denominator: int  # ... for this many old shares

    @property
    def ratio(self) -> float:
        """Shares after / shares before; the unadjusted price divides by it on ``day``."""
        return self.numerator / self.denominator


@dataclass(frozen=True)
class Security:
    index: int
    symbol: str
    name: str
    exchange: Exchange
    kind: str  # "Common Stock" or "ETF"
    sector: int
    figi: str
    share_class_figi: str
    cik: str
    listed: date  # first session with a bar (IPO date for AV)
    delisted: date | None  # first date without trading, or None

    def active_on(self, d: date) -> bool:
        return self.listed <= d and (self.delisted is None or d < self.delisted)


@dataclass(frozen=True)
class Halt:
    symbol: int
    first: date  # first and last calendar dates without bars (inclusive)
    last: date


@dataclass(frozen=True)
class Universe:
    seed: int
    size: int
    securities: tuple[Security, ...]
    splits: tuple[Split, ...]
    halts: tuple[Halt, ...]
    by_symbol: dict[str, int]
    splits_of: dict[int, tuple[Split, ...]]

    def __len__(self) -> int:
        return len(self.securities)

    def get(self, symbol: str) -> Security | None:
        i = self.by_symbol.get(symbol)
        return None if i is None else self.securities[i]

    def visible(self, today: date) -> list[Security]:
        """Securities listed on or before ``today`` (active or delisted), in ticker order."""
        return [s for s in self.securities if s.listed <= today]


_FIRST = ("Acme Alder Apex Arbor Atlas Aurora Beacon Birch Blue Bright Canyon Cardinal Cedar Clear Cobalt Coral "
          "Crest Delta Eagle Echo Ember Evergreen Falcon First Frontier Granite Harbor Harvest Horizon Iron "
          "Keystone Lakeshore Liberty Lumen Maple Meridian Mesa Midland Northern Nova Oak Orion Pacific Peak "
          "Pine Pioneer Prairie Quantum Redwood Ridge River Sierra Silver Summit Sun Titan Union Vector Vista "
          "Western Willow Zenith").split()  # fmt: skip
_SECOND = {
    0: "Energy Petroleum Resources Oil Midstream Drilling".split(),
    1: "Materials Chemicals Mining Metals Packaging Steel".split(),
    2: "Industries Aerospace Machinery Logistics Systems Engineering".split(),
    3: "Brands Retail Apparel Motors Leisure Restaurants".split(),
    4: "Foods Beverages Grocers Household Farms Consumer".split(),
    5: "Therapeutics Biosciences Medical Health Pharmaceuticals Diagnostics".split(),
    6: "Bancorp Financial Capital Insurance Trust Payments".split(),
    7: "Technologies Software Semiconductor Networks Data Devices".split(),
    8: "Media Communications Wireless Entertainment Interactive Broadcasting".split(),
    9: "Utilities Power Electric Water Gas Renewables".split(),
    10: "Realty Properties REIT Land Residential Towers".split(),
}
_SUFFIX = ("Inc", "Corp", "Holdings Inc", "Group Inc", "Co", "Ltd", "Inc", "Corp", "plc", "LP")
_ETF_ISSUERS = ("iShares", "Vanguard", "SPDR", "Invesco", "Schwab", "First Trust", "Global X", "WisdomTree")
_ETF_THEMES = ("Total Market", "S&P 500", "Dividend", "Growth", "Value", "Small-Cap", "Mid-Cap", "Momentum",
               "Quality", "Low Volatility", "Treasury", "Semiconductor", "Clean Energy", "Biotech")  # fmt: skip
_FIGI_CHARS = "BCDFGHJKLMNPQRSTVWXYZ0123456789"
_LETTERS = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
_LETTER_P = np.array(
    [8, 4, 6, 4, 5, 4, 4, 3, 3, 2, 2, 5, 6, 5, 3, 5, 1, 5, 8, 6, 3, 3, 3, 1, 1, 1], dtype=float
)
_SPLIT_RATIOS = ((2, 1), (3, 1), (4, 1), (3, 2), (5, 1), (10, 1), (1, 10), (1, 5))
_SPLIT_P = (0.40, 0.15, 0.12, 0.08, 0.05, 0.05, 0.10, 0.05)


def build_universe(seed: int, size: int = 6500) -> Universe:
    """The universe for ``seed`` with ``size`` established securities (1..15,000)."""
    if not 1 <= size <= MAX_SYMBOLS:
        raise ValueError(f"symbols must be between 1 and {MAX_SYMBOLS}, got {size}")
    rng = np.random.default_rng([seed, 104_729, size])
    years = (EVENTS_END - EVENTS_START).days / 365.25
    per_year = max(2, round(size * 0.005))  # listings and delistings, each
    n_new = round(per_year * years)
    total = size + n_new
    symbols = _tickers(rng, total)
    span_days = (EVENTS_END - EVENTS_START).days

    is_etf = rng.random(total) < 0.06
    exch_u = rng.random(total)
    sectors = rng.integers(0, len(SECTORS), total)
    securities: list[tuple] = []
    for i in range(total):
        if is_etf[i]:
            exchange = EXCHANGES["NYSE ARCA"]
            name = f"{_ETF_ISSUERS[rng.integers(len(_ETF_ISSUERS))]} {_ETF_THEMES[rng.integers(len(_ETF_THEMES))]} ETF"
        else:
            exchange = EXCHANGES[
                "NASDAQ" if exch_u[i] < 0.58 else "NYSE" if exch_u[i] < 0.97 else "NYSE American"
            ]
            words = _SECOND[int(sectors[i])]
            name = f"{_FIRST[rng.integers(len(_FIRST))]} {words[rng.integers(len(words))]} {_SUFFIX[rng.integers(len(_SUFFIX))]}"
        if i < size:
            listed = date(1980, 1, 2) + timedelta(days=int(rng.integers(0, 365 * 38)))
        else:
            listed = EVENTS_START + timedelta(days=int(rng.integers(0, span_days)))
        listed = _weekday(listed)
        securities.append(
            (symbols[i], name, exchange, "ETF" if is_etf[i] else "Common Stock", int(sectors[i]), listed)
        )

    # Class shares: a few established common stocks get an `.A`/`.B` sibling pair.
    n_pairs = max(2, size // 800)
    for i in rng.choice(size, n_pairs, replace=False):
        sym, name, exchange, kind, sector, listed = securities[i]
        if "." in sym or len(sym) > 4 or kind == "ETF":
            continue
        securities[i] = (f"{sym}.A", f"{name} Class A", exchange, kind, sector, listed)
        securities.append((f"{sym}.B", f"{name} Class B", exchange, kind, sector, listed))

    delisted: dict[int, date] = {}
    n_delist = round(per_year * years)
    for i in rng.choice(size, min(n_delist, max(0, size - 1)), replace=False):
        delisted[int(i)] = _weekday(EVENTS_START + timedelta(days=int(rng.integers(30, span_days))))

    secs = []
    order = sorted(range(len(securities)), key=lambda j: securities[j][0])
    for new_index, j in enumerate(order):
        sym, name, exchange, kind, sector, listed = securities[j]
        figi = "BBG00" + "".join(_FIGI_CHARS[k] for k in rng.integers(0, len(_FIGI_CHARS), 7))
        share = "BBG00" + "".join(_FIGI_CHARS[k] for k in rng.integers(0, len(_FIGI_CHARS), 7))
        secs.append(Security(new_index, sym, name, exchange, kind, sector, figi, share,
                             f"{int(rng.integers(1_000_000, 2_000_000)):010d}", listed, delisted.get(j)))  # fmt: skip

    splits = []
    n_splits = max(3, round(size / 500)) * round(years)
    for _ in range(n_splits):
        day = _weekday(EVENTS_START + timedelta(days=int(rng.integers(0, span_days))))
        k = int(rng.choice(len(_SPLIT_RATIOS), p=_SPLIT_P))
        i = int(rng.integers(0, len(secs)))
        s = secs[i]
        if s.kind == "ETF" or not s.active_on(day) or s.listed > day - timedelta(days=60):
            continue
        num, den = _SPLIT_RATIOS[k]
        splits.append(Split(i, day, num, den))
    # at most one split per security per 90 days keeps histories readable
    splits.sort(key=lambda s: (s.symbol, s.day))
    kept: list[Split] = []
    for s in splits:
        if kept and kept[-1].symbol == s.symbol and (s.day - kept[-1].day).days < 90:
            continue
        kept.append(s)
    kept.sort(key=lambda s: (s.day, s.symbol))

    halts = []
    for _ in range(max(2, size // 1000) * round(years)):
        first = _weekday(EVENTS_START + timedelta(days=int(rng.integers(0, span_days))))
        i = int(rng.integers(0, len(secs)))
        if secs[i].active_on(first) and first > secs[i].listed + timedelta(days=30):
            halts.append(Halt(i, first, first + timedelta(days=int(rng.integers(0, 5)))))

    splits_of: dict[int, list[Split]] = {}
    for s in kept:
        splits_of.setdefault(s.symbol, []).append(s)
    return Universe(
        seed=seed, size=size, securities=tuple(secs), splits=tuple(kept), halts=tuple(halts),
        by_symbol={s.symbol: s.index for s in secs}, splits_of={k: tuple(v) for k, v in splits_of.items()},
    )  # fmt: skip


def _weekday(d: date) -> date:
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d


def _tickers(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct tickers of 1-5 capital letters, mostly 3-4, letter frequencies roughly like real ones."""
    p = _LETTER_P / _LETTER_P.sum()
    lengths = rng.choice([1, 2, 3, 4, 5], size=n * 2, p=[0.003, 0.06, 0.37, 0.52, 0.047])
    seen: set[str] = set()
    out: list[str] = []
    k = 0
    while len(out) < n:
        if k >= len(lengths):
            lengths = rng.choice([2, 3, 4, 5], size=n, p=[0.1, 0.3, 0.4, 0.2])
            k = 0
        t = "".join(rng.choice(_LETTERS, size=int(lengths[k]), p=p))
        k += 1
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out
