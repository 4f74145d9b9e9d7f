"""Time limits per queue (``runtime.queues``) against the settings they must respect: no task can still run
when the broker delivers its message again, a released call's task ends before its release is presumed
lost, and the fetch limits leave room for the longest waits a fetch task makes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobs.fetching import POOL_WAIT_SECONDS
from runtime.queues import QUEUES, time_limits
from runtime.settings import Settings
from runtime.variables import spec
from worker.app import make_app

DEFAULTS = Settings.from_env({})
VISIBILITY_MIN = int(spec("TICKERBEAT_VISIBILITY_TIMEOUT_SECONDS").minimum)


@pytest.mark.parametrize("q", QUEUES, ids=[q.name for q in QUEUES])
def test_every_queue_declares_a_soft_limit_below_its_hard_limit_below_the_visibility_timeout(q):
    assert 0 < q.soft_limit < q.hard_limit < DEFAULTS.visibility_timeout_seconds
    assert time_limits(q, DEFAULTS.visibility_timeout_seconds) == (q.soft_limit, q.hard_limit)


@given(visibility=st.integers(min_value=VISIBILITY_MIN, max_value=10 * 86400))
def test_any_allowed_visibility_timeout_keeps_every_task_inside_it(visibility):
    for q in QUEUES:
        soft, hard = time_limits(q, visibility)
        assert 0 < soft < hard < visibility


@pytest.mark.parametrize("q", [q for q in QUEUES if q.provider], ids=lambda q: q.name)
def test_a_fetch_task_ends_before_its_release_is_presumed_lost(q):
    assert q.hard_limit < DEFAULTS.dispatch_lost_after_seconds
    # the pool wait, the longest quota wait and the longest HTTP call fit under the soft limit
    deadline = float(spec("<P>_DEADLINE_SECONDS").maximum)
    assert POOL_WAIT_SECONDS + DEFAULTS.quota_max_wait_seconds + deadline < q.soft_limit
    assert DEFAULTS.providers[q.name].deadline <= deadline


def test_the_app_gives_every_task_its_queues_limits():
    app = make_app(DEFAULTS)
    app.loader.import_default_modules()
    ours = {name: task for name, task in app.tasks.items() if name.startswith("tasks.")}
    assert len(ours) >= 29
    by_queue = {m: q for q in QUEUES for m in q.modules}
    for name, task in ours.items():
        q = by_queue[name.rpartition(".")[0]]
        assert (task.soft_time_limit, task.time_limit) == (q.soft_limit, q.hard_limit), name
    short = make_app(Settings.from_env({"TICKERBEAT_VISIBILITY_TIMEOUT_SECONDS": "60"}))
    short.loader.import_default_modules()
    assert all(
        0 < t.soft_time_limit < t.time_limit < 60 for n, t in short.tasks.items() if n.startswith("tasks.")
    )
