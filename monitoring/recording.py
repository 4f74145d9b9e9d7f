"""Where workers and beat leave the numbers the exporter serves: a few Redis hashes under ``tickerbeat:metrics:*``.

Every process writes with HINCRBY/HINCRBYFLOAT, so counts from any number of processes and hosts add up
in Redis and a recycled or killed pool child loses nothing it already wrote. The exporter
(``monitoring.collector``) reads the same keys at scrape time. This module is pure of Celery: it
receives a Redis client (``decode_responses`` or not) and makes ONE pipelined round trip per call.

Layout (field names are JSON arrays of label values, so no label value can be mistaken for another):

- ``tickerbeat:metrics:calls``          ``[provider, endpoint, outcome]`` -> provider calls (integer)
- ``tickerbeat:metrics:call_seconds``   histogram of HTTP time per ``[provider, endpoint]``
- ``tickerbeat:metrics:tasks``          ``[task, queue, state]`` -> finished task runs (integer)
- ``tickerbeat:metrics:task_seconds``   histogram of task run time per ``[task, queue]``
- ``tickerbeat:metrics:store_records``  ``[provider, outcome]`` -> records of answers stored or refused
- ``tickerbeat:metrics:store_failures`` ``[provider, outcome]`` -> store steps the database did not take
  (retried, unavailable, held)
- ``tickerbeat:metrics:redrives``       ``[provider, outcome]`` -> lost releases requeued or given up
- ``tickerbeat:metrics:dead_letters``   ``[task, queue]`` -> messages dead-lettered (integer)
- ``tickerbeat:metrics:worker:<host>``  a live worker: ``queues`` (comma list), ``processes``, ``busy``;
  expires ``WORKER_TTL_SECONDS`` after its last refresh, so a killed worker disappears by itself
- ``tickerbeat:metrics:workers``        set of worker hostnames (index of the hashes above)
- ``tickerbeat:beat:last_tick``         the Redis clock (epoch seconds) at the active beat's last tick

A histogram hash holds, per label set, one NON-cumulative count per bucket (field ``[*labels, le]``, where
``le`` is the bucket's upper bound as written in ``*_BUCKETS``, ``"+Inf"`` for the last) and the sum of
observations (field ``[*labels, "sum"]``, seconds). The exporter makes the buckets cumulative.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Iterable, Mapping, Sequence

PREFIX = "tickerbeat:metrics"
CALLS_KEY = f"{PREFIX}:calls"
CALL_SECONDS_KEY = f"{PREFIX}:call_seconds"
TASKS_KEY = f"{PREFIX}:tasks"
TASK_SECONDS_KEY = f"{PREFIX}:task_seconds"
STORE_RECORDS_KEY = f"{PREFIX}:store_records"
STORE_FAILURES_KEY = f"{PREFIX}:store_failures"
REDRIVES_KEY = f"{PREFIX}:redrives"
# The outcomes each of those counts, every one served (0 until it happens) for every provider.
STORE_RECORD_OUTCOMES = ("stored", "refused")
STORE_FAILURE_OUTCOMES = ("retried", "unavailable", "held")
REDRIVE_OUTCOMES = ("requeued", "given_up")
WORKERS_KEY = f"{PREFIX}:workers"
DEAD_LETTERS_KEY = f"{PREFIX}:dead_letters"
BEAT_TICK_KEY = "tickerbeat:beat:last_tick"

# Upper bounds in seconds. HTTP calls: the sandbox answers in milliseconds, real providers in tenths of a
# second, read timeouts are 30 s. Tasks: a quote fetch takes milliseconds plus its quota wait (up to 30 s),
# a day's analysis minutes.
CALL_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TASK_BUCKETS: tuple[float, ...] = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)

# A worker refreshes its hash every WORKER_REFRESH_SECONDS; missing a few refreshes means it is gone.
WORKER_REFRESH_SECONDS = 2.0
WORKER_TTL_SECONDS = 15

SUM = "sum"
INF = "+Inf"


def worker_key(hostname: str) -> str:
    return f"{PREFIX}:worker:{hostname}"


def field(*labels: str) -> str:
    """The hash field for a label set: a compact JSON array."""
    return json.dumps([str(v) for v in labels], separators=(",", ":"))


def parse_field(raw: bytes | str) -> list[str] | None:
    """The label values of a field, or None when it is not one of ours (ignored, never fatal)."""
    try:
        values = json.loads(raw)
    except (TypeError, ValueError):
        return None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        return None
    return values


def bound_text(bound: float) -> str:
    """How a bucket bound is written in a field: ``repr`` of the float, ``+Inf`` for infinity."""
    return INF if math.isinf(bound) else repr(float(bound))


def bucket_for(seconds: float, buckets: Sequence[float]) -> str:
    """The ``le`` text of the first bucket whose upper bound is >= ``seconds``."""
    i = bisect.bisect_left(buckets, seconds)
    return bound_text(buckets[i]) if i < len(buckets) else INF


def _observe(pipe, key: str, labels: Sequence[str], seconds: float, buckets: Sequence[float]) -> None:
    seconds = max(0.0, float(seconds))
    pipe.hincrby(key, field(*labels, bucket_for(seconds, buckets)), 1)
    pipe.hincrbyfloat(key, field(*labels, SUM), seconds)


def _valid_seconds(seconds: float | None) -> bool:
    return isinstance(seconds, int | float) and math.isfinite(seconds)


def record_call(r, provider: str, endpoint: str | None, outcome: str, seconds: float | None) -> None:
    """Count one provider call and, when it reached the network, its HTTP time (``seconds``; None when no
    request was sent, e.g. deferred by our quota). One pipelined round trip; raises redis errors."""
    pipe = r.pipeline(transaction=False)
    endpoint = endpoint or "none"
    pipe.hincrby(CALLS_KEY, field(provider, endpoint, outcome), 1)
    if _valid_seconds(seconds):
        _observe(pipe, CALL_SECONDS_KEY, (provider, endpoint), seconds, CALL_BUCKETS)
    pipe.execute()


def record_counts(r, key: str, provider: str, counts: Mapping[str, int]) -> None:
    """Add ``counts`` (outcome -> n; zeros skipped) to the ``[provider, outcome]`` counters of ``key``
    (``STORE_RECORDS_KEY``, ``STORE_FAILURES_KEY`` or ``REDRIVES_KEY``). One pipelined round trip at most;
    raises redis errors."""
    pipe = r.pipeline(transaction=False)
    for outcome, n in counts.items():
        if n:
            pipe.hincrby(key, field(provider, outcome), int(n))
    if len(pipe):
        pipe.execute()


def served_counts(raw: Mapping[bytes | str, bytes | str], providers: Iterable[str], outcomes: Sequence[str]
                  ) -> dict[tuple[str, str], float]:  # fmt: skip
    """A ``[provider, outcome]`` counter hash decoded, with 0 for every provider and outcome not counted
    yet (so the series exist before the first event)."""
    return {**{(p, o): 0.0 for p in providers for o in outcomes}, **counts(raw, 2)}


def record_task(r, task: str, queue: str, state: str, seconds: float | None) -> None:
    """Count one finished task run in ``state`` (Celery's state, lower-cased: success, failure, retry, ...)
    and its run time (``seconds``; None when unknown, e.g. a hard time limit killed the process).
    One pipelined round trip; raises redis errors."""
    pipe = r.pipeline(transaction=False)
    pipe.hincrby(TASKS_KEY, field(task, queue, state.lower()), 1)
    if _valid_seconds(seconds):
        _observe(pipe, TASK_SECONDS_KEY, (task, queue), seconds, TASK_BUCKETS)
    pipe.execute()


def record_dead_letter(r, task: str, queue: str) -> None:
    """Count one message kept as a dead letter instead of run again (jobs/dead_letters.py)."""
    r.hincrby(DEAD_LETTERS_KEY, field(task, queue), 1)


def record_worker(
    r, hostname: str, queues: Iterable[str], processes: int, busy: int, ttl: int = WORKER_TTL_SECONDS
) -> None:
    """Refresh a live worker: the queues it consumes, its pool size and how many of its processes run a
    task now. Expires ``ttl`` seconds after the last refresh. One pipelined round trip."""
    key = worker_key(hostname)
    pipe = r.pipeline(transaction=False)
    pipe.hset(
        key, mapping={"queues": ",".join(sorted(queues)), "processes": int(processes), "busy": int(busy)}
    )
    pipe.expire(key, int(ttl))
    pipe.sadd(WORKERS_KEY, hostname)
    pipe.execute()


def forget_worker(r, hostname: str) -> None:
    """A worker shutting down cleanly: its queues lose a consumer at once, not after the TTL."""
    pipe = r.pipeline(transaction=False)
    pipe.delete(worker_key(hostname))
    pipe.srem(WORKERS_KEY, hostname)
    pipe.execute()


# KEYS[1]: the last-tick key. Stores the Redis server's clock (epoch seconds with microseconds), returns it.
_TICK_LUA = """
local t = redis.call('TIME')
local v = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
redis.call('SET', KEYS[1], v)
return v
"""


def record_beat_tick(r) -> float:
    """Stamp the active beat's tick with the Redis server's clock; returns the stamp (epoch seconds)."""
    return float(_text(r.eval(_TICK_LUA, 1, BEAT_TICK_KEY)))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def cumulative(
    raw: Mapping[bytes | str, bytes | str], buckets: Sequence[float], width: int
) -> dict[tuple[str, ...], tuple[list[tuple[str, float]], float]]:
    """Decode a histogram hash: per label tuple (``width`` labels), the cumulative ``(le, count)`` pairs
    over ``buckets`` plus ``+Inf``, and the sum. A count stored under a bound this layout does not declare
    (an older layout) is folded into the next declared bound above it, so nothing is dropped."""
    bounds = [*buckets, math.inf]
    counts: dict[tuple[str, ...], list[float]] = {}
    sums: dict[tuple[str, ...], float] = {}
    for raw_field, raw_value in raw.items():
        values = parse_field(_text(raw_field))
        if values is None or len(values) != width + 1:
            continue
        labels, le = tuple(values[:width]), values[width]
        try:
            number = float(_text(raw_value))
        except ValueError:
            continue
        if le == SUM:
            sums[labels] = sums.get(labels, 0.0) + number
            continue
        try:
            bound = math.inf if le == INF else float(le)
        except ValueError:
            continue
        slot = counts.setdefault(labels, [0.0] * len(bounds))
        slot[bisect.bisect_left(bounds, bound)] += number
    result = {}
    for labels, per_bucket in counts.items():
        running, pairs = 0.0, []
        for bound, n in zip(bounds, per_bucket, strict=True):
            running += n
            pairs.append((bound_text(bound), running))
        result[labels] = (pairs, sums.get(labels, 0.0))
    return result


def counts(raw: Mapping[bytes | str, bytes | str], width: int) -> dict[tuple[str, ...], float]:
    """Decode a counter hash: label tuple (``width`` values) -> count."""
    result: dict[tuple[str, ...], float] = {}
    for raw_field, raw_value in raw.items():
        values = parse_field(_text(raw_field))
        if values is None or len(values) != width:
            continue
        try:
            result[tuple(values)] = float(_text(raw_value))
        except ValueError:
            continue
    return result
