"""Yahoo's chart API under ``/yahoo/v8/finance/chart/{SYM}`` (``interval=1d`` only). No key; limits per IP.

Completed sessions with their open instant in ``[period1, period2]`` (epoch s; or ``range=1mo`` etc.).
``close`` and ``volume`` are split-adjusted as of today, as Yahoo's are; ``adjclose`` equals ``close``
(the synthetic market pays no dividends, so ``events.dividends`` is always empty). A halted session is a
timestamp with ``null`` values. Prices carry float32 noise (``150.52999877929688``) as Yahoo's do.
Unknown or delisted symbols: 404 ``No data found, symbol may be delisted``. Over the limit: 429 plain
text ``Too Many Requests`` (or ``Edge: Too Many Requests``: ``quirks.yahoo_edge_rate``), and on the free
profile a sticky per-IP block (``Limits.block_seconds``) during which every request gets the same 429.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
from aiohttp import web

import marketcal
from sandbox import bodies
from sandbox.gateway import Answer, Gateway, json_answer
from sandbox.limits import Decision
from sandbox.state import Sandbox
from sandbox.stats import THROTTLED

PREFIX = "/yahoo"
RANGES = {"1d": 1, "5d": 5, "1mo": 31, "3mo": 92, "6mo": 183, "1y": 366, "2y": 731, "5y": 1827, "10y": 3653}
DAY = 86_400


class YahooWire:
    name = "yahoo"

    def authenticate(self, request: web.Request, sb: Sandbox) -> tuple[str | None, str | None, Answer | None]:
        return request.remote or "unknown", None, None

    def throttled(self, decision: Decision, sb: Sandbox, key: str | None) -> Answer:
        text = (
            bodies.YAHOO_EDGE_LIMIT
            if sb.quirk("yahoo", sb.profile.quirks.yahoo_edge_rate)
            else bodies.YAHOO_LIMIT
        )
        return Answer(429, text.encode(), THROTTLED, "text/plain")


def _chart_error(status: int, code: str, description: str, outcome: str) -> Answer:
    return json_answer(
        {"chart": {"result": None, "error": {"code": code, "description": description}}}, status, outcome
    )


def _f32(values: np.ndarray) -> list:
    return np.asarray(values, dtype=np.float32).astype(np.float64).tolist()


def chart(request: web.Request, sb: Sandbox, now: float) -> Answer:
    q = request.query
    symbol = request.match_info["symbol"].upper().replace("-", ".")
    interval = q.get("interval", "1d")
    if interval != "1d":
        return _chart_error(400, "Bad Request", f"Invalid input - interval={interval} is not supported by the "
                            "sandbox. Valid intervals: [1d]", "bad_request")  # fmt: skip
    try:
        if "period1" in q or "period2" in q:
            period1 = int(q.get("period1", "0"))
            period2 = int(q.get("period2", str(int(now))))
        else:
            span = q.get("range", "1mo")
            if span not in RANGES and span not in ("ytd", "max"):
                raise ValueError(span)
            period2 = int(now)
            if span == "max":
                period1 = 0
            elif span == "ytd":
                period1 = int(datetime(sb.today(now).year, 1, 1, tzinfo=marketcal.EASTERN).timestamp())
            else:
                period1 = period2 - RANGES[span] * DAY
    except ValueError:
        return _chart_error(
            400, "Bad Request", "Invalid input - period1, period2 (epoch seconds) or range", "bad_request"
        )
    if period1 > period2:
        return _chart_error(400, "Bad Request", f"Invalid input - start date cannot be after end date. "
                            f"startDate = {period1}, endDate = {period2}", "bad_request")  # fmt: skip
    sec = sb.universe.get(symbol)
    today = sb.today(now)
    if sec is None or not sec.active_on(today):
        return _chart_error(
            404, bodies.YAHOO_NOT_FOUND["code"], bodies.YAHOO_NOT_FOUND["description"], "not_found"
        )
    m = sb.market
    last_done = m.last_row(m.close_ts, now)
    lo = int(np.searchsorted(m.open_ts, period1, side="left"))
    hi = min(int(np.searchsorted(m.open_ts, period2, side="right")), last_done + 1)
    rows = [k for k in range(lo, hi) if m.days[k] >= sec.listed]
    events = {e.strip() for e in q.get("events", "").split(",") if e.strip()}
    eastern = datetime.fromtimestamp(now, marketcal.EASTERN)
    offset = int(eastern.utcoffset().total_seconds())
    traded = m.present_rows(sec.index, last_done)
    before = traded[: np.searchsorted(traded, rows[0])] if rows else traded
    prev_row = int(before[-1]) if len(before) else None
    last_row = int(traded[-1]) if len(traded) else None
    first = (
        min(k for k in (prev_row, rows[0] if rows else None, last_row) if k is not None) if len(traded) else 0
    )
    b = m.series(sec.index, range(first, last_done + 1), today)
    meta = {
        "currency": "USD", "symbol": sec.symbol, "exchangeName": sec.exchange.yahoo,
        "fullExchangeName": sec.exchange.yahoo_full, "instrumentType": "ETF" if sec.kind == "ETF" else "EQUITY",
        "firstTradeDate": int(datetime.combine(sec.listed, datetime.min.time(), marketcal.EASTERN).timestamp()) + 34200,
        "regularMarketTime": int(m.close_ts[last_row]) if last_row is not None else None,
        "hasPrePostMarketData": True, "gmtoffset": offset, "timezone": eastern.tzname(),
        "exchangeTimezoneName": "America/New_York", "priceHint": 2, "dataGranularity": "1d", "range": q.get("range", ""),
    }  # fmt: skip
    if last_row is not None:
        meta["regularMarketPrice"] = _f32(b["close"][last_row - first : last_row - first + 1])[0]
    if prev_row is not None:
        meta["chartPreviousClose"] = _f32(b["close"][prev_row - first : prev_row - first + 1])[0]
    result: dict = {"meta": meta}
    if rows:
        off = np.array(rows) - first
        present = b["present"][off]
        cols = {}
        for name in ("open", "high", "low", "close"):
            values = _f32(b[name][off])
            cols[name] = [v if p else None for v, p in zip(values, present, strict=True)]
        cols["volume"] = [int(v) if p else None for v, p in zip(b["volume"][off], present, strict=True)]
        result["timestamp"] = [int(m.open_ts[k]) for k in rows]
        result["indicators"] = {"quote": [{c: cols[c] for c in ("open", "high", "low", "close", "volume")}]}
        if q.get("includeAdjustedClose", "true").lower() != "false":
            result["indicators"]["adjclose"] = [{"adjclose": list(cols["close"])}]
    else:
        result["indicators"] = {"quote": [{}], "adjclose": [{}]}
    if events & {"div", "split", "splits", "dividends"}:
        splits = {}
        first_day, last_day = (m.days[rows[0]], m.days[rows[-1]]) if rows else (None, None)
        for s in sb.universe.splits_of.get(sec.index, ()):
            if first_day and first_day <= s.day <= last_day and s.day in m.index:
                ts = int(m.open_ts[m.index[s.day]])
                splits[str(ts)] = {"date": ts, "numerator": float(s.numerator), "denominator": float(s.denominator),
                                   "splitRatio": f"{s.numerator}:{s.denominator}"}  # fmt: skip
        result["events"] = {"splits": splits, "dividends": {}}
    return json_answer({"chart": {"result": [result], "error": None}})


def not_found(request: web.Request, sb: Sandbox, now: float) -> Answer:
    body = {"finance": {"result": None, "error": {"code": "Not Found", "description": "HTTP 404 Not Found"}}}
    return json_answer(body, 404, "bad_request")


def add_routes(app: web.Application, gateway: Gateway) -> None:
    wire = YahooWire()
    app.router.add_get(f"{PREFIX}/v8/finance/chart/{{symbol}}", gateway.route(wire, "chart", chart))
    app.router.add_route("*", f"{PREFIX}/{{tail:.*}}", gateway.route(wire, "unknown", not_found))
