"""``SandboxProcess``: a sandbox server in a subprocess on a free port, for tests, benches and the demo.

    with SandboxProcess(profile="free", symbols=300, now="2026-11-25T22:00:00Z") as sb:
        sb.base_urls["finnhub"]      # http://127.0.0.1:PORT/finnhub/api/v1
        sb.set_faults("polygon", error_rate=0.5)
        sb.stats()["providers"]["polygon"]["throttled"]

Only the standard library is used to talk to the server. Times are seconds.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from sandbox.app import base_urls as _base_urls

_ROOT = Path(__file__).resolve().parent.parent


class SandboxError(RuntimeError):
    """The sandbox could not be started or did not answer a control request."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SandboxProcess:
    """A ``python -m sandbox`` subprocess. ``now``: an ISO 8601 string or aware datetime pinning the clock's
    start (``frozen=True`` stops it there); ``extra_args``: more command-line arguments (e.g. ``--keys``)."""

    def __init__(
        self,
        profile: str = "free",
        symbols: int = 300,
        seed: int = 42,
        now: str | datetime | None = None,
        extra_args: tuple[str, ...] | list[str] = (),
        *,
        frozen: bool = False,
        profile_file: str | Path | None = None,
        startup_timeout: float = 90.0,
        python: str | None = None,
    ) -> None:
        self.profile = profile
        self.symbols = symbols
        self.seed = seed
        self.now = now.isoformat() if isinstance(now, datetime) else now
        self.extra_args = tuple(extra_args)
        self.frozen = frozen
        self.profile_file = str(profile_file) if profile_file else None
        self.startup_timeout = startup_timeout
        self.python = python or sys.executable
        self.port: int | None = None
        self._proc: subprocess.Popen | None = None
        self._log = None

    # -- lifecycle ------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self.port is None:
            raise SandboxError("the sandbox is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_urls(self) -> dict[str, str]:
        """Provider -> base URL, keys ``finnhub``, ``polygon``, ``alphavantage``, ``yahoo``."""
        return _base_urls(self.url)

    def env(self, api_key: str = "sandbox-key") -> dict[str, str]:
        """Environment variables pointing every client at this sandbox (``<P>_BASE_URL``, ``<P>_API_KEY``)."""
        out = {}
        for provider, url in self.base_urls.items():
            out[f"{provider.upper()}_BASE_URL"] = url
            if provider != "yahoo":
                out[f"{provider.upper()}_API_KEY"] = api_key
        return out

    def command(self, port: int) -> list[str]:
        cmd = [self.python, "-m", "sandbox", "--port", str(port), "--profile", self.profile,
               "--symbols", str(self.symbols), "--seed", str(self.seed), "--quiet"]  # fmt: skip
        if self.now:
            cmd += ["--now", self.now]
        if self.frozen:
            cmd.append("--frozen")
        if self.profile_file:
            cmd += ["--profile-file", self.profile_file]
        return cmd + list(self.extra_args)

    def start(self) -> SandboxProcess:
        last_error = ""
        for _attempt in range(3):  # a free port can be taken between probing and binding
            port = free_port()
            self._log = tempfile.TemporaryFile()
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
            self._proc = subprocess.Popen(self.command(port), cwd=_ROOT, env=env, stdout=self._log,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          start_new_session=True)  # fmt: skip  # a terminal's Ctrl-C is ours to handle
            self.port = port
            deadline = time.monotonic() + self.startup_timeout
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    last_error = self._output()
                    break
                try:
                    self.health()
                    return self
                except SandboxError:
                    time.sleep(0.1)
            else:
                self.stop()
                raise SandboxError(
                    f"sandbox did not answer within {self.startup_timeout:.0f} s: {self._output()}"
                )
            if "address already in use" not in last_error.lower():
                break
        self.stop()
        raise SandboxError(f"sandbox exited at start: {last_error.strip()[-2000:]}")

    def _output(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def pid(self) -> int | None:
        """The server process's id (None when stopped)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- control plane ----------------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: Any = None, timeout: float = 10.0) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise SandboxError(
                f"{method} {path}: HTTP {exc.code}: {exc.read().decode(errors='replace')}"
            ) from None
        except (OSError, ValueError) as exc:
            raise SandboxError(f"{method} {path}: {exc}") from None

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/_sandbox/health", timeout=2.0)

    def stats(self) -> dict[str, Any]:
        """``{"providers": {p: {calls, ok, throttled, errors, endpoints, statuses}}, "totals": {...}}``."""
        return self._call("GET", "/_sandbox/stats")

    def requests(self, since: float | None = None, after_seq: int | None = None) -> list[dict[str, Any]]:
        """The request log: ``{seq, arrival (epoch s, sandbox clock), provider, endpoint, status, outcome}``."""
        query = "&".join(f"{k}={v}" for k, v in (("since", since), ("after_seq", after_seq)) if v is not None)
        return self._call("GET", "/_sandbox/requests" + (f"?{query}" if query else ""))["requests"]

    def reset(self) -> None:
        """Clear counters, the log, limit state and blocks; restore the clock and the profile's faults."""
        self._call("POST", "/_sandbox/reset", {})

    def set_faults(self, provider: str, **faults: Any) -> dict[str, Any]:
        """Replace ``provider``'s (or ``"*"``'s) faults. No keyword arguments removes the entry (the provider
        falls back to ``"*"``); explicit zeros (``latency_ms=0``) override ``"*"`` with no faults."""
        return self._call("POST", "/_sandbox/faults", {provider: faults or None})

    def faults(self) -> dict[str, Any]:
        return self._call("GET", "/_sandbox/faults")

    def universe(self) -> list[dict[str, Any]]:
        """Every listed security: symbol, name, exchange, mic, type, listed, delisted, active, splits, halts."""
        return self._call("GET", "/_sandbox/universe", timeout=30.0)["symbols"]

    def clock(self, now: str | datetime | None = None, advance_seconds: float | None = None,
              frozen: bool | None = None) -> dict[str, Any]:  # fmt: skip
        """Read, set (``now``), move (``advance_seconds``) or freeze/unfreeze the sandbox clock."""
        body: dict[str, Any] = {}
        if now is not None:
            body["now"] = now.isoformat() if isinstance(now, datetime) else now
        if advance_seconds is not None:
            body["advance_seconds"] = advance_seconds
        if frozen is not None:
            body["frozen"] = frozen
        return self._call("POST" if body else "GET", "/_sandbox/clock", body or None)
