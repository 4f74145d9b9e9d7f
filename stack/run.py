"""``make run``: the long-running stack as local processes — a worker per queue and beat.

Against the real providers when their keys are set in the environment; otherwise against the sandbox
(free-tier limits) on a free port. Redis is ``REDIS_URL`` (the embedded one is started when nothing
answers there). Ctrl-C stops everything. ``--worker Q`` runs one queue's worker in the foreground.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import redis

from runtime.cli import Parser, run_main
from runtime.queues import BY_NAME, QUEUE_NAMES
from runtime.settings import Settings
from stack.redis_server import RedisServer
from stack.workers import ProcessSet, beat_command, worker_command

KEYED = ("FINNHUB", "POLYGON", "ALPHAVANTAGE")


def _redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m stack.run", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--worker", metavar="QUEUE", help=f"run one worker in the foreground: {', '.join(QUEUE_NAMES)}"
    )
    parser.add_argument("--logs", default="var/logs", help="log directory (default var/logs)")
    args = parser.parse_args(argv)
    if args.worker and args.worker not in BY_NAME:
        parser.error(f"unknown queue {args.worker!r}; declared queues: {', '.join(QUEUE_NAMES)}")
    Settings.from_env()  # the workers' and beat's settings: a malformed variable stops us before they start
    if args.worker:
        os.execv(sys.executable, worker_command(BY_NAME[args.worker], loglevel="INFO"))
    return run_stack(Path(args.logs))


def run_stack(logs: Path) -> int:
    env: dict[str, str] = {}
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    server = sandbox = None
    if not _redis_answers(url):
        # its data in var/redis (append-only, fsynced every second): a restart finds the queues, the
        # schedule and the quota windows where it left them
        server = RedisServer(data_dir=logs.parent / "redis").start()
        env["REDIS_URL"] = server.url
        print(f"redis: started an embedded server at {server.url}, its data in {logs.parent / 'redis'}")
    if not all(os.environ.get(f"{p}_API_KEY") for p in KEYED):
        from sandbox.testing import SandboxProcess

        sandbox = SandboxProcess(profile="free", symbols=6500, startup_timeout=180).start()
        env.update(sandbox.env(api_key="sandbox-key"))
        print(f"providers: no API keys set, using the sandbox at {sandbox.url} (free-tier limits)")
    procs = ProcessSet(env, logs)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    try:
        procs.start_workers(loglevel="INFO")
        procs.start("beat", beat_command())
        print(f"running: {', '.join(procs.procs)}; logs in {logs}; Ctrl-C stops")
        while not stop:
            procs.check_alive()
            time.sleep(2)
    except KeyboardInterrupt:
        pass
    finally:
        procs.stop()
        if sandbox:
            sandbox.stop()
        if server:
            server.stop()
    return 0


if __name__ == "__main__":
    run_main(main)
