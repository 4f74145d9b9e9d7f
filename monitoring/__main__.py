"""``python -m monitoring [--port 9102] [--addr 0.0.0.0]``: the metrics exporter, one process for the fleet.

Reads the same environment as the workers (``REDIS_URL``, ``CELERY_BROKER_URL``, ``REDBEAT_REDIS_URL``,
``DATABASE_URL``, the providers' plans and quotas, the budget) and serves ``/metrics`` until SIGTERM or
Ctrl-C. Configuration mistakes and a port in use end with a one-line message and exit status 2, never a
traceback (``runtime.cli``).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from monitoring.server import DEFAULT_PORT
from runtime.cli import Parser, UsageError, run_main


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535, got {port}")
    return port


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m monitoring", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT, help="HTTP port (default %(default)s)")
    parser.add_argument("--addr", default="0.0.0.0", help="listen address (default %(default)s)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    import redis

    from monitoring.collector import TickerbeatCollector
    from monitoring.server import serve
    from runtime.settings import Settings
    from storage import Database

    settings = Settings.from_env()
    clients: dict[str, redis.Redis] = {}

    def client(url: str) -> redis.Redis:
        if url not in clients:
            clients[url] = redis.Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=5.0)
        return clients[url]

    database = Database(settings.database_url)
    collector = TickerbeatCollector(
        settings,
        client(settings.redis_url),
        broker=client(settings.broker_url),
        beat=client(settings.redbeat_redis_url),
        database=database,
    )
    try:
        server, _thread = serve(collector, args.port, args.addr)
    except OSError as exc:
        database.dispose()
        raise UsageError(
            f"exporter: cannot listen on {args.addr}:{args.port}: {exc.strerror or exc}"
        ) from None
    logging.getLogger("tickerbeat.exporter").info(
        "serving /metrics on %s:%d (database %s)", args.addr, server.server_port, database.url
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    database.dispose()
    for c in clients.values():
        c.close()
    return 0


if __name__ == "__main__":
    run_main(main)
