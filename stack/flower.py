"""``make flower``: Flower for tickerbeat's workers, with basic auth, persistent state, on localhost by default.

    FLOWER_BASIC_AUTH=ops:a-long-password python -m stack.flower [--address 127.0.0.1] [--port 5555]
                                                                 [--db var/flower.db]

Replaces itself with ``celery -A worker flower --address=… --port=… --persistent=True --db=…``. The
credentials (``user:password``, several separated by commas) stay in the environment, where Flower reads
``FLOWER_BASIC_AUTH`` itself: a command line would show the password to anyone running ``ps``. Without
them Flower is refused on any address but loopback. ``/healthcheck`` and ``/metrics`` answer without
authentication by Flower's design (flower/views/monitor.py: no ``@authenticated``), so load balancers and
Prometheus can reach them; everything else asks for the password.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from runtime.cli import Parser, UsageError, run_main
from runtime.settings import Settings, SettingsError

AUTH_VARIABLE = "FLOWER_BASIC_AUTH"
LOOPBACK_NAMES = ("localhost",)


def is_loopback(address: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``; False for ``0.0.0.0``, ``""`` (all interfaces), others."""
    if address in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def auth_problem(value: str | None, address: str) -> str | None:
    """Why Flower must not start with ``FLOWER_BASIC_AUTH=value`` on ``address``, or None when it may."""
    if not value:
        if is_loopback(address):
            return None
        shown = address or "every interface"
        return (
            f"refusing to serve Flower on {shown} without authentication: set {AUTH_VARIABLE}=user:password "
            "(in .env for docker compose), or bind to 127.0.0.1"
        )
    for entry in value.split(","):
        user, sep, password = entry.partition(":")
        if not sep or not user.strip() or not password:
            return (
                f"{AUTH_VARIABLE}: expected user:password entries separated by commas, got a malformed entry"
            )
    return None


def flower_command(address: str, port: int, db: str) -> list[str]:
    """The Flower command line; it carries no credentials (Flower reads them from the environment)."""
    return [sys.executable, "-m", "celery", "-A", "worker", "flower", f"--address={address}", f"--port={port}",
            "--persistent=True", f"--db={db}"]  # fmt: skip


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    parser = Parser(prog="python -m stack.flower", description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1", help="interface to bind (default %(default)s)")
    parser.add_argument("--port", type=int, default=5555, help="default %(default)s")
    parser.add_argument("--db", default="var/flower.db", help="Flower's state file (default %(default)s)")
    args = parser.parse_args(argv)
    if not 1 <= args.port <= 65535:
        parser.error(f"--port must be 1-65535, got {args.port}")
    problem = auth_problem(env.get(AUTH_VARIABLE), args.address)
    if problem:
        raise SettingsError(problem) if problem.startswith(AUTH_VARIABLE) else UsageError(problem)
    Settings.from_env(env)  # Flower loads the workers' app: a malformed variable stops it here, in one line
    if not env.get(AUTH_VARIABLE):
        print(
            f"flower: no {AUTH_VARIABLE}: anyone on this machine can use it ({args.address})", file=sys.stderr
        )
    Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    command = flower_command(args.address, args.port, args.db)
    os.execv(command[0], command)
    return 0  # unreachable


if __name__ == "__main__":
    run_main(main)
