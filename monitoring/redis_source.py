"""What the exporter reads from Redis at scrape time: counters the workers left (``monitoring.recording``),
live workers, the quota engine's stats, the paced dispatcher's lines and ledgers, beat's last tick and
conservation mode; queue depths from the broker.

Each reader makes a few pipelined round trips and raises redis errors (``QuotaUnavailable`` for the
quota engine); the collector turns a failure into ``tickerbeat_exporter_source_up{source} 0``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping

from dispatch import Backlog
from monitoring import ledgers, recording
from monitoring.samples import Samples
from ratelimits import Limiter, Policy
from runtime import keys
from runtime.queues import PROVIDERS, QUEUE_NAMES

log = logging.getLogger("tickerbeat.exporter")

# kombu's Redis transport keeps delivered, unacknowledged messages in this hash (its default name).
UNACKED_KEY = "unacked"


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_metrics(r, beat=None) -> Samples:
    """Calls, task runs and their histograms, live workers, beat's tick and conservation mode.
    ``beat``: the client of RedBeat's Redis when it is not ``r``."""
    out = Samples()
    pipe = r.pipeline(transaction=False)
    pipe.hgetall(recording.CALLS_KEY)
    pipe.hgetall(recording.CALL_SECONDS_KEY)
    pipe.hgetall(recording.TASKS_KEY)
    pipe.hgetall(recording.TASK_SECONDS_KEY)
    pipe.get(keys.CONSERVATION)
    calls, call_seconds, tasks, task_seconds, conservation_raw = pipe.execute()
    tick = (beat or r).get(recording.BEAT_TICK_KEY)

    for labels, n in sorted(recording.counts(calls, 3).items()):
        out.add("tickerbeat_api_calls_total", n, *labels)
    for labels, (buckets, total) in sorted(
        recording.cumulative(call_seconds, recording.CALL_BUCKETS, 2).items()
    ):
        out.histogram("tickerbeat_api_call_duration_seconds", labels, buckets, total)
    for labels, n in sorted(recording.counts(tasks, 3).items()):
        out.add("tickerbeat_tasks_total", n, *labels)
    # A zero series per queue (task label empty) from the start, so rate() and alerts see the metric before
    # the first dead letter; each dead-lettered task then has its own series.
    letters = {
        **{("", q): 0.0 for q in QUEUE_NAMES},
        **recording.counts(r.hgetall(recording.DEAD_LETTERS_KEY), 2),
    }
    for labels, n in sorted(letters.items()):
        out.add("tickerbeat_dead_letters_total", n, *labels)
    for labels, (buckets, total) in sorted(
        recording.cumulative(task_seconds, recording.TASK_BUCKETS, 2).items()
    ):
        out.histogram("tickerbeat_task_duration_seconds", labels, buckets, total)
    out.add("tickerbeat_beat_last_tick_timestamp_seconds", float(_text(tick)) if tick else 0.0)
    active, level = conservation(conservation_raw)
    out.add("tickerbeat_conservation_mode", 1.0 if active else 0.0)
    out.add("tickerbeat_conservation_level", level)
    out.merge(read_outcome_counts(r))
    return out


# Counters served for every provider and outcome, 0 until the first event: (metric, key, outcomes).
OUTCOME_COUNTERS = (
    ("tickerbeat_store_records_total", recording.STORE_RECORDS_KEY, recording.STORE_RECORD_OUTCOMES),
    ("tickerbeat_store_failures_total", recording.STORE_FAILURES_KEY, recording.STORE_FAILURE_OUTCOMES),
    ("tickerbeat_dispatch_redrives_total", recording.REDRIVES_KEY, recording.REDRIVE_OUTCOMES),
)


def read_outcome_counts(r) -> Samples:
    """Store outcomes and dispatch re-drives per provider and outcome (one pipelined round trip)."""
    pipe = r.pipeline(transaction=False)
    for _, key, _ in OUTCOME_COUNTERS:
        pipe.hgetall(key)
    out = Samples()
    for (name, _, outcomes), raw in zip(OUTCOME_COUNTERS, pipe.execute(), strict=True):
        for labels, n in sorted(recording.served_counts(raw, PROVIDERS, outcomes).items()):
            out.add(name, n, *labels)
    return out


def conservation(raw) -> tuple[bool, int]:
    """(active, level) from the budget check's ``tickerbeat:conservation`` value (JSON with ``active`` and
    ``level``). Absent: (False, 0). Unreadable: logged, and (False, 0)."""
    if raw is None:
        return False, 0
    try:
        value = json.loads(raw)
        level = int(value.get("level", 0))
        return bool(value.get("active", level > 0)), level
    except (TypeError, ValueError, AttributeError):
        log.warning("conservation: unreadable value %r, reported as inactive", _text(raw)[:80])
        return False, 0


def read_workers(r, queues: Iterable[str]) -> Samples:
    """Per queue: live workers consuming it, their pool processes, busy processes and utilisation.
    Every queue in ``queues`` is reported (0 without workers), plus any other queue a worker consumes."""
    hosts = sorted(_text(h) for h in r.smembers(recording.WORKERS_KEY))
    pipe = r.pipeline(transaction=False)
    for host in hosts:
        pipe.hgetall(recording.worker_key(host))
    records = pipe.execute() if hosts else []
    gone = [h for h, rec in zip(hosts, records, strict=True) if not rec]
    if gone:
        r.srem(recording.WORKERS_KEY, *gone)
    per_queue = {q: [0, 0, 0] for q in queues}  # consumers, processes, busy
    for rec in records:
        if not rec:
            continue
        rec = {_text(k): _text(v) for k, v in rec.items()}
        processes, busy = int(rec.get("processes", 0)), int(rec.get("busy", 0))
        for q in filter(None, rec.get("queues", "").split(",")):
            row = per_queue.setdefault(q, [0, 0, 0])
            row[0] += 1
            row[1] += processes
            row[2] += busy
    out = Samples()
    for q, (consumers, processes, busy) in sorted(per_queue.items()):
        out.add("tickerbeat_queue_consumers", consumers, q)
        out.add("tickerbeat_worker_processes", processes, q)
        out.add("tickerbeat_worker_busy_processes", busy, q)
        out.add("tickerbeat_worker_utilisation_ratio", min(1.0, busy / processes) if processes else 0.0, q)
    return out


def read_queues(broker, queues: Iterable[str]) -> Samples:
    """Waiting (LLEN) and unacknowledged messages of every queue, from the broker's Redis."""
    names = list(queues)
    pipe = broker.pipeline(transaction=False)
    for q in names:
        pipe.llen(q)
    pipe.hvals(UNACKED_KEY)
    *lengths, unacked = pipe.execute()
    per_queue = dict.fromkeys(names, 0)
    for raw in unacked:
        try:
            routing_key = json.loads(raw)[2]
        except (TypeError, ValueError, IndexError, KeyError):
            continue
        if isinstance(routing_key, str):
            per_queue[routing_key] = per_queue.get(routing_key, 0) + 1
    out = Samples()
    for q, n in zip(names, lengths, strict=True):
        out.add("tickerbeat_queue_messages", n, q)
    for q, n in sorted(per_queue.items()):
        out.add("tickerbeat_queue_unacked_messages", n, q)
    return out


def read_quotas(limiter: Limiter, policies: Mapping[str, Policy]) -> Samples:
    """The quota engine's stats for every configured provider (one transaction each)."""
    out = Samples()
    for provider, policy in sorted(policies.items()):
        stats = limiter.stats(provider, policy)
        for w in stats.windows:
            out.add("tickerbeat_quota_used", w.used, provider, w.text)
            out.add("tickerbeat_quota_limit", w.limit, provider, w.text)
            out.add("tickerbeat_quota_utilisation_ratio", w.used / w.limit, provider, w.text)
            out.add("tickerbeat_quota_window_seconds", w.seconds, provider, w.text)
        blocked = stats.blocked_until is not None
        out.add("tickerbeat_quota_blocked", 1.0 if blocked else 0.0, provider)
        until = stats.blocked_until if blocked else 0.0
        out.add(
            "tickerbeat_quota_blocked_until_timestamp_seconds",
            math.inf if math.isinf(until) else until,
            provider,
        )
        out.add("tickerbeat_quota_granted_total", stats.granted, provider)
        out.add("tickerbeat_quota_waited_total", stats.waited, provider)
        out.add("tickerbeat_quota_wait_seconds_total", stats.wait_seconds, provider)
        out.add("tickerbeat_quota_refused_total", stats.refused, provider)
        out.add("tickerbeat_quota_violations_total", stats.violations, provider)
    return out


def read_dispatch(backlog: Backlog, providers: Iterable[str], day: str) -> Samples:
    """The paced dispatcher: every provider's line and calls in flight, and per provider and run kind the
    ledgers of ``day``'s runs and of every open run (summed), the calls still pending past their run's
    deadline (on the Redis clock) and the runs whose counts do not add up."""
    out = Samples()
    for provider in sorted(providers):
        in_line, in_flight = backlog.depth(provider)
        out.add("tickerbeat_dispatch_in_line", in_line, provider)
        out.add("tickerbeat_dispatch_in_flight", in_flight, provider)
    runs = ledgers.day_ledgers(backlog, [day], open_runs=True)
    now = backlog.now()
    undone: dict[tuple, int] = {}
    for ledger in runs:
        key = (ledger.provider, ledger.kind)
        undone[key] = undone.get(key, 0) + ledger.undone_after(now)
    for (provider, kind), row in ledgers.totals(
        [ledger.as_record() for ledger in runs], ("provider", "kind")
    ).items():
        for name in ledgers.COUNTS:
            out.add(f"tickerbeat_dispatch_{name}", row[name], provider, kind)
        out.add("tickerbeat_dispatch_undone", undone[(provider, kind)], provider, kind)
        out.add("tickerbeat_dispatch_unbalanced_runs", row["not_adding_up"], provider, kind)
    return out
