"""What the live workers answer, as far as they answer: ``make inspect``'s second half (``python -m stack.ops
workers``).

One ``ping`` broadcast finds the workers that reply within the timeout; only those are then asked for
their queues, active and reserved tasks and stats (each ask returns as soon as all of them replied), so a
missing worker costs one timeout, not one per question, and never aborts the rest. The queues of
``runtime/queues.py`` that no replying worker consumes are named.
"""

from __future__ import annotations

from collections import Counter

from runtime.queues import QUEUE_NAMES

QUESTIONS = ("active_queues", "active", "reserved", "stats")


def ask_workers(app, timeout: float) -> dict:
    """``{"timeout", "nodes": {node: {question: reply}}, "silent_queues": [...]}``: the replying workers
    with their answers to ``QUESTIONS`` (a question a worker did not answer in time is absent), and the
    declared queues that no replying worker consumes, in declaration order."""
    pongs = app.control.ping(timeout=timeout) or []
    nodes: dict[str, dict] = {node: {} for reply in pongs for node in reply}
    if nodes:
        ask = app.control.inspect(destination=sorted(nodes), timeout=timeout, limit=len(nodes))
        for question in QUESTIONS:
            for node, reply in (getattr(ask, question)() or {}).items():
                nodes.setdefault(node, {})[question] = reply
    consumed = {q for answers in nodes.values() for q in node_queues(answers)}
    consumed |= {node.partition("@")[0] for node, answers in nodes.items() if "active_queues" not in answers}
    return {
        "timeout": timeout,
        "nodes": dict(sorted(nodes.items())),
        "silent_queues": [q for q in QUEUE_NAMES if q not in consumed],
    }


def node_queues(answers: dict) -> list[str]:
    """The queues a worker said it consumes (``active_queues``)."""
    return [q.get("name", "?") for q in answers.get("active_queues") or [] if isinstance(q, dict)]


def _tasks(items) -> str:
    counts = Counter(str(t.get("name", "?")) for t in items or [] if isinstance(t, dict))
    return ", ".join(f"{name} x{n}" if n > 1 else name for name, n in sorted(counts.items()))


def worker_lines(report: dict) -> list[str]:
    """``ask_workers``' report as text: who replied, a line per worker, and the queues without a reply."""
    timeout = f"{report['timeout']:g} s"
    nodes = report["nodes"]
    lines = [
        f"workers: {len(nodes)} replied within {timeout}"
        if nodes
        else f"workers: none replied within {timeout}"
    ]
    for node, answers in nodes.items():
        parts = [f"queues {', '.join(node_queues(answers)) or '?'}"]
        for question in ("active", "reserved"):
            if question in answers:
                items = answers[question] or []
                detail = _tasks(items)
                parts.append(f"{len(items)} {question}" + (f" ({detail})" if detail else ""))
            else:
                parts.append(f"{question}: no reply")
        stats = answers.get("stats")
        if isinstance(stats, dict):
            done = sum(int(v) for v in (stats.get("total") or {}).values())
            pool = (stats.get("pool") or {}).get("max-concurrency", "?")
            parts += [f"{done:,} tasks done", f"{pool} processes", f"up {int(stats.get('uptime', 0)):,} s"]
        else:
            parts.append("stats: no reply")
        lines.append(f"  {node}  " + " · ".join(parts))
    silent = report["silent_queues"]
    if silent:
        lines.append(
            f"did not reply within {timeout}: the workers of {', '.join(silent)} (named <queue>@<host>; "
            "make run, or make worker Q=<queue>, starts them)"
        )
    else:
        lines.append("every queue has a worker that replied")
    return lines
