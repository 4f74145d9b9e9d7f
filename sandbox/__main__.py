"""``python -m sandbox --port N --profile free|demo|unlimited``: serve the four providers on one port.

Exit status 2 with a one-line message for bad arguments or a port in use (no traceback); the port is taken
before the market is built, so a busy one fails at once.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys

from sandbox.clock import ClockError, parse_instant
from sandbox.profiles import PROFILES, ProfileError, load_profile, load_profile_file

MAX_SYMBOLS = 15_000  # sandbox.universe.MAX_SYMBOLS, repeated so that usage errors need no heavy imports


class _Parser(argparse.ArgumentParser):
    """One-line usage errors, exit status 2 (``--help`` prints the usage)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, for the server to listen on; ``OSError`` when that is impossible."""
    family, kind, proto, _name, address = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]  # fmt: skip
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp does: restarts need no wait
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m sandbox",
        description="Offline double of Finnhub, Polygon/Massive, Alpha Vantage and Yahoo, on one port.",
    )
    p.add_argument("--port", type=int, default=8765, help="TCP port (default 8765; 0 is not allowed)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument(
        "--profile", default="free", choices=sorted(PROFILES), help="limits and plan rules (default free)"
    )
    p.add_argument("--profile-file", help="JSON overrides merged over the profile (see docs/sandbox.md)")
    p.add_argument(
        "--symbols", type=int, default=6500, help=f"established securities, 1..{MAX_SYMBOLS} (default 6500)"
    )
    p.add_argument("--seed", type=int, default=42, help="market seed (default 42)")
    p.add_argument(
        "--now", help="pin the clock's start, ISO 8601 (e.g. 2026-11-25T21:30:00Z); default: real clock"
    )
    p.add_argument("--frozen", action="store_true", help="with --now: the clock stands still until moved")
    p.add_argument("--keys", help="comma-separated valid API keys (default: any non-empty key is valid)")
    p.add_argument("--quiet", action="store_true", help="no startup line")
    return p


def parse_config(argv: list[str]) -> tuple[dict, argparse.Namespace]:
    """Validated ``Config`` fields and the parsed arguments; exits with status 2 on a usage error."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not 1 <= args.port <= 65535:
        parser.error(f"--port must be between 1 and 65535, got {args.port}")
    if not 1 <= args.symbols <= MAX_SYMBOLS:
        parser.error(f"--symbols must be between 1 and {MAX_SYMBOLS}, got {args.symbols}")
    try:
        profile = (
            load_profile_file(args.profile, args.profile_file)
            if args.profile_file
            else load_profile(args.profile)
        )
    except ProfileError as exc:
        parser.error(str(exc))
    now = None
    if args.now:
        try:
            now = parse_instant(args.now)
        except ClockError as exc:
            parser.error(f"--now: {exc}")
    if args.frozen and now is None:
        parser.error("--frozen needs --now")
    keys = None
    if args.keys is not None:
        keys = frozenset(k.strip() for k in args.keys.split(",") if k.strip())
        if not keys:
            parser.error("--keys: give at least one non-empty key")
    fields = {
        "profile": profile,
        "seed": args.seed,
        "symbols": args.symbols,
        "now": now,
        "frozen": args.frozen,
    }
    return fields | {"keys": keys}, args


def main(argv: list[str] | None = None) -> int:
    fields, args = parse_config(sys.argv[1:] if argv is None else argv)
    try:
        sock = _listen(args.host, args.port)
    except OSError as exc:  # e.g. the port is in use: one line, as the metrics exporter says it
        print(f"python -m sandbox: error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
              file=sys.stderr)  # fmt: skip
        return 2
    # Heavy imports (numpy, aiohttp, the exchange calendar) only once the arguments are known to be good.
    from aiohttp import web

    from sandbox.app import base_urls, make_app
    from sandbox.state import Config

    config = Config(**fields)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s sandbox %(levelname)s %(message)s")
    try:
        app = make_app(config)
    except ValueError as exc:  # e.g. a --now outside the exchange calendar
        sock.close()
        print(f"python -m sandbox: error: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        root = f"http://{args.host}:{args.port}"
        print(
            f"sandbox: profile {config.profile.name}, {config.symbols} symbols, seed {config.seed} on {root}",
            flush=True,
        )
        for provider, url in base_urls(root).items():
            print(f"  {provider.upper()}_BASE_URL={url}", flush=True)
    # No access log: it would print query strings, and query strings carry API keys.
    web.run_app(app, sock=sock, access_log=None, print=None, shutdown_timeout=0.5)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C while the market is built (once serving, aiohttp stops cleanly)
        sys.exit(130)
