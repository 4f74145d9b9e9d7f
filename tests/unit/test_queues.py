"""The queue declaration is the one list: routes, Celery queues and task modules all come from it."""

import pytest

from runtime.queues import BY_NAME, PROVIDERS, QUEUE_NAMES, QUEUES, queue_for_task, task_modules
from runtime.settings import Settings
from worker.app import celery_config, route_task


def test_the_design_cards_queues_are_declared_once():
    assert set(QUEUE_NAMES) == {
        "finnhub",
        "alphavantage",
        "polygon",
        "yahoo",
        "compute",
        "control",
        "maintenance",
    }
    assert len(QUEUE_NAMES) == len(set(QUEUE_NAMES))
    assert set(PROVIDERS) == {"finnhub", "alphavantage", "polygon", "yahoo"}


def test_each_module_belongs_to_exactly_one_queue():
    modules = task_modules()
    assert len(modules) == len(set(modules))


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("tasks.finnhub.fetch_quote", "finnhub"),
        ("tasks.polygon.fetch_grouped_daily", "polygon"),
        ("tasks.analysis.analyse_run", "compute"),
        ("tasks.maintenance.backup", "maintenance"),
        ("tasks.planner.plan_refresh", "control"),
        ("tasks.dispatch.feed", "control"),
        ("celery.chord_unlock", None),
        ("tasks.finnhubx.fetch", None),
    ],
)
def test_routing_by_module(task, queue):
    assert queue_for_task(task) == queue
    route = route_task(task, (), {}, {})
    assert (route or {}).get("queue") == queue


def test_celery_config_is_derived_from_the_declaration():
    conf = celery_config(Settings.from_env({}))
    assert [q.name for q in conf["task_queues"]] == list(QUEUE_NAMES)
    assert conf["task_default_queue"] in BY_NAME
    assert conf["task_acks_late"] and conf["worker_prefetch_multiplier"] == 1
    assert conf["broker_transport_options"]["visibility_timeout"] >= 60
    # a standby beat must be able to take over within a minute
    assert conf["redbeat_lock_timeout"] <= 60
    assert conf["beat_max_loop_interval"] < conf["redbeat_lock_timeout"]


def test_provider_queues_prefetch_one():
    for q in QUEUES:
        if q.provider:
            assert q.prefetch == 1 and q.pool == "api_calls"
