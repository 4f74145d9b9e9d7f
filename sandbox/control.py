"""The control plane under ``/_sandbox``: health, stats, the request log, reset, universe, faults, clock.

Not part of any provider: no auth, no limits, never recorded in the stats.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from aiohttp import web

from sandbox.clock import ClockError, parse_instant
from sandbox.profiles import ProfileError
from sandbox.state import Sandbox

PREFIX = "/_sandbox"


def _json(obj, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(obj, default=str).encode(), content_type="application/json"
    )


def _error(message: str, status: int = 400) -> web.Response:
    return _json({"error": message}, status)


async def _body(request: web.Request) -> object:
    text = await request.text()
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"body is not valid JSON: {exc.msg}"}), content_type="application/json"
        ) from None


def add_routes(app: web.Application, sb: Sandbox) -> None:
    async def health(request: web.Request) -> web.Response:
        now = sb.clock.now()
        return _json({
            "status": "ok", "profile": sb.profile.name, "seed": sb.seed, "symbols": sb.config.symbols,
            "securities": len(sb.universe), "now": now.isoformat(), "epoch": now.timestamp(),
            "today": sb.today().isoformat(), "frozen": sb.clock.frozen, "pinned": sb.clock.pinned,
            "history": {"first": sb.market.days[0].isoformat(), "last": sb.market.days[-1].isoformat()},
        })  # fmt: skip

    async def stats(request: web.Request) -> web.Response:
        return _json(sb.stats.snapshot())

    async def requests(request: web.Request) -> web.Response:
        try:
            since = float(request.query["since"]) if "since" in request.query else None
            after = int(request.query["after_seq"]) if "after_seq" in request.query else None
            limit = int(request.query.get("limit", "10000"))
        except ValueError:
            return _error("since must be epoch seconds, after_seq and limit integers")
        return _json({"requests": sb.stats.requests(since, after, limit)})

    async def reset(request: web.Request) -> web.Response:
        sb.reset()
        return _json({"status": "reset", "now": sb.clock.now().isoformat()})

    async def universe(request: web.Request) -> web.Response:
        today = sb.today()
        key = ("universe", today)
        body = sb.cache.get(key)
        if body is None:
            splits: dict[int, list] = {}
            for s in sb.universe.splits:
                if s.day <= today:
                    splits.setdefault(s.symbol, []).append(
                        {"date": s.day.isoformat(), "numerator": s.numerator, "denominator": s.denominator}
                    )
            halts: dict[int, list] = {}
            for h in sb.universe.halts:
                if h.first <= today:
                    halts.setdefault(h.symbol, []).append(
                        {"first": h.first.isoformat(), "last": h.last.isoformat()}
                    )
            rows = [
                {
                    "symbol": s.symbol,
                    "name": s.name,
                    "exchange": s.exchange.name,
                    "mic": s.exchange.mic,
                    "type": s.kind,
                    "sector": s.sector,
                    "currency": "USD",
                    "figi": s.figi,
                    "listed": s.listed.isoformat(),
                    "delisted": s.delisted.isoformat() if s.delisted and s.delisted <= today else None,
                    "active": s.active_on(today),
                    "splits": splits.get(s.index, []),
                    "halts": halts.get(s.index, []),
                }  # fmt: skip
                for s in sb.universe.visible(today)
            ]
            body = sb.cache[key] = json.dumps({"today": today.isoformat(), "symbols": rows}).encode()
        return web.Response(body=body, content_type="application/json")

    async def faults(request: web.Request) -> web.Response:
        if request.method == "POST":
            try:
                sb.faults.update(await _body(request))
            except ProfileError as exc:
                return _error(str(exc))
        return _json(sb.faults.as_json())

    async def clock(request: web.Request) -> web.Response:
        if request.method == "POST":
            body = await _body(request)
            if not isinstance(body, dict) or set(body) - {"now", "advance_seconds", "frozen"}:
                return _error('clock: expected {"now": ISO 8601, "advance_seconds": number, "frozen": bool}')
            try:
                frozen = body.get("frozen")
                if frozen is not None and not isinstance(frozen, bool):
                    return _error("clock.frozen: expected true or false")
                if "now" in body:
                    sb.clock.set(parse_instant(str(body["now"])), frozen)
                elif frozen is not None:
                    sb.clock.freeze(frozen)
                if "advance_seconds" in body:
                    step = body["advance_seconds"]
                    if not isinstance(step, int | float) or isinstance(step, bool):
                        return _error("clock.advance_seconds: expected a number of seconds")
                    sb.clock.advance(float(step))
            except ClockError as exc:
                return _error(str(exc))
        now = sb.clock.now()
        return _json({"now": now.isoformat(), "epoch": now.timestamp(), "frozen": sb.clock.frozen,
                      "today": sb.today().isoformat()})  # fmt: skip

    async def profile(request: web.Request) -> web.Response:
        return _json(asdict(sb.profile))

    app.router.add_get(f"{PREFIX}/health", health)
    app.router.add_get(f"{PREFIX}/stats", stats)
    app.router.add_get(f"{PREFIX}/requests", requests)
    app.router.add_post(f"{PREFIX}/reset", reset)
    app.router.add_get(f"{PREFIX}/universe", universe)
    app.router.add_route("GET", f"{PREFIX}/faults", faults)
    app.router.add_route("POST", f"{PREFIX}/faults", faults)
    app.router.add_route("GET", f"{PREFIX}/clock", clock)
    app.router.add_route("POST", f"{PREFIX}/clock", clock)
    app.router.add_get(f"{PREFIX}/profile", profile)
