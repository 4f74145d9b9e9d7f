"""Throughput of the provider sandbox on loopback, against a trivial aiohttp "hello" server measured the same way.

    .venv/bin/python bench/sandbox.py [--seconds 4] [--rounds 3] [--concurrency 64] [--clients 1] [--symbols 6500]

Starts ``python -m sandbox --profile unlimited`` and a hello server as subprocesses, then drives each from
``--clients`` load processes (aiohttp, ``--concurrency`` connections in total) with a mix of the endpoints
the pipeline uses (Finnhub quote, Polygon prev and a 1-month range, Alpha Vantage GLOBAL_QUOTE, Yahoo 1-month
chart). Prints requests/second, the ratio to the 2,000 req/s target and to the hello baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET = 2000.0
HELLO = """
import sys
from aiohttp import web
async def hello(request):
    return web.Response(text='{"hello":"world"}', content_type="application/json")
app = web.Application()
app.router.add_get("/{tail:.*}", hello)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def _paths(symbols: list[str], n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        s = rng.choice(symbols)
        kind = rng.random()
        if kind < 0.5:
            out.append(f"/finnhub/api/v1/quote?symbol={s}&token=bench")
        elif kind < 0.65:
            out.append(f"/polygon/v2/aggs/ticker/{s}/prev?apiKey=bench")
        elif kind < 0.75:
            out.append(f"/polygon/v2/aggs/ticker/{s}/range/1/day/2026-10-01/2026-10-31?apiKey=bench")
        elif kind < 0.9:
            out.append(f"/alphavantage/query?function=GLOBAL_QUOTE&symbol={s}&apikey=bench")
        else:
            out.append(f"/yahoo/v8/finance/chart/{s}?range=1mo&interval=1d")
    return out


async def _load(url: str, paths: list[str], seconds: float, concurrency: int) -> dict:
    import aiohttp

    done = errors = 0
    stop = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker(k: int) -> None:
            nonlocal done, errors
            i = k
            while time.monotonic() < stop:
                async with session.get(url + paths[i % len(paths)]) as resp:
                    await resp.read()
                    if resp.status != 200:
                        errors += 1
                done += 1
                i += concurrency

        start = time.monotonic()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        elapsed = time.monotonic() - start
    return {"requests": done, "errors": errors, "seconds": elapsed}


def _client_main(args: argparse.Namespace) -> None:
    paths = json.loads(Path(args.paths).read_text())
    result = asyncio.run(_load(args.client, paths, args.seconds, args.concurrency))
    print(json.dumps(result))


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds used so far by process ``pid`` (Linux ``/proc``; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(url: str, pid: int, paths: list[str], args: argparse.Namespace, tmp: Path) -> dict:
    """Drive ``url`` for ``args.seconds``; also the server's CPU seconds, so that its capacity per fully
    available core (requests per CPU-second) can be told apart from the machine's other load."""
    tmp.write_text(json.dumps(paths))
    per = max(1, args.concurrency // args.clients)
    cmd = [sys.executable, __file__, "--client", url, "--paths", str(tmp), "--seconds", str(args.seconds),
           "--concurrency", str(per)]  # fmt: skip
    cpu_before = _cpu_seconds(pid)
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(args.clients)]
    results = [json.loads(p.communicate()[0]) for p in procs]
    cpu_after = _cpu_seconds(pid)
    total = sum(r["requests"] for r in results)
    seconds_used = max(r["seconds"] for r in results)
    cpu = (cpu_after - cpu_before) if cpu_before is not None and cpu_after is not None else None
    return {
        "rps": total / seconds_used,
        "requests": total,
        "errors": sum(r["errors"] for r in results),
        "per_cpu_second": total / cpu if cpu else None,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=4.0, help="length of each measurement")
    p.add_argument(
        "--rounds", type=int, default=3, help="interleaved hello/sandbox rounds (medians reported)"
    )
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--clients", type=int, default=1, help="load-generating processes")
    p.add_argument("--symbols", type=int, default=6500)
    p.add_argument("--client", help=argparse.SUPPRESS)
    p.add_argument("--paths", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.client:
        _client_main(args)
        return

    from sandbox.testing import SandboxProcess, free_port

    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"sandbox-bench-{os.getpid()}.json"
    port = free_port()
    hello_url = f"http://127.0.0.1:{port}"
    hello = subprocess.Popen([sys.executable, "-c", HELLO, str(port)])
    hello_runs, sandbox_runs = [], []
    try:
        with SandboxProcess(profile="unlimited", symbols=args.symbols, now="2026-11-25T22:00:00Z") as sb:
            symbols = [s["symbol"] for s in sb.universe() if s["active"]]
            paths = _paths(symbols, 20_000, seed=1)
            for _ in range(args.rounds):  # interleaved, so the machine's other load weighs on both alike
                hello_runs.append(_measure(hello_url, hello.pid, paths, args, tmp))
                sandbox_runs.append(_measure(sb.url, sb.pid, paths, args, tmp))
            stats = sb.stats()["totals"]
    finally:
        hello.terminate()
        hello.wait()
        tmp.unlink(missing_ok=True)
    hello_rps = statistics.median(r["rps"] for r in hello_runs)
    sandbox_rps = statistics.median(r["rps"] for r in sandbox_runs)
    runs = ", ".join(f"{r['rps']:.0f}" for r in hello_runs)
    print(
        f"{args.rounds} rounds x {args.seconds:g} s, {args.concurrency} connections, {args.clients} client process(es)"
    )
    print(f"hello baseline : {hello_rps:8.0f} req/s median (runs {runs})")
    runs = ", ".join(f"{r['rps']:.0f}" for r in sandbox_runs)
    print(f"sandbox        : {sandbox_rps:8.0f} req/s median (runs {runs})")
    errors = sum(r["errors"] for r in sandbox_runs)
    print(
        f"sandbox answers: {sum(r['requests'] for r in sandbox_runs)} requests, {errors} non-200; "
        f"server counted {stats['calls']}, ok {stats['ok']}"
    )
    print(f"ratio to the {TARGET:.0f} req/s target: {sandbox_rps / TARGET:.2f}")
    print(f"ratio to the hello baseline : {sandbox_rps / hello_rps:.2f}")
    if all(r["per_cpu_second"] for r in hello_runs + sandbox_runs):
        hello_cap = statistics.median(r["per_cpu_second"] for r in hello_runs)
        sandbox_cap = statistics.median(r["per_cpu_second"] for r in sandbox_runs)
        print(
            f"server capacity per CPU-second (what one free core sustains): hello {hello_cap:.0f}, "
            f"sandbox {sandbox_cap:.0f}; sandbox / {TARGET:.0f} target: {sandbox_cap / TARGET:.2f}"
        )


if __name__ == "__main__":
    main()
