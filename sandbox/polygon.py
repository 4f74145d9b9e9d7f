"""Polygon/Massive's wire format under ``/polygon``: grouped daily, ticker ranges (paginated), previous day,
and the ticker reference list (paginated).

Auth: ``apiKey=`` query or ``Authorization: Bearer``; missing or unknown -> 401 ``Unknown API Key`` (under
``error``, or ``message`` for a share of answers: ``quirks.polygon_401_message_rate``). Over a limit: 429
with the documented ``error`` text, or an empty body (``quirks.polygon_empty_429_rate``).
Plan rules (``Profile.polygon``): data for a session is available from the profile's availability time;
earlier requests for it answer 403 "Attempted to request today's data before end of day" (free) or hold
no bars (demo); dates older than ``history_years`` answer the 403 timeframe body. Grouped and previous-day
bars are stamped 16:00 ET, range bars 00:00 ET (epoch ms). ``adjusted`` defaults to true (splits only).
"""

from __future__ import annotations

import base64
import json
from collections import OrderedDict
from datetime import date, datetime, time
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

import numpy as np
from aiohttp import web

import marketcal
from sandbox import bodies
from sandbox.gateway import Answer, Gateway, json_answer
from sandbox.limits import Decision
from sandbox.market import Market
from sandbox.state import Sandbox
from sandbox.stats import THROTTLED

PREFIX = "/polygon"
MAX_RANGE_LIMIT = 50_000
MAX_TICKERS_LIMIT = 1000
GROUPED_CACHE = 16  # grouped-daily bodies kept (about 0.7 MB each at 6,500 symbols)


class PolygonWire:
    name = "polygon"

    def authenticate(self, request: web.Request, sb: Sandbox) -> tuple[str | None, str | None, Answer | None]:
        key = request.query.get("apiKey", "")
        auth = request.headers.get("Authorization", "")
        if not key and auth[:7].lower() == "bearer ":
            key = auth[7:].strip()
        if not sb.key_valid(key):
            field = "message" if sb.quirk("polygon", sb.profile.quirks.polygon_401_message_rate) else "error"
            return (
                None,
                None,
                json_answer(
                    {"status": "ERROR", "request_id": sb.request_id(), field: bodies.POLYGON_UNKNOWN_KEY},
                    401,
                    "auth",
                ),
            )
        return sb.client_id(key), key, None

    def throttled(self, decision: Decision, sb: Sandbox, key: str | None) -> Answer:
        if sb.quirk("polygon", sb.profile.quirks.polygon_empty_429_rate):
            return Answer(429, b"", THROTTLED)
        return json_answer(
            {"status": "ERROR", "request_id": sb.request_id(), "error": bodies.POLYGON_LIMIT}, 429, THROTTLED
        )


def _error(sb: Sandbox, status: int, text: str, outcome: str = "bad_request") -> Answer:
    return json_answer({"status": "ERROR", "request_id": sb.request_id(), "error": text}, status, outcome)


def _forbidden(sb: Sandbox, text: str) -> Answer:
    return json_answer(
        {"status": "NOT_AUTHORIZED", "request_id": sb.request_id(), "message": text}, 403, "not_entitled"
    )


def _bool(value: str | None, default: bool = True) -> bool | None:
    if value is None or value == "":
        return default
    return {"true": True, "false": False}.get(value.lower())


def _available_at(sb: Sandbox, m: Market) -> np.ndarray:
    """Per session of ``m``: the epoch second from which the plan serves its data."""
    key = ("polygon-available", m.generation)
    out = sb.cache.get(key)
    if out is None:
        rule = sb.profile.polygon
        if rule.available == "close":
            out = m.close_ts + rule.delay_minutes * 60
        else:
            out = np.array([_next_day(d, rule.at, rule.zone) for d in m.days])
        sb.cache[key] = out
    return out


def _next_day(d: date, at: str, zone: str) -> float:
    hh, mm = (int(x) for x in at.split(":"))
    return datetime.combine(date.fromordinal(d.toordinal() + 1), time(hh, mm), ZoneInfo(zone)).timestamp()


def _not_yet(sb: Sandbox, d: date, now: float) -> bool:
    """True when the plan does not serve ``d`` at ``now`` yet (today before its end, or the future)."""
    m = sb.market
    row = m.index.get(d)
    if row is not None:
        return bool(_available_at(sb, m)[row] > now)
    rule = sb.profile.polygon
    return _next_day(d, rule.at if rule.available == "next_day" else "00:00", rule.zone) > now


def _too_old(sb: Sandbox, d: date, now: float) -> bool:
    years = sb.profile.polygon.history_years
    if years is None:
        return False
    today = sb.today(now)
    try:
        boundary = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        boundary = today.replace(year=today.year - years, day=28)
    return d < boundary


def _plan_check(sb: Sandbox, first: date, last: date, now: float) -> Answer | None:
    if _too_old(sb, first, now):
        return _forbidden(sb, bodies.POLYGON_TIMEFRAME)
    if sb.profile.polygon.enforce_today and _not_yet(sb, last, now):
        return _forbidden(sb, bodies.POLYGON_TODAY)
    return None


def _bar_dicts(m: Market, i: int | None, rows: list[int], adjust_to: date | None, stamps: np.ndarray,
               ticker_key: bool, symbols: list[str] | None = None) -> list[dict]:  # fmt: skip
    """Polygon bar objects for security ``i`` over ``rows`` (or, with ``i`` None, every present security on
    the single row ``rows[0]``)."""
    if i is None:
        row = rows[0]
        b = m.cross_section(row, adjust_to)
        idx = np.nonzero(b["present"])[0]
        econ_volume = m.volume[row, idx]
        trade_size = m.trade_size[idx]
        t = [int(stamps[row])] * len(idx)
    else:
        if not rows:
            return []
        b = m.series(i, range(rows[0], rows[-1] + 1), adjust_to)
        offsets = np.array(rows) - rows[0]
        idx = offsets
        econ_volume = m.volume[rows, i]
        trade_size = np.full(len(rows), m.trade_size[i])
        t = stamps[rows].tolist()
    o, h, lo, c, v = (b[k][idx] for k in ("open", "high", "low", "close", "volume"))
    vw = np.round((o + h + lo + 2 * c) / 5, 4)
    n = np.maximum(1, np.round(econ_volume / trade_size)).astype(np.int64)
    cols = [x.tolist() for x in (v, vw, o, c, h, lo)] + [t, n.tolist()]
    if ticker_key:
        tickers = [symbols[k] for k in idx] if i is None else [m.universe.securities[i].symbol] * len(rows)
        return [{"T": s, "v": int(vv), "vw": a, "o": oo, "c": cc, "h": hh, "l": ll, "t": tt, "n": nn}
                for s, vv, a, oo, cc, hh, ll, tt, nn in zip(tickers, *cols, strict=True)]  # fmt: skip
    return [{"v": int(vv), "vw": a, "o": oo, "c": cc, "h": hh, "l": ll, "t": tt, "n": nn}
            for vv, a, oo, cc, hh, ll, tt, nn in zip(*cols, strict=True)]  # fmt: skip


def grouped(request: web.Request, sb: Sandbox, now: float) -> Answer:
    try:
        d = date.fromisoformat(request.match_info["date"])
    except ValueError:
        return _error(sb, 400, "Could not parse the date parameter. Use YYYY-MM-DD.")
    adjusted = _bool(request.query.get("adjusted"))
    if adjusted is None:
        return _error(sb, 400, "adjusted must be true or false")
    refused = _plan_check(sb, d, d, now)
    if refused:
        return refused
    m = sb.market
    row = m.index.get(d)
    if row is None or _not_yet(sb, d, now):
        # docs/providers.md: exactly this body (no request_id, no results) for weekends and holidays
        return json_answer({"status": "OK", "queryCount": 0, "resultsCount": 0, "adjusted": adjusted})
    adjust_to = sb.today(now) if adjusted else None
    lru: OrderedDict = sb.cache.setdefault("polygon-grouped", OrderedDict())
    key = (row, adjust_to)
    cached = lru.get(key)
    if cached is None:
        symbols = [s.symbol for s in sb.universe.securities]
        results = _bar_dicts(m, None, [row], adjust_to, m.eod_ms, True, symbols)
        cached = lru[key] = (len(results), json.dumps(results, separators=(",", ":")).encode())
        while len(lru) > GROUPED_CACHE:  # a backfill walks hundreds of days: keep memory bounded
            lru.popitem(last=False)
    else:
        lru.move_to_end(key)
    count, results_json = cached
    head = (f'{{"adjusted":{"true" if adjusted else "false"},"queryCount":{count},"resultsCount":{count},'
            f'"status":"OK","request_id":"{sb.request_id()}","results":')  # fmt: skip
    return Answer(200, head.encode() + results_json + b"}")


def _bound(text: str, is_end: bool) -> tuple[int, date] | None:
    """A range bound as (epoch ms, New York date): ``YYYY-MM-DD`` (00:00 ET) or a Unix ms timestamp."""
    if text.isdigit():
        ms = int(text)
        return ms, datetime.fromtimestamp(ms / 1000, marketcal.EASTERN).date()
    try:
        d = date.fromisoformat(text)
    except ValueError:
        return None
    return int(datetime.combine(d, time(0), marketcal.EASTERN).timestamp()) * 1000, d


def _cursor(params: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(urlencode(params).encode()).decode().rstrip("=")


def _uncursor(cursor: str) -> dict[str, str] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return dict(parse_qsl(raw))


def _params(request: web.Request) -> dict[str, str] | None:
    params = dict(request.query)
    params.pop("apiKey", None)
    if "cursor" in params:
        decoded = _uncursor(params.pop("cursor"))
        if decoded is None:
            return None
        params.update(decoded)
    return params


def ticker_range(request: web.Request, sb: Sandbox, now: float) -> Answer:
    info = request.match_info
    ticker = info["ticker"]
    if info["multiplier"] != "1" or info["timespan"] != "day":
        return _error(sb, 400, "The sandbox serves only range/1/day aggregates.")
    params = _params(request)
    if params is None:
        return _error(sb, 400, "Invalid cursor.")
    start, end = _bound(info["from"], False), _bound(info["to"], True)
    if start is None or end is None:
        return _error(
            sb, 400, "Could not parse the time parameter: 'from'/'to'. Use YYYY-MM-DD or Unix MS Timestamps."
        )
    adjusted = _bool(params.get("adjusted"))
    sort = params.get("sort", "asc").lower()
    try:
        limit = int(params.get("limit", "5000"))
    except ValueError:
        limit = -1
    if adjusted is None or sort not in ("asc", "desc") or not 1 <= limit <= MAX_RANGE_LIMIT:
        return _error(
            sb, 400, f"adjusted must be true or false, sort asc or desc, limit 1..{MAX_RANGE_LIMIT}."
        )
    refused = _plan_check(sb, start[1], end[1], now)
    if refused:
        return refused
    m = sb.market
    sec = sb.universe.get(ticker)
    envelope = {"ticker": ticker, "queryCount": 0, "resultsCount": 0, "adjusted": adjusted}
    if sec is None:
        return json_answer(
            envelope | {"status": "OK", "request_id": sb.request_id(), "count": 0}, outcome="not_found"
        )
    lo = int(np.searchsorted(m.midnight_ms, start[0], side="left"))
    hi = int(np.searchsorted(m.midnight_ms, end[0], side="right"))
    available = _available_at(sb, m)
    rows = (np.flatnonzero(m.present[lo:hi, sec.index] & (available[lo:hi] <= now)) + lo).tolist()
    if sort == "desc":
        rows.reverse()
    page = rows[:limit]
    results = _bar_dicts(
        m, sec.index, sorted(page), sb.today(now) if adjusted else None, m.midnight_ms, False
    )
    if sort == "desc":
        results.reverse()
    body = envelope | {"queryCount": len(rows), "resultsCount": len(page)}
    if page:
        body["results"] = results
    body |= {"status": "OK", "request_id": sb.request_id(), "count": len(page)}
    if len(rows) > limit:
        nxt = int(m.midnight_ms[rows[limit]])
        first, last = (nxt, info["to"]) if sort == "asc" else (info["from"], nxt)
        cursor = _cursor({"adjusted": str(adjusted).lower(), "limit": str(limit), "sort": sort})
        origin = str(request.url.origin())
        body["next_url"] = (
            f"{origin}{PREFIX}/v2/aggs/ticker/{ticker}/range/1/day/{first}/{last}?cursor={cursor}"
        )
    return json_answer(body)


def previous(request: web.Request, sb: Sandbox, now: float) -> Answer:
    ticker = request.match_info["ticker"]
    adjusted = _bool(request.query.get("adjusted"))
    if adjusted is None:
        return _error(sb, 400, "adjusted must be true or false")
    m = sb.market
    sec = sb.universe.get(ticker)
    row = m.last_row(_available_at(sb, m), now)
    if sec is not None:
        while row >= 0 and not m.present[row, sec.index]:
            row -= 1
    envelope = {"ticker": ticker, "queryCount": 0, "resultsCount": 0, "adjusted": adjusted}
    if sec is None or row < 0 or not sec.active_on(sb.today(now)):
        return json_answer(
            envelope | {"status": "OK", "request_id": sb.request_id(), "count": 0}, outcome="not_found"
        )
    o, h, lo, c, v = m.bar(sec.index, row, sb.today(now) if adjusted else None)
    vw = round((o + h + lo + 2 * c) / 5, 4)
    n = max(1, round(float(m.volume[row, sec.index]) / m.trade_size[sec.index]))
    bar = {
        "T": ticker,
        "v": int(v),
        "vw": vw,
        "o": o,
        "c": c,
        "h": h,
        "l": lo,
        "t": int(m.eod_ms[row]),
        "n": n,
    }
    body = envelope | {"queryCount": 1, "resultsCount": 1, "results": [bar]}
    return json_answer(body | {"status": "OK", "request_id": sb.request_id(), "count": 1})


def tickers(request: web.Request, sb: Sandbox, now: float) -> Answer:
    params = _params(request)
    if params is None:
        return _error(sb, 400, "Invalid cursor.")
    active = _bool(params.get("active"))
    order = params.get("order", "asc").lower()
    try:
        limit = int(params.get("limit", "100"))
    except ValueError:
        limit = -1
    if active is None or order not in ("asc", "desc") or not 1 <= limit <= MAX_TICKERS_LIMIT:
        return _error(
            sb, 400, f"active must be true or false, order asc or desc, limit 1..{MAX_TICKERS_LIMIT}."
        )
    today = sb.today(now)
    market = params.get("market", "stocks")
    kinds = {"CS": "Common Stock", "ETF": "ETF"}
    secs = (
        [s for s in sb.universe.visible(today) if s.active_on(today) == active] if market == "stocks" else []
    )
    if "ticker" in params:
        secs = [s for s in secs if s.symbol == params["ticker"]]
    if "type" in params:
        secs = [s for s in secs if s.kind == kinds.get(params["type"])]
    if "exchange" in params:
        secs = [s for s in secs if s.exchange.mic == params["exchange"]]
    if order == "desc":
        secs.reverse()
    after = params.get("ticker.gt") if order == "asc" else params.get("ticker.lt")
    if after:
        secs = [s for s in secs if (s.symbol > after if order == "asc" else s.symbol < after)]
    page = secs[:limit]
    stamp = f"{today.isoformat()}T00:00:00Z"
    results = []
    for s in page:
        row = {
            "ticker": s.symbol, "name": s.name, "market": "stocks", "locale": "us",
            "primary_exchange": s.exchange.mic, "type": "ETF" if s.kind == "ETF" else "CS", "active": active,
            "currency_name": "usd", "cik": s.cik, "composite_figi": s.figi, "share_class_figi": s.share_class_figi,
            "last_updated_utc": stamp,
        }  # fmt: skip
        if s.delisted and not active:
            row["delisted_utc"] = f"{s.delisted.isoformat()}T00:00:00Z"
        results.append(row)
    body: dict = {"results": results, "status": "OK", "request_id": sb.request_id(), "count": len(results)}
    if len(secs) > limit:
        nxt = {k: v for k, v in params.items() if k not in ("ticker.gt", "ticker.lt")}
        nxt |= {
            "active": str(active).lower(),
            "limit": str(limit),
            "market": market,
            "order": order,
            "sort": "ticker",
        }
        nxt["ticker.gt" if order == "asc" else "ticker.lt"] = page[-1].symbol
        body["next_url"] = f"{request.url.origin()}{PREFIX}/v3/reference/tickers?cursor={_cursor(nxt)}"
    return json_answer(body)


def snapshot(request: web.Request, sb: Sandbox, now: float) -> Answer:
    """Snapshots are not on the free plan (and the sandbox serves none on any plan)."""
    return _forbidden(sb, bodies.POLYGON_NOT_ENTITLED)


def not_found(request: web.Request, sb: Sandbox, now: float) -> Answer:
    return json_answer({"status": "NOT_FOUND", "request_id": sb.request_id(), "message": "Data not found."}, 404,
                       "bad_request")  # fmt: skip


def add_routes(app: web.Application, gateway: Gateway) -> None:
    wire = PolygonWire()
    r = app.router
    r.add_get(
        f"{PREFIX}/v2/aggs/grouped/locale/us/market/stocks/{{date}}", gateway.route(wire, "grouped", grouped)
    )
    r.add_get(
        f"{PREFIX}/v2/aggs/ticker/{{ticker}}/range/{{multiplier}}/{{timespan}}/{{from}}/{{to}}",
        gateway.route(wire, "range", ticker_range),
    )
    r.add_get(f"{PREFIX}/v2/aggs/ticker/{{ticker}}/prev", gateway.route(wire, "prev", previous))
    r.add_get(f"{PREFIX}/v3/reference/tickers", gateway.route(wire, "tickers", tickers))
    r.add_get(f"{PREFIX}/v2/snapshot/{{tail:.*}}", gateway.route(wire, "snapshot", snapshot))
    r.add_route("*", f"{PREFIX}/{{tail:.*}}", gateway.route(wire, "unknown", not_found))
