"""Alpha Vantage's wire format under ``/alphavantage/query?function=...``: always HTTP 200, meaning in the body.

Free functions: ``TIME_SERIES_DAILY`` (compact = the last 100 sessions, unadjusted, numbers as strings;
``outputsize=full`` is premium), ``GLOBAL_QUOTE`` (the last completed session), ``LISTING_STATUS`` (CSV).
Premium (``Information`` premium body): ``TIME_SERIES_DAILY_ADJUSTED``, ``REALTIME_BULK_QUOTES``.
Key: ``apikey=`` only; missing or invalid -> ``Error Message`` "the parameter apikey is invalid or missing".
Limits: the daily cap answers the ``Information`` daily body (the key echoed, as the real one does; or the
"Thank you" variant: ``quirks.av_daily_variant_rate``), the burst limit the ``Information`` burst body.
"""

from __future__ import annotations

import json
from datetime import date

from aiohttp import web

from sandbox import bodies
from sandbox.gateway import Answer, Gateway
from sandbox.limits import DAILY, Decision
from sandbox.state import Sandbox
from sandbox.stats import OK, THROTTLED
from sandbox.universe import Security

PREFIX = "/alphavantage"
COMPACT_ROWS = 100
PREMIUM = frozenset({"TIME_SERIES_DAILY_ADJUSTED", "REALTIME_BULK_QUOTES"})


class AlphaVantageWire:
    name = "alphavantage"

    def authenticate(self, request: web.Request, sb: Sandbox) -> tuple[str | None, str | None, Answer | None]:
        key = request.query.get("apikey", "")
        if not sb.key_valid(key):
            return None, None, _av({"Error Message": bodies.AV_BAD_KEY}, "auth")
        return sb.client_id(key), key, None

    def throttled(self, decision: Decision, sb: Sandbox, key: str | None) -> Answer:
        if decision.verdict == DAILY:
            if sb.quirk("alphavantage", sb.profile.quirks.av_daily_variant_rate):
                text = bodies.AV_DAILY_VARIANT
            else:
                text = bodies.AV_DAILY.format(key=key or "")
            return _av({"Information": text}, THROTTLED)
        return _av({"Information": bodies.AV_BURST}, THROTTLED)


def _av(obj: dict, outcome: str = OK) -> Answer:
    """Alpha Vantage answers everything with HTTP 200 and a pretty-printed JSON body."""
    return Answer(200, pretty(obj).encode(), outcome)


def endpoint(request: web.Request) -> str:
    return request.query.get("function", "").upper() or "missing"


def pretty(obj: dict, depth: int = 0) -> str:
    """``json.dumps(obj, indent=4)`` for nested dicts of strings, as Alpha Vantage prints its answers, without
    the pure-Python encoder that ``indent`` selects (several times slower)."""
    pad, inner = "    " * depth, "    " * (depth + 1)
    if not obj:
        return "{}"
    items = [
        f"{inner}{json.dumps(k)}: {pretty(v, depth + 1) if isinstance(v, dict) else json.dumps(v)}"
        for k, v in obj.items()
    ]
    return "{\n" + ",\n".join(items) + "\n" + pad + "}"


def _f(x: float) -> str:
    return f"{x:.4f}"


def _security(sb: Sandbox, request: web.Request, now: float) -> Security | None:
    symbol = request.query.get("symbol", "").strip().upper().replace("-", ".")
    sec = sb.universe.get(symbol)
    if sec is None or not sec.active_on(sb.today(now)):
        return None
    return sec


def _completed_rows(sb: Sandbox, sec: Security, now: float) -> list[int]:
    m = sb.market
    return m.present_rows(sec.index, m.last_row(m.close_ts, now)).tolist()


def query(request: web.Request, sb: Sandbox, now: float) -> Answer:
    function = endpoint(request)
    if function in PREMIUM:
        return _av({"Information": bodies.AV_PREMIUM}, outcome="not_entitled")
    handler = _FUNCTIONS.get(function)
    if handler is None:
        text = bodies.AV_UNKNOWN_FUNCTION.format(function=request.query.get("function", ""))
        return _av({"Error Message": text}, outcome="bad_request")
    return handler(request, sb, now)


def time_series_daily(request: web.Request, sb: Sandbox, now: float) -> Answer:
    size = request.query.get("outputsize", "compact").lower()
    if size == "full":
        return _av({"Information": bodies.AV_PREMIUM}, outcome="not_entitled")
    sec = _security(sb, request, now)
    rows = _completed_rows(sb, sec, now)[-COMPACT_ROWS:] if sec else []
    if not rows:
        return _av(
            {"Error Message": bodies.AV_INVALID_CALL.format(function="TIME_SERIES_DAILY")}, "not_found"
        )
    m = sb.market
    b = m.series(sec.index, range(rows[0], rows[-1] + 1), None)
    offsets = [k - rows[0] for k in reversed(rows)]
    if request.query.get("datatype", "json").lower() == "csv":
        lines = ["timestamp,open,high,low,close,volume"]
        for k, off in zip(reversed(rows), offsets, strict=True):
            lines.append(f"{m.days[k].isoformat()},{','.join(_f(b[c][off]) for c in ('open', 'high', 'low', 'close'))},"
                         f"{int(b['volume'][off])}")  # fmt: skip
        return Answer(200, ("\r\n".join(lines) + "\r\n").encode(), content_type="text/csv")
    series = {
        m.days[k].isoformat(): {
            "1. open": _f(b["open"][off]),
            "2. high": _f(b["high"][off]),
            "3. low": _f(b["low"][off]),
            "4. close": _f(b["close"][off]),
            "5. volume": str(int(b["volume"][off])),
        }  # fmt: skip
        for k, off in zip(reversed(rows), offsets, strict=True)
    }
    meta = {
        "1. Information": "Daily Prices (open, high, low, close) and Volumes", "2. Symbol": request.query["symbol"],
        "3. Last Refreshed": m.days[rows[-1]].isoformat(), "4. Output Size": "Compact", "5. Time Zone": "US/Eastern",
    }  # fmt: skip
    return Answer(200, pretty({"Meta Data": meta, "Time Series (Daily)": series}).encode())


def global_quote(request: web.Request, sb: Sandbox, now: float) -> Answer:
    sec = _security(sb, request, now)
    rows = _completed_rows(sb, sec, now)[-2:] if sec else []
    if not rows:
        return _av({"Global Quote": {}}, outcome="not_found")
    m = sb.market
    last = rows[-1]
    o, h, lo, c, v = m.bar(sec.index, last, None)
    pc = (
        m.bar(sec.index, rows[0], m.days[last])[3] if len(rows) == 2 else o
    )  # on the last session's share basis
    change = c - pc
    quote = {
        "01. symbol": sec.symbol, "02. open": _f(o), "03. high": _f(h),
        "04. low": _f(lo), "05. price": _f(c), "06. volume": str(int(v)),
        "07. latest trading day": m.days[last].isoformat(), "08. previous close": _f(pc), "09. change": _f(change),
        "10. change percent": f"{change / pc * 100:.4f}%",
    }  # fmt: skip
    return Answer(200, pretty({"Global Quote": quote}).encode())


def listing_status(request: web.Request, sb: Sandbox, now: float) -> Answer:
    state = request.query.get("state", "active").lower()
    today = sb.today(now)
    try:
        as_of = date.fromisoformat(request.query["date"]) if request.query.get("date") else today
    except ValueError:
        as_of = None
    if state not in ("active", "delisted") or as_of is None or as_of > today:
        text = bodies.AV_INVALID_CALL.format(function="LISTING_STATUS")
        return _av({"Error Message": text}, outcome="bad_request")
    key = ("av-listing", state, as_of)
    body = sb.cache.get(key)
    if body is None:
        lines = ["symbol,name,exchange,assetType,ipoDate,delistingDate,status"]
        for s in sb.universe.visible(as_of):
            active = s.active_on(as_of)
            if active != (state == "active"):
                continue
            delisting = s.delisted.isoformat() if s.delisted and not active else "null"
            kind = "ETF" if s.kind == "ETF" else "Stock"
            lines.append(f"{s.symbol},{s.name},{s.exchange.av},{kind},{s.listed.isoformat()},{delisting},"
                         f"{'Active' if active else 'Delisted'}")  # fmt: skip
        body = ("\r\n".join(lines) + "\r\n").encode()
        if as_of == today:  # other dates are rare: not worth memory
            sb.cache[key] = body
    return Answer(200, body, content_type="text/csv")


_FUNCTIONS = {
    "TIME_SERIES_DAILY": time_series_daily,
    "GLOBAL_QUOTE": global_quote,
    "LISTING_STATUS": listing_status,
}


def add_routes(app: web.Application, gateway: Gateway) -> None:
    wire = AlphaVantageWire()
    app.router.add_get(f"{PREFIX}/query", gateway.route(wire, endpoint, query))
