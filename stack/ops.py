"""``python -m stack.ops``: quotas, the day's plan, pauses and the first start, read and written in Redis
directly: no worker needs to run.

    python -m stack.ops quotas [PROVIDER]         # each window's use/limit, block, waits; the dispatcher's line
    python -m stack.ops plan [--day YYYY-MM-DD]   # the day's runs and ledgers, the planner's decisions
    python -m stack.ops pause PROVIDER [--reason TEXT]   # no worker calls PROVIDER until resume
    python -m stack.ops resume PROVIDER           # lift PROVIDER's block (a pause or a throttle answer)
    python -m stack.ops pauses                    # the providers paused or blocked now
    python -m stack.ops bootstrap                 # the first start's progress line
    python -m stack.ops dead-letters [list]       # messages given up after too many deliveries, newest first
    python -m stack.ops dead-letters show ID      # one letter: task, arguments, deliveries, why
    python -m stack.ops dead-letters replay ID    # send it again under a new task id (once)
    python -m stack.ops workers [--timeout 5]     # what the live workers answer; names the silent queues

``--json`` prints what ``celery -A worker inspect quotas|plan`` would reply. The answers come from
``monitoring.operations``, the same code the workers' commands run, on the workers' settings (the
environment: ``REDIS_URL``, ``DATABASE_URL``, the plans); a pause written here holds for every worker, as
one sent with ``celery -A worker control pause_provider``. A wrong provider name, an unreachable Redis or a
malformed variable is one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from monitoring import operations
from runtime import cli
from runtime.queues import PROVIDERS

PROG = "python -m stack.ops"
RUN_COUNTS = ("planned", "admitted", "made", "deferred_then_made", "carried", "stale", "pending")
LETTER_ACTIONS = ("list", "show", "replay")


class Parser(cli.Parser):
    """``runtime.cli.Parser`` (one-line errors, exit 2) that names the providers when none is given."""

    def error(self, message: str):
        if message.endswith("required: provider"):
            message += f" (one of {', '.join(PROVIDERS)})"
        super().error(message)


def provider_name(text: str) -> str:
    """An argparse type: a declared provider, else the error naming the valid ones."""
    problem = operations.check_provider(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def day_text(text: str) -> str:
    try:
        return operations.parse_day(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parser() -> Parser:
    p = Parser(prog=PROG, description=__doc__.splitlines()[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print the reply as JSON")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    q = sub.add_parser("quotas", parents=[common], help="each provider's quota windows, block and line")
    q.add_argument("provider", nargs="?", type=provider_name, choices=PROVIDERS)
    sub.add_parser(
        "plan", parents=[common], help="the day's runs, ledgers and planner decisions"
    ).add_argument(
        "--day", type=day_text, default=None, help="YYYY-MM-DD (default: today's session in New York)"
    )
    pause = sub.add_parser("pause", help="stop every worker calling a provider until resume")
    pause.add_argument("provider", type=provider_name, choices=PROVIDERS)
    pause.add_argument("--reason", default=None, help="why (shown by pauses and inspect quotas)")
    sub.add_parser("resume", help="lift a provider's pause or throttle block").add_argument(
        "provider", type=provider_name, choices=PROVIDERS
    )
    sub.add_parser("pauses", parents=[common], help="the providers paused or blocked now")
    sub.add_parser("bootstrap", help="the first start's progress line")
    letters = sub.add_parser(
        "dead-letters", parents=[common], help="messages given up after too many deliveries"
    )
    letters.add_argument("action", nargs="?", choices=LETTER_ACTIONS, default="list", help="default: list")
    letters.add_argument("id", nargs="?", type=int, help="the letter (show, replay)")
    w = sub.add_parser("workers", parents=[common], help="what the live workers answer (waits --timeout)")
    w.add_argument(
        "--timeout", type=cli.positive_seconds, default=5.0, help="seconds to wait for replies (default 5)"
    )
    return p


# -- text ---------------------------------------------------------------------------------------------------


def _seconds(value: float | None) -> str:
    from stack.status import slot_text

    return "" if value is None else slot_text(value).removeprefix("in ")


def block_text(report: dict) -> str:
    """``PAUSED (paused by operator) until resume`` or ``BLOCKED (429) until …Z, 9.8 min``; empty if not."""
    if not report.get("blocked"):
        return ""
    what = "PAUSED" if operations.is_pause(report) else "BLOCKED"
    reason = f" ({report['block_reason']})" if report.get("block_reason") else ""
    if report.get("blocked_indefinitely"):
        return f"{what}{reason} until resume"
    return f"{what}{reason} until {report['blocked_until']}, {_seconds(report['blocked_for_seconds'])}"


def quota_lines(reports: dict[str, dict], pacing: dict, where: str) -> list[str]:
    """Two lines per provider: its windows, block and counters; its dispatcher line and next slot."""
    from stack.status import slot_text

    lines = [f"quotas, read from Redis at {where} (no worker needed):"]
    for name, r in reports.items():
        if "error" in r:
            lines.append(f"{name:13}cannot read: {r['error']}")
            continue
        parts = []
        for w in r["windows"]:
            frees = f" (frees in {_seconds(w['next_reset_in_seconds'])})" if w["used"] >= w["limit"] else ""
            parts.append(f"{w['window']} {w['used']:,}/{w['limit']:,}{frees}")
        parts += [block_text(r)] if r["blocked"] else []
        parts += [f"{r['granted']:,} granted", f"{r['waited']:,} waited ({r['wait_seconds']:g} s)",
                  f"{r['refused']:,} refused", f"{r['violations']:,} violations"]  # fmt: skip
        if r.get("redrives"):
            lost = r["redrives"]
            parts.append(f"{lost['requeued']:,} lost calls re-driven, {lost['given_up']:,} given up")
        lines.append(f"{name:13}" + " · ".join(parts))
        p = pacing.get(name)
        if p is not None:
            runs = "".join(f" · {kind} {made:,}/{admitted:,} made" for kind, made, admitted in p.runs)
            lines.append(f"{'':13}line: {p.in_line:,} in line · {p.in_flight:,} in flight{runs} · "
                         f"next slot {slot_text(p.next_slot)}")  # fmt: skip
    return lines


def plan_lines(report: dict) -> list[str]:
    from stack.report import dispatch_table

    lines = [
        f"plan for {report['day']} (New York)",
        f"bootstrap: {report['bootstrap'] or 'no progress line yet'}",
    ]
    lines.append("planner decisions:" if report["entries"] else "planner decisions: none recorded")
    for field, summary in report["entries"].items():
        if isinstance(summary, dict) and "planned" in summary:
            shown = [f"{k} {summary[k]:,}" for k in ("planned", "admitted", "carried") if k in summary]
            if "coverage" in summary:
                shown.append(f"coverage {summary['coverage'] * 100:.1f} %")
            text = " · ".join(shown)
        else:
            text = json.dumps(summary)
        lines.append(f"  {field:28}{text}")
    lines.append("runs:" if report["runs"] else "runs: none on this day")
    for r in report["runs"]:
        counts = " · ".join(f"{k.replace('_', ' ')} {r[k]:,}" for k in RUN_COUNTS)
        verdict = "adds up" if r["adds_up"] else "DOES NOT ADD UP: " + "; ".join(r.get("problems") or [])
        if r.get("reclaimed") or r.get("given_up"):
            counts += f" · reclaimed {r['reclaimed']:,} · given up {r.get('given_up', 0):,}"
        lines.append(
            f"  {r['run']}  {r['provider']} {r['kind']}{' (done)' if r['done'] else ''}: {counts} · {verdict}"
        )
    if report["runs"]:
        lines += ["per provider:"] + [f"  {line}" for line in dispatch_table(report["dispatch"])]
    cap = report["capacity"]
    fits = "fits" if cap["fits"] else "DOES NOT FIT (make validate-plan names the runs)"
    lines.append(f"capacity plan for {cap['universe']:,} symbols: {fits}")
    return lines


def pause_lines(blocked: dict[str, dict]) -> list[str]:
    if not blocked:
        return ["no provider is paused or blocked"]
    return [f"{name:13}{'cannot read: ' + b['error'] if 'error' in b else block_text({**b, 'blocked': True})}"
            for name, b in blocked.items()]  # fmt: skip


# -- the commands -------------------------------------------------------------------------------------------


def _quotas(ctx, args) -> tuple[object, list[str]]:
    from stack.status import pacing

    names = [args.provider] if args.provider else list(PROVIDERS)
    reports = operations.quotas(ctx, names)
    lines = [r["error"] for r in reports.values() if "error" in r]
    if len(lines) == len(reports):
        raise cli.UsageError(f"cannot read the quotas: {lines[0]}")
    policies = {name: ctx.policy(name) for name in names}
    now = {
        p.provider: p for p in pacing(ctx.backlog, ctx.limiter, policies, ctx.settings.quota_guard_seconds)
    }
    return reports, quota_lines(reports, now, _redis_address(ctx.settings.redis_url))


def _plan(ctx, args) -> tuple[object, list[str]]:
    report = operations.plan(ctx, args.day or operations.parse_day(None))
    return report, plan_lines(report)


def _change(ctx, args) -> tuple[object, list[str]]:
    if args.command == "pause":
        reply = operations.pause(ctx, args.provider, args.reason)
    else:
        reply = operations.resume(ctx, args.provider)
    if "error" in reply:
        raise cli.UsageError(reply["error"])
    return reply, [reply["ok"]]


def _pauses(ctx, args) -> tuple[object, list[str]]:
    blocked = operations.pauses(ctx)
    return blocked, pause_lines(blocked)


def _bootstrap(ctx, args) -> tuple[object, list[str]]:
    line = operations.bootstrap_status(ctx)
    return {"bootstrap": line}, [line or "bootstrap: no progress line yet (beat sends the bootstrap when it "
                                         "starts; make status works it out from the database)"]  # fmt: skip


def letter_lines(report: dict) -> list[str]:
    head = (f"dead letters: {report['waiting']:,} waiting for an operator, {report['replayed']:,} replayed"
            + (" (python -m stack.ops dead-letters show ID | replay ID)" if report["letters"] else ""))  # fmt: skip
    lines = [head]
    for letter in report["letters"]:
        state = f"replayed as {letter['replayed_as']}" if letter["replayed_at"] else "waiting"
        lines.append(f"  #{letter['id']:<4} {letter['task']} [{letter['task_id']}] {letter['queue'] or '-'} · "
                     f"{letter['deliveries']} deliveries · last {letter['last_seen']} · {state}")  # fmt: skip
    return lines


def _dead_letters(ctx, args) -> tuple[object, list[str]]:
    """``dead-letters [list | show ID | replay ID]``; a database without the letters' table (or an SQLite file
    not there, which asking does not create) is one line, not a traceback."""
    from sqlalchemy.exc import SQLAlchemyError

    from storage.engine import parse_url, sqlite_path

    path = sqlite_path(parse_url(ctx.settings.database_url))
    if path is not None and not path.exists():
        if args.action == "list":
            none = {"waiting": 0, "replayed": 0, "letters": []}
            return none, [f"dead letters: none recorded (no database at {path})"]
        raise cli.UsageError(f"no dead letter {args.id}: no database at {path}")
    try:
        return _letters_action(ctx, args)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise cli.UsageError(f"cannot read the dead letters in {ctx.db.url}: {reason}") from None


def _letters_action(ctx, args) -> tuple[object, list[str]]:
    from jobs import dead_letters

    if args.action == "list":
        report = dead_letters.report(ctx)
        return report, letter_lines(report)
    if args.id is None:
        raise cli.UsageError(
            f"dead-letters {args.action}: which letter? give its ID (dead-letters lists them)"
        )
    if args.action == "show":
        letter = dead_letters.show(ctx, args.id)
        if letter is None:
            raise cli.UsageError(f"no dead letter {args.id} (python -m stack.ops dead-letters lists them)")
        return letter, [
            f"{k:12}{json.dumps(v) if isinstance(v, list | dict) else v}" for k, v in letter.items()
        ]
    from worker.app import make_app

    reply = dead_letters.replay(ctx, args.id, make_app(ctx.settings).send_task)
    if "error" in reply:
        raise cli.UsageError(reply["error"])
    return reply, [reply["ok"]]


def _workers(ctx, args) -> tuple[object, list[str]]:
    from stack.inspect import ask_workers, worker_lines
    from worker.app import make_app

    report = ask_workers(make_app(ctx.settings), args.timeout)
    return report, worker_lines(report)


COMMANDS: dict[str, Callable] = {"quotas": _quotas, "plan": _plan, "pause": _change, "resume": _change,
                                 "pauses": _pauses, "bootstrap": _bootstrap, "workers": _workers,
                                 "dead-letters": _dead_letters}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run one command; a wrong argument, a malformed variable or an unreachable Redis ends it in one line
    on stderr, exit 2 (``runtime.cli``)."""
    import redis

    from runtime.resources import Resources
    from runtime.settings import Settings

    args = parser().parse_args(argv)
    settings = Settings.from_env()
    ctx = Resources(settings)
    try:
        ctx.redis.ping()  # Redis out of reach: one line before anything is read
        if args.command == "workers" and settings.broker_url != settings.redis_url:
            redis.Redis.from_url(settings.broker_url, socket_timeout=5.0, socket_connect_timeout=5.0).ping()
        data, lines = COMMANDS[args.command](ctx, args)
    finally:
        ctx.close()
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, default=str))
    else:
        print("\n".join(lines))
    return 0


def _redis_address(url: str) -> str:
    from stack.status import _redis_address as address

    return address(url)


if __name__ == "__main__":
    cli.run_main(main)
