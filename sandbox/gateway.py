"""The path every provider request takes: authenticate, enforce limits, inject faults, answer, record.

Order and counting: a request with a missing or invalid key is answered at once and charged to no quota;
a refused (throttled) request is not counted; an admitted request counts even when a fault then answers
it. Each provider module supplies a ``Wire`` (its authentication and its throttle and error answers) and
handlers ``(request, sandbox, now) -> Answer``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from sandbox import bodies
from sandbox.faults import ERROR, GARBAGE, NOTE, TIMEOUT, TRICKLE
from sandbox.limits import Decision
from sandbox.state import Sandbox
from sandbox.stats import OK

JSON = "application/json"


@dataclass(slots=True)
class Answer:
    status: int
    body: bytes
    outcome: str = OK
    content_type: str = JSON
    headers: dict[str, str] | None = field(default=None)
    trickle: float = 0.0  # > 0: the body is sent this many bytes per second (the trickle fault)


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode  # one encoder: json.dumps builds one per call


def json_answer(obj: Any, status: int = 200, outcome: str = OK) -> Answer:
    return Answer(status, _ENCODE(obj).encode(), outcome)


class Wire(Protocol):
    name: str

    def authenticate(
        self, request: web.Request, sandbox: Sandbox
    ) -> tuple[str | None, str | None, Answer | None]:
        """(client id for limits, the key as given (for bodies that echo it), or an error answer)."""

    def throttled(self, decision: Decision, sandbox: Sandbox, key: str | None) -> Answer: ...


Handler = Callable[[web.Request, Sandbox, float], Answer]


class Gateway:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def route(self, wire: Wire, endpoint: str | Callable[[web.Request], str], handler: Handler):
        """An aiohttp handler serving ``handler`` behind ``wire``'s auth, the limits and the faults."""

        async def serve(request: web.Request) -> web.StreamResponse:
            name = endpoint(request) if callable(endpoint) else endpoint
            return await self._serve(request, wire, name, handler)

        return serve

    async def _serve(
        self, request: web.Request, wire: Wire, endpoint: str, handler: Handler
    ) -> web.StreamResponse:
        sb = self.sandbox
        now = sb.clock.time()
        client, key, answer = wire.authenticate(request, sb)
        if answer is None:
            decision = sb.limiters[wire.name].admit(client or "", now)
            if not decision.admitted:
                answer = wire.throttled(decision, sb, key)
            else:
                answer = await self._answer(request, wire, handler, now)
        sb.stats.record(wire.name, endpoint, answer.status, answer.outcome, now)
        if answer.trickle:
            return await _trickle(request, answer)
        return web.Response(status=answer.status, body=answer.body, content_type=answer.content_type,
                            headers=answer.headers)  # fmt: skip

    async def _answer(self, request: web.Request, wire: Wire, handler: Handler, now: float) -> Answer:
        sb = self.sandbox
        delay, fault = sb.faults.draw(wire.name)
        if delay > 0:
            await asyncio.sleep(delay)
        if fault == ERROR:
            status, reason = bodies.SERVER_ERRORS[sb.faults.pick(wire.name, len(bodies.SERVER_ERRORS))]
            return Answer(status, bodies.server_error_html(status, reason), ERROR, "text/html")
        if fault == TIMEOUT:
            await _hang(request, sb.faults.effective(wire.name).timeout_seconds)
            return Answer(504, bodies.server_error_html(504, "Gateway Timeout"), TIMEOUT, "text/html")
        if fault == NOTE:
            return json_answer({"Note": bodies.AV_NOTE}, outcome=NOTE)
        sb.sync(now)
        answer = handler(request, sb, now)
        if fault == GARBAGE:
            return _garble(answer, sb.faults.pick(wire.name, 3))
        if fault == TRICKLE:
            rate = sb.faults.effective(wire.name).trickle_bytes_per_second
            return Answer(answer.status, answer.body, TRICKLE, answer.content_type, answer.headers, rate)
        return answer


async def _hang(request: web.Request, seconds: float) -> None:
    """Sleep ``seconds`` or until the client has gone, whichever comes first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        await asyncio.sleep(min(0.25, max(0.0, deadline - loop.time())))


async def _trickle(request: web.Request, answer: Answer) -> web.StreamResponse:
    """Send the status and headers (with the true Content-Length) at once, then the body a few bytes at a
    time at ``answer.trickle`` bytes per second, until it is all sent or the client has gone."""
    response = web.StreamResponse(status=answer.status, headers=answer.headers)
    response.content_type = answer.content_type
    response.content_length = len(answer.body)
    await response.prepare(request)
    step = max(1, int(answer.trickle))  # bytes per write; one write a second at most once the rate is >= 1
    pause = step / answer.trickle
    for start in range(0, len(answer.body), step):
        transport = request.transport
        if transport is None or transport.is_closing():
            return response
        try:
            await response.write(answer.body[start : start + step])
        except (ConnectionError, RuntimeError):  # the client closed the connection mid-body
            return response
        await asyncio.sleep(pause)
    await response.write_eof()
    return response


def _garble(answer: Answer, variant: int) -> Answer:
    """A 200 whose body cannot be parsed: truncated, cut to nothing, or an HTML page in its place."""
    if variant == 0 and len(answer.body) > 2:
        body = answer.body[: max(1, len(answer.body) // 2)]
    elif variant == 1:
        body = b""
    else:
        body = b"<html><body>Service temporarily unavailable. Please try again.</body>"
    return Answer(200, body, GARBAGE, answer.content_type)
