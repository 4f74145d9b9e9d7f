"""Time every phase of the analysis core on a synthetic full-size universe.

    .venv/bin/python bench/analysis.py [--symbols 6500] [--days 504] [--seed 0] [--threads N]

Prints wall and CPU seconds per phase and, as the baseline measured in the same run, one ``np.nancumsum``
pass over the same close array, with each phase's ratio to it (ratios travel between machines better than
seconds; on shared cores CPU seconds show the work when wall time shows the neighbours).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

# Run as a script, this file's directory would shadow the ``analysis`` package with this module.
sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np  # noqa: E402

from analysis.charts import PriceHistory  # noqa: E402
from analysis.features import feature_arrays, features_on  # noqa: E402
from analysis.indicators import bar_counts, compute_indicators  # noqa: E402
from analysis.model import predict, train  # noqa: E402
from analysis.panel import Panel  # noqa: E402
from analysis.quality import last_bar_dates, run_checks  # noqa: E402
from analysis.recommend import recommend  # noqa: E402
from analysis.report import render_report  # noqa: E402


def synthetic_panel(days: int, symbols: int, seed: int) -> Panel:
    """Random walks with 0.5 % missing bars, late listings, and a weak planted volume signal."""
    rng = np.random.default_rng(seed)
    shock = rng.normal(size=(days, symbols))
    drift = np.zeros((days, symbols))
    for lag in range(1, 6):
        drift[lag:] += 0.0005 * shock[:-lag]
    close = rng.uniform(5, 300, symbols) * np.exp(
        np.cumsum(rng.normal(0, 0.02, (days, symbols)) + drift, axis=0)
    )
    spread = np.abs(rng.normal(0, 0.01, (days, symbols)))
    high, low = close * (1 + spread), close * (1 - spread)
    volume = np.exp(12 + 0.5 * shock)
    gaps = rng.random((days, symbols)) < 0.005
    gaps |= np.arange(days)[:, None] < rng.integers(0, days // 2, symbols) * (rng.random(symbols) < 0.05)
    for array in (close, high, low, volume):
        array[gaps] = np.nan
    start = date(2026, 11, 25) - timedelta(days=days - 1)
    dates = [start + timedelta(days=i) for i in range(days)]
    return Panel(dates, [f"S{j:05d}" for j in range(symbols)], close, high, low, volume)


def timed(name: str, results: dict[str, tuple[float, float]], fn, *args, **kwargs):
    """Run ``fn``; record (wall seconds, CPU seconds of this process) under ``name``."""
    w0, c0 = time.perf_counter(), time.process_time()
    value = fn(*args, **kwargs)
    results[name] = (time.perf_counter() - w0, time.process_time() - c0)
    return value


def best_of(n: int, fn) -> tuple[float, float]:
    """The fastest of ``n`` runs of ``fn``: (wall seconds, CPU seconds)."""
    runs: dict[str, tuple[float, float]] = {}
    for k in range(n):
        timed(str(k), runs, fn)
    return min(runs.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=6500)
    parser.add_argument("--days", type=int, default=504, help="sessions (>= 300 for a model)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="native threads for training (0: all cores)")
    args = parser.parse_args(argv)
    if args.days < 300 or args.symbols < 50:
        parser.error("need --days >= 300 and --symbols >= 50 to train a model")

    panel = synthetic_panel(args.days, args.symbols, args.seed)
    day = panel.dates[-1]
    baseline = best_of(5, lambda: np.nancumsum(panel.close, axis=0))
    phases: dict[str, tuple[float, float]] = {}
    ind = timed("indicators", phases, compute_indicators, panel.close, panel.high, panel.low, panel.volume)
    feats = timed("features", phases, feature_arrays, panel, ind)
    tiers = {s: ("core" if j % 4 else "tail") for j, s in enumerate(panel.symbols)}
    now = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
    quotes = {
        s: now - timedelta(hours=float(h))
        for s, h in zip(panel.symbols, np.arange(args.symbols) % 30, strict=True)
    }
    quality = timed("quality", phases, run_checks, panel, day, tiers, quotes, now)
    model = timed("train", phases, train, panel, day, None, feats, args.threads or None)
    today = features_on(feats)
    scores = timed("predict", phases, predict, model, today)
    history = bar_counts(panel.close)[-1]
    recs, skipped = timed(
        "rank", phases, recommend, day, panel.symbols, scores, today, history, last_bar_dates(panel)
    )
    top = {
        r.symbol: PriceHistory(panel.dates[-120:], panel.close[-120:, panel.symbols.index(r.symbol)])
        for r in recs[:6]
    }
    usage = [{"provider": "polygon", "calls": args.days, "limit": "5/minute"}]
    report = timed(
        "report", phases, render_report, day, recs, top, quality, model.metrics, usage, skipped=skipped
    )

    print(
        f"analysis bench: {args.symbols} symbols x {args.days} sessions, seed {args.seed}, threads {args.threads}"
    )
    print(f"  {'phase':<20} {'wall s':>8} {'cpu s':>8} {'wall / baseline':>16}")
    rows = [("baseline nancumsum", baseline), *phases.items()]
    rows.append(("total (phases)", tuple(sum(p[i] for p in phases.values()) for i in (0, 1))))
    for name, (wall, cpu) in rows:
        print(f"  {name:<20} {wall:8.3f} {cpu:8.3f} {wall / baseline[0]:15.0f}x")
    print(f"  model: {model.metrics.summary()}")
    print(f"  {len(recs)} ranked, {len(skipped)} skipped, report {len(report.html) / 1e6:.1f} MB html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
