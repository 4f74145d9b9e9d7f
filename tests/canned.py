"""A local HTTP server that answers every request with what the test sets: the network double for answers
the sandbox never gives (malformed fields, values no column can hold). Real HTTP, real clients."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Canned(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave at once (else 40 ms of delayed ACK per answer)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        server: CannedServer = self.server  # type: ignore[assignment]
        server.requests += 1
        status, headers, body = server.answer
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class CannedServer(ThreadingHTTPServer):
    """``answer``: (status, headers, body bytes) for every GET; ``requests``: how many were answered."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Canned)
        self.answer: tuple[int, dict[str, str], bytes] = (200, {}, b"{}")
        self.requests = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def serve(self, body: str | bytes, status: int = 200, headers: dict[str, str] | None = None) -> None:
        data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        self.answer = (status, headers or {}, data)


@contextmanager
def canned_server() -> Iterator[CannedServer]:
    server = CannedServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
