"""A whole small day through real workers (``make validate``'s pipeline check) while Redis MONITOR records
every command: the check passes, and no API key appears anywhere on the broker — not in task messages
(decoded), not in task events (what Flower shows), not in results. Tasks receive symbols and days."""

from __future__ import annotations

import base64
import codecs
import json
import re
import secrets
import socket
import threading
from urllib.parse import urlsplit

import pytest

from runtime.queues import QUEUE_NAMES
from stack.day import DAY_PHASES
from stack.validate_checks import check_pipeline

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
ARG = re.compile(rb'"((?:[^"\\]|\\.)*)"')
SECRET_NAMES = ("api_key", "apikey", "token", "password", "secret")


class Monitor(threading.Thread):
    """Every command the Redis server executes, as raw MONITOR lines (bytes), until ``stop()``."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=0.5)
        self.sock.sendall(b"MONITOR\r\n")
        self.lines: list[bytes] = []
        self._halt = threading.Event()
        self._buffer = b""
        while b"\r\n" not in self._buffer:
            self._buffer += self.sock.recv(4096)
        assert self._buffer.startswith(b"+OK")
        self._buffer = self._buffer.split(b"\r\n", 1)[1]

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                chunk = self.sock.recv(1 << 20)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            self._buffer += chunk
            *done, self._buffer = self._buffer.split(b"\r\n")
            self.lines.extend(done)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)
        self.sock.close()


def arguments(line: bytes) -> list[bytes]:
    """The unescaped arguments of one MONITOR line (``+ts [db addr] "CMD" "arg" ...``)."""
    return [codecs.escape_decode(raw)[0] for raw in ARG.findall(line)]


def decoded(argument: bytes) -> bytes:
    """A kombu envelope's body decoded (messages and events carry it base64-encoded); else the argument."""
    if not argument.startswith(b"{"):
        return argument
    try:
        envelope = json.loads(argument)
    except ValueError:
        return argument
    if isinstance(envelope, dict) and envelope.get("properties", {}).get("body_encoding") == "base64":
        return argument + base64.b64decode(envelope["body"])
    return argument


def test_the_recording_is_read_the_way_redis_writes_it():
    line = rb'+1764240000.123456 [0 127.0.0.1:5555] "LPUSH" "finnhub" "{\"body\": \"x\\\\y\"}" "a\x00b"'
    assert arguments(line) == [b"LPUSH", b"finnhub", b'{"body": "x\\\\y"}', b"a\x00b"]
    body = base64.b64encode(json.dumps([["AAPL"], {"day": "2026-11-20", "key": "CANARY1"}, {}]).encode())
    envelope = json.dumps({"body": body.decode(), "properties": {"body_encoding": "base64"}}).encode()
    assert b"CANARY1" in decoded(envelope) and b"CANARY1" not in envelope
    assert decoded(b"plain") == b"plain" and decoded(b"{not json") == b"{not json"


def test_a_small_day_passes_and_no_key_reaches_the_broker(redis_url, tmp_path):
    canary = f"CANARY{secrets.token_hex(8)}"
    monitor = Monitor(redis_url)
    monitor.start()
    try:
        result = check_pipeline(
            redis_url, universe=50, workdir=str(tmp_path), api_key=canary, say=lambda _: None
        )
    finally:
        monitor.stop()
    assert result.passed, result.lines()

    by_queue: dict[str, int] = {}
    tasks: set[str] = set()
    checked = 0
    for line in monitor.lines:
        args = arguments(line)
        for arg in args:
            text = decoded(arg)
            checked += 1
            assert canary.encode() not in text, f"the API key reached Redis: {line[:300]!r}"
            assert base64.b64encode(canary.encode())[:16] not in text
        if len(args) >= 3 and args[0].upper() == b"LPUSH" and args[1].decode() in QUEUE_NAMES:
            envelope = json.loads(args[2])
            task = envelope["headers"]["task"]
            by_queue[args[1].decode()] = by_queue.get(args[1].decode(), 0) + 1
            tasks.add(task)
            call_args, kwargs, _ = json.loads(base64.b64decode(envelope["body"]))
            assert not any(name in key.lower() for key in kwargs for name in SECRET_NAMES), (task, kwargs)
            for value in [*call_args, *kwargs.values()]:
                assert isinstance(value, str | int | float | bool | list | dict | type(None)), (task, value)
    # the recording saw the whole day's traffic: every phase's task, and the batches they fanned out
    assert {p.task for p in DAY_PHASES} <= tasks, sorted(tasks)
    assert by_queue.get("finnhub", 0) >= 40 and by_queue.get("polygon", 0) >= 100, by_queue
    assert by_queue.get("compute", 0) >= 3 and by_queue.get("control", 0) >= 3, by_queue
    assert checked > 10_000
