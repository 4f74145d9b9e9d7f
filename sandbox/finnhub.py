"""Finnhub's wire format under ``/finnhub/api/v1``: ``/quote``, ``/stock/symbol``, ``/stock/candle`` (403).

Auth: ``token=`` query or ``X-Finnhub-Token`` header; missing or empty answers 429 with the sign-up text.
Over a limit: 429 ``{"error": "API limit reached. Please try again later. Remaining Limit: 0"}``.
Quotes are unadjusted prices of the current session: during market hours a deterministic intraday path
(``t`` = the quote time), after the close the day's bar (``t`` = the close), before the open the last
session's; ``pc`` is the previous session's close on the current share basis (split-adjusted).
"""

from __future__ import annotations

import json

from aiohttp import web

from sandbox import bodies
from sandbox.gateway import Answer, Gateway, json_answer
from sandbox.limits import Decision
from sandbox.state import Sandbox
from sandbox.stats import THROTTLED

PREFIX = "/finnhub/api/v1"


class FinnhubWire:
    name = "finnhub"

    def authenticate(self, request: web.Request, sb: Sandbox) -> tuple[str | None, str | None, Answer | None]:
        key = request.query.get("token") or request.headers.get("X-Finnhub-Token") or ""
        if not key.strip():
            return None, None, json_answer({"error": bodies.FINNHUB_SIGN_UP}, 429, "auth")
        if not sb.key_valid(key):
            return None, None, json_answer({"error": bodies.FINNHUB_INVALID_KEY}, 401, "auth")
        return sb.client_id(key), key, None

    def throttled(self, decision: Decision, sb: Sandbox, key: str | None) -> Answer:
        return json_answer({"error": bodies.FINNHUB_LIMIT}, 429, THROTTLED)


def _price(x: float) -> float:
    return round(x, 2) if x >= 1.0 else round(x, 4)


def quote(request: web.Request, sb: Sandbox, now: float) -> Answer:
    unknown = json_answer(bodies.FINNHUB_UNKNOWN_QUOTE, outcome="not_found")
    sec = sb.universe.get(request.query.get("symbol", ""))
    m = sb.market
    row = m.last_row(m.open_ts, now)  # the current (or last) session that has opened
    if sec is None or row < 0 or not sec.active_on(m.days[row]):
        return unknown
    i = sec.index
    while row >= 0 and not m.present[row, i]:  # halted: the last session it traded
        row -= 1
    if row < 0:
        return unknown
    prev = row - 1
    while prev >= 0 and not m.present[prev, i]:
        prev -= 1
    factor = m.symbol_factor(i, m.days[row])
    if now < m.close_list[row]:
        frac = (now - m.open_list[row]) / (m.close_list[row] - m.open_list[row])
        c, h, lo = m.intraday(i, row, frac)
        t = int(now)
    else:
        c, h, lo = float(m.close[row, i]), float(m.high[row, i]), float(m.low[row, i])
        t = int(m.close_list[row])
    c, h, lo, o = (_price(x / factor) for x in (c, h, lo, float(m.open[row, i])))
    pc = _price(float(m.close[prev, i]) / factor) if prev >= 0 else o
    d = round(c - pc, 4)
    dp = round(d / pc * 100, 4) if pc else None
    return json_answer({"c": c, "d": d, "dp": dp, "h": h, "l": lo, "o": o, "pc": pc, "t": t})


def stock_symbols(request: web.Request, sb: Sandbox, now: float) -> Answer:
    if request.query.get("exchange", "").upper() != "US":
        return Answer(200, b"[]")
    today = sb.today(now)
    key = ("finnhub-symbols", today)
    body = sb.cache.get(key)
    if body is None:
        rows = [
            {
                "currency": "USD",
                "description": s.name.upper(),
                "displaySymbol": s.symbol,
                "figi": s.figi,
                "isin": None,
                "mic": s.exchange.mic,
                "shareClassFIGI": s.share_class_figi,
                "symbol": s.symbol,
                "symbol2": "",
                "type": "ETP" if s.kind == "ETF" else "Common Stock",
            }  # fmt: skip
            for s in sb.universe.securities
            if s.active_on(today)
        ]
        body = sb.cache[key] = json.dumps(rows, separators=(",", ":")).encode()
    return Answer(200, body)


def candle(request: web.Request, sb: Sandbox, now: float) -> Answer:
    return json_answer({"error": bodies.FINNHUB_NO_ACCESS}, 403, "not_entitled")


def not_found(request: web.Request, sb: Sandbox, now: float) -> Answer:
    return Answer(404, b"404 page not found", "bad_request", "text/plain")


def add_routes(app: web.Application, gateway: Gateway) -> None:
    wire = FinnhubWire()
    app.router.add_get(f"{PREFIX}/quote", gateway.route(wire, "quote", quote))
    app.router.add_get(f"{PREFIX}/stock/symbol", gateway.route(wire, "stock/symbol", stock_symbols))
    app.router.add_get(f"{PREFIX}/stock/candle", gateway.route(wire, "stock/candle", candle))
    app.router.add_route("*", "/finnhub/{tail:.*}", gateway.route(wire, "unknown", not_found))
