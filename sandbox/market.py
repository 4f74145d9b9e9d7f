"""The synthetic market: deterministic daily bars for every security on the real NYSE calendar.

Returns are generated per weekday from a fixed epoch (``EPOCH``), each weekday's shocks drawn from a
generator seeded by ``(seed, weekday ordinal)``, so the same seed gives the same bar for a date however
long the sandbox has run and whatever window it holds. A holiday's shocks fold into the next session's
return. Each return is a market factor, one of 11 sector factors, a fat-tailed idiosyncratic shock, a weak
momentum term (``MOMENTUM_LOADING`` times the trailing 20-weekday log return: something honest for a model
to find) and a slow pull back to the security's base level (prices stay in a realistic range).

Prices here are *economic* (before split accounting): the unadjusted price on day d is ``P_d / S_d`` where
``S_d`` is the product of the split ratios with ex-date on or before d; the price adjusted as of day a is
``P_d / S_a``. Volumes scale the other way. ``Bars`` returns rounded values as a provider would print them.
"""

from __future__ import annotations

import bisect
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import numpy as np

import marketcal
from sandbox.universe import Universe

EPOCH = date(2018, 1, 1)  # a Monday: weekday ordinal 0
MOMENTUM_LOADING = 0.015  # next return per unit of trailing 20-weekday log return
REVERSION = 0.002  # per weekday pull of the log level towards the base level
HISTORY_DAYS = 2 * 365 + 60  # calendar days of bars before today: two years plus a margin
REWIND_DAYS = 45  # the clock may go back this far without a rebuild (the margin above covers it)


def weekday_ordinal(d: date) -> int:
    return int(np.busday_count(EPOCH, d))


class Market:
    """Bars for ``universe`` from about ``HISTORY_DAYS`` before ``today`` through ``today`` (inclusive).

    ``days``: the sessions held, oldest first; ``index[d]`` is a session's row. Arrays are (days, symbols),
    float32: ``open``/``high``/``low``/``close`` economic prices, ``volume`` economic volume, ``present``
    (bool) the security traded that session (listed, not delisted, not halted).
    """

    def __init__(self, universe: Universe, seed: int, today: date, history_days: int = HISTORY_DAYS) -> None:
        self.universe = universe
        self.seed = seed
        self.history_days = history_days
        self._params()
        self._build(today)

    # -- construction -------------------------------------------------------------------------------

    def _params(self) -> None:
        n = len(self.universe)
        rng = np.random.default_rng([self.seed, 2, n])
        etf = np.array([s.kind == "ETF" for s in self.universe.securities])
        self.sector = np.array([s.sector for s in self.universe.securities], dtype=np.int64)
        self.base_price = np.clip(np.exp(rng.normal(np.log(35.0), 0.9, n)), 2.0, 900.0)
        # Companies split forward when their price is high and backwards when it is low: the base level
        # (around which the price moves) puts the first split's pre-split price where it would be.
        for i, splits in self.universe.splits_of.items():
            r = splits[0].ratio
            self.base_price[i] = rng.uniform(40.0, 150.0) * r if r > 1 else rng.uniform(5.0, 30.0) * r
        self.sigma = np.where(etf, rng.uniform(0.005, 0.011, n), rng.uniform(0.009, 0.032, n))
        self.beta = np.where(etf, rng.normal(1.0, 0.1, n), rng.normal(1.0, 0.3, n))
        self.load = np.where(etf, rng.uniform(0.1, 0.4, n), rng.uniform(0.5, 1.2, n))
        self.base_volume = np.exp(rng.normal(np.log(900_000.0), 1.1, n))
        self.trade_size = rng.uniform(60.0, 260.0, n)
        self.drift = rng.normal(0.0002, 0.0002, n)

    def _build(self, today: date) -> None:
        start = today - timedelta(days=self.history_days)
        days = _sessions(start, today)
        if not days:
            raise ValueError(f"no NYSE sessions between {start} and {today}")
        self.today = today
        self.days: list[date] = days
        self.index: dict[date, int] = {d: k for k, d in enumerate(days)}
        prev = marketcal.previous_trading_day(days[0]) if _in_calendar(days[0] - timedelta(days=10)) else None
        self._generate(days, prev)
        self._presence(days)
        self._timing(days)
        self.split_factor.cache_clear()
        self.generation = getattr(self, "generation", 0) + 1

    def _generate(self, days: list[date], prev: date | None) -> None:
        """Walk the weekdays from the epoch to ``days[-1]``, writing each session's bar as it passes.

        Rows are written one at a time into float32 arrays: no (days x symbols) float64 temporaries.
        """
        n, shape = len(self.universe), (len(days), len(self.universe))
        self.open, self.high, self.low, self.close, self.volume = (
            np.empty(shape, np.float32) for _ in range(5)
        )
        self.half_day = np.array([marketcal.is_half_day(d) for d in days])
        wanted = {weekday_ordinal(d): k for k, d in enumerate(days)}
        prev_w = weekday_ordinal(prev) if prev else weekday_ordinal(days[0]) - 1
        base = np.log(self.base_price)
        level = base.copy()
        ring = np.tile(level, (21, 1))  # ring[w % 21] = level after weekday w
        last_session = level.copy()  # log close of the latest session passed
        for w in range(max(wanted) + 1):
            rng = np.random.default_rng([self.seed, 1, w])
            market = rng.standard_normal() * 0.009
            sectors = rng.standard_normal(11) * 0.006
            z = rng.standard_normal(n)
            z[rng.random(n) < 0.03] *= 3.0  # fat tails
            momentum = ring[(w - 1) % 21] - ring[w % 21]  # level(w-1) - level(w-21)
            level = (level + self.drift + self.beta * market + self.load * sectors[self.sector] + self.sigma * z
                     + MOMENTUM_LOADING * momentum - REVERSION * (level - base))  # fmt: skip
            ring[w % 21] = level
            k = wanted.get(w)
            if k is not None:
                self._bar_row(k, w, level, last_session)
                last_session = level
            elif w == prev_w:
                last_session = level

    def _bar_row(self, k: int, w: int, level: np.ndarray, prev_level: np.ndarray) -> None:
        noise = np.random.default_rng([self.seed, 3, w]).standard_normal((4, len(level)))
        ret = level - prev_level
        close = np.exp(level)
        opens = np.exp(prev_level) * np.exp(0.25 * ret + 0.3 * self.sigma * noise[0])
        self.open[k] = opens
        self.close[k] = close
        self.high[k] = np.maximum(opens, close) * np.exp(0.7 * self.sigma * np.abs(noise[1]))
        self.low[k] = np.minimum(opens, close) * np.exp(-0.7 * self.sigma * np.abs(noise[2]))
        volume = self.base_volume * np.exp(0.45 * np.abs(ret) / self.sigma + 0.3 * noise[3])
        self.volume[k] = volume * 0.45 if self.half_day[k] else volume

    def _presence(self, days: list[date]) -> None:
        u = self.universe
        day_arr = np.array(days, dtype="datetime64[D]")
        listed = np.array([s.listed for s in u.securities], dtype="datetime64[D]")
        delisted = np.array([s.delisted or date(2999, 1, 1) for s in u.securities], dtype="datetime64[D]")
        present = (day_arr[:, None] >= listed[None, :]) & (day_arr[:, None] < delisted[None, :])
        for h in u.halts:
            rows = (day_arr >= np.datetime64(h.first)) & (day_arr <= np.datetime64(h.last))
            present[rows, h.symbol] = False
        self.present = present

    def _timing(self, days: list[date]) -> None:
        """Per session: ``open_ts``/``close_ts`` (epoch s, the real open and close, half days included) and
        ``midnight_ms``/``eod_ms`` (epoch ms of 00:00 and 16:00 ET: Polygon's range and grouped stamps)."""
        self.open_ts = np.array([marketcal.session_open(d).timestamp() for d in days])
        self.close_ts = np.array([marketcal.session_close(d).timestamp() for d in days])
        self.open_list, self.close_list = self.open_ts.tolist(), self.close_ts.tolist()  # fast scalar lookups
        midnight = [datetime.combine(d, time(0), marketcal.EASTERN) for d in days]
        self.midnight_ms = np.array([int(m.timestamp()) * 1000 for m in midnight], dtype=np.int64)
        self.eod_ms = np.array([int(m.replace(hour=16).timestamp()) * 1000 for m in midnight], dtype=np.int64)

    def last_row(self, ts: np.ndarray, now: float) -> int:
        """Index of the last session whose ``ts`` (an array of this market's per-session instants) is <= now;
        -1 when none."""
        if ts is self.open_ts:
            return bisect.bisect_right(self.open_list, now) - 1
        if ts is self.close_ts:
            return bisect.bisect_right(self.close_list, now) - 1
        return int(np.searchsorted(ts, now, side="right")) - 1

    def ensure(self, today: date) -> None:
        """Rebuild when the sandbox's day has moved past the window's end, or more than ``REWIND_DAYS`` back.

        Moving back a little keeps the window: every view filters sessions by the clock, never by the
        window's end, so the later bars it holds are never served early.
        """
        if today > self.today or (self.today - today).days > REWIND_DAYS:
            self._build(today)

    # -- views ----------------------------------------------------------------------------------------

    @lru_cache(maxsize=256)  # noqa: B019 - one Market per process; cleared on rebuild
    def split_factor(self, d: date) -> np.ndarray:
        """S_d per security: the product of split ratios with ex-date on or before ``d``."""
        f = np.ones(len(self.universe), dtype=np.float64)
        for s in self.universe.splits:
            if s.day <= d:
                f[s.symbol] *= s.ratio
        return f

    def symbol_factor(self, i: int, d: date) -> float:
        f = 1.0
        for s in self.universe.splits_of.get(i, ()):
            if s.day <= d:
                f *= s.ratio
        return f

    def present_rows(self, i: int, upto: int) -> np.ndarray:
        """Rows 0..``upto`` (inclusive) on which security ``i`` traded, ascending."""
        return np.flatnonzero(self.present[: upto + 1, i])

    def rows(self, first: date, last: date) -> range:
        """Row range of the sessions from ``first`` to ``last`` inclusive (empty when none are held)."""
        lo = int(np.searchsorted(self._day_numbers, _num(first), side="left"))
        hi = int(np.searchsorted(self._day_numbers, _num(last), side="right"))
        return range(lo, max(lo, hi))

    @property
    def _day_numbers(self) -> np.ndarray:
        cached = getattr(self, "_dn", None)
        if cached is None or len(cached) != len(self.days) or cached[-1] != _num(self.days[-1]):
            cached = self._dn = np.array([_num(d) for d in self.days])
        return cached

    def series(self, i: int, rows: range, adjust_to: date | None) -> dict[str, np.ndarray]:
        """Rounded bars of security ``i`` on ``rows``: unadjusted when ``adjust_to`` is None, else split-adjusted
        as of ``adjust_to``. Keys: open, high, low, close, volume (float64), present (bool)."""
        sl = slice(rows.start, rows.stop)
        raw_factor = np.ones(len(rows), dtype=np.float64)
        for s in self.universe.splits_of.get(i, ()):
            raw_factor[self._day_numbers[sl] >= _num(s.day)] *= s.ratio
        to_factor = raw_factor if adjust_to is None else np.full(len(rows), self.symbol_factor(i, adjust_to))
        return _rounded(
            self.open[sl, i],
            self.high[sl, i],
            self.low[sl, i],
            self.close[sl, i],
            self.volume[sl, i],
            raw_factor,
            to_factor,
            adjusted=adjust_to is not None,
        ) | {"present": self.present[sl, i]}

    def bar(self, i: int, row: int, adjust_to: date | None) -> tuple[float, float, float, float, float]:
        """One rounded bar (open, high, low, close, volume) as ``series`` would give it, in plain Python
        (a single bar is cheaper without numpy)."""
        raw_factor = self.symbol_factor(i, self.days[row])
        values = [float(a[row, i]) / raw_factor for a in (self.open, self.high, self.low, self.close)]
        values = [round(x, 2) if x >= 1.0 else round(x, 4) for x in values]
        volume = round(float(self.volume[row, i]) * raw_factor)
        if adjust_to is not None:
            scale = raw_factor / self.symbol_factor(i, adjust_to)
            values = [round(x * scale, 4) for x in values]
            volume = round(volume / scale)
        return values[0], values[1], values[2], values[3], float(volume)

    def cross_section(self, row: int, adjust_to: date | None) -> dict[str, np.ndarray]:
        """Rounded bars of every security on session ``row`` (same keys as ``series``)."""
        raw_factor = self.split_factor(self.days[row])
        to_factor = raw_factor if adjust_to is None else self.split_factor(adjust_to)
        return _rounded(
            self.open[row],
            self.high[row],
            self.low[row],
            self.close[row],
            self.volume[row],
            raw_factor,
            to_factor,
            adjusted=adjust_to is not None,
        ) | {"present": self.present[row]}

    def intraday(self, i: int, row: int, frac: float) -> tuple[float, float, float]:
        """Economic (price, high so far, low so far) of security ``i`` at fraction ``frac`` (0..1) of session
        ``row``: a deterministic path from the open to the close, inside the day's low..high."""
        o, h, lo, c = (float(a[row, i]) for a in (self.open, self.high, self.low, self.close))
        phases = np.random.default_rng([self.seed, 4, i, row]).uniform(0, 2 * np.pi, 3)
        grid = np.linspace(0.0, 1.0, 79)
        grid = np.append(grid[grid < frac], frac)
        wiggle = sum(np.sin((k + 1) * np.pi * grid * 2 + phases[k]) / (k + 1) for k in range(3))
        path = o + (c - o) * grid + 0.5 * (h - lo) * np.sin(np.pi * grid) * wiggle / 1.8
        path = np.clip(path, lo, h)
        return float(path[-1]), float(path.max()), float(path.min())


def _rounded(o, h, lo, c, v, raw_factor, to_factor, adjusted: bool) -> dict[str, np.ndarray]:
    raw = np.vstack([o, h, lo, c]).astype(np.float64) / raw_factor  # cents above $1, else 4 decimals
    raw = np.where(raw >= 1.0, np.round(raw, 2), np.round(raw, 4))
    volume = np.round(np.asarray(v, dtype=np.float64) * raw_factor)
    if adjusted:
        scale = raw_factor / to_factor
        raw = np.round(raw * scale, 4)
        volume = np.round(volume / scale)
    return {"open": raw[0], "high": raw[1], "low": raw[2], "close": raw[3], "volume": volume}


def _num(d: date) -> int:
    return d.toordinal()


def _in_calendar(d: date) -> bool:
    try:
        marketcal.is_trading_day(d)
    except ValueError:
        return False
    return True


def _sessions(start: date, end: date) -> list[date]:
    """Sessions in [start, end], starting later when the calendar does not reach back to ``start``."""
    while start <= end:
        try:
            return marketcal.trading_days(start, end)
        except ValueError:
            start += timedelta(days=15)
    return []
