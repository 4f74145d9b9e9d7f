"""The HTTP call's total deadline: a read timeout bounds each wait for bytes, not the call, so an answer
trickling a byte a second would hold a worker for ever. The body is streamed and every wait for bytes is cut
to what is left of the deadline (``ProviderConfig.deadline``); the wait for the first byte is at most the
deadline too (only a slow connect, at most the connect timeout, can add to the call). A connection cut at
the deadline is closed, never returned to the pool half-read.
"""

from __future__ import annotations

import time

import requests
from urllib3 import exceptions as urllib3_errors

from providers.config import ProviderConfig


class DeadlineExceeded(Exception):
    """The call's total deadline (``ProviderConfig.deadline``) passed before the whole answer arrived."""


# Bytes asked of the socket at a time: one wait for bytes returns whatever arrived (read1), up to this.
_CHUNK = 256 * 1024
# A wait cut short this close to the deadline is the deadline's doing, not the read timeout's.
SLACK = 0.05


def first_byte_timeouts(config: ProviderConfig) -> tuple[float, float]:
    """``(connect, read)`` for the send: the wait for the answer's first byte is at most the deadline (a
    slow connect may add its own timeout to the call; once the body streams, the deadline is exact)."""
    connect, read = config.timeout
    return connect, min(read, config.deadline)


def read_within(response: requests.Response, deadline: float) -> bytes:
    """The whole (decoded) body of a streamed ``response``, or ``DeadlineExceeded`` once the monotonic
    instant ``deadline`` passes; the connection is then closed, never reused half-read. Each wait for bytes
    is at most the read timeout and at most what is left of the deadline. urllib3's errors become the
    requests exceptions ``response.content`` would raise."""
    raw, body = response.raw, bytearray()
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DeadlineExceeded
            _wait_at_most(raw, left)
            chunk = raw.read1(_CHUNK)
            if not chunk:
                return bytes(body)
            body += chunk
    except urllib3_errors.ReadTimeoutError as exc:
        response.close()
        if time.monotonic() >= deadline - SLACK:
            raise DeadlineExceeded from None
        raise requests.exceptions.ReadTimeout(exc) from None
    except DeadlineExceeded:
        response.close()
        raise
    except urllib3_errors.ProtocolError as exc:
        response.close()
        raise requests.exceptions.ChunkedEncodingError(exc) from None
    except urllib3_errors.DecodeError as exc:
        response.close()
        raise requests.exceptions.ContentDecodingError(exc) from None
    except (urllib3_errors.HTTPError, OSError) as exc:
        response.close()
        raise requests.exceptions.ConnectionError(exc) from None


def _wait_at_most(raw, seconds: float) -> None:
    """Cut the socket's wait for the next bytes to ``seconds`` when that is shorter than its read timeout
    (the socket of a connection urllib3 still holds; none when the body is already buffered)."""
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if sock is not None:
        current = sock.gettimeout()
        if current is None or seconds < current:
            sock.settimeout(seconds)
