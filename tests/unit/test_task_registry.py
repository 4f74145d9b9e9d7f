"""Every task is routed to a declared queue, every beat entry names a registered task (Sentry's habit)."""

import pytest

import beat_schedule
from jobs import names
from runtime.queues import QUEUE_NAMES, queue_for_task, task_modules
from worker.celery import app


@pytest.fixture(scope="module")
def registered():
    app.loader.import_default_modules()
    return {name for name in app.tasks if name.startswith("tasks.")}


def test_every_task_module_registers_tasks(registered):
    for module in task_modules():
        assert any(name.startswith(module + ".") for name in registered), module


def test_every_task_routes_to_a_declared_queue(registered):
    for name in registered:
        assert queue_for_task(name) in QUEUE_NAMES, name


def test_every_beat_entry_names_a_registered_task(registered):
    for entry in beat_schedule.ENTRIES:
        assert entry.task in registered, entry.name


def test_tasks_ack_late(registered):
    for name in registered:
        assert app.tasks[name].acks_late, name


def test_every_name_a_job_sends_is_a_registered_task(registered):
    declared = names.declared()
    assert len(declared) >= 18  # the reader sees the constants
    missing = {const: name for const, name in declared.items() if name not in registered}
    assert not missing, missing
