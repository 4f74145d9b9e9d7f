"""``make validate-plan``: the day's capacity plan against the shape of every configured quota.

Simulates a trading day (``planning.capacity.simulate_day``): each run starts at its New York slot, its
calls go at the quota's own pace (a burst, then the refill), runs on one provider queue behind each other;
prints per run the calls, start, expected finish and window, the first run's history load, the coverage per
tier, and exits 1 when a run cannot finish within its window (2 on a configuration error). Beat runs the
same check when it starts (``worker.signals``).
"""

from __future__ import annotations

from planning.fit import check
from runtime.cli import Parser, run_main
from runtime.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m stack.plan", description=__doc__.splitlines()[0])
    parser.add_argument("--universe", type=int, default=6500, help="symbols in the universe (default 6500)")
    args = parser.parse_args(argv)
    if args.universe < 1:
        parser.error("--universe must be at least 1")
    fits, lines = check(Settings.from_env(), args.universe)
    print("\n".join(lines))
    return 0 if fits else 1


if __name__ == "__main__":
    run_main(main)
