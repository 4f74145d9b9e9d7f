"""Slot claims and dead letters in the database, on SQLite and PostgreSQL: one claim per slot whoever races
for it, compare-and-set take-overs, finishing only by the holder; letters kept once per message, replayed
once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from storage import (
    bury,
    count_dead_letters,
    dead_letter,
    fail_slots_of_task,
    finish_slot,
    list_dead_letters,
    mark_replayed,
    slot_claim,
    slot_claim_of_task,
    take_slot,
)
from storage.errors import StorageError

NOW = datetime(2026, 12, 1, 5, 31, tzinfo=UTC)
SLOT = "2026-11-30@00:30"


def test_a_slot_is_claimed_once_and_taken_over_only_from_the_claim_as_read(db):
    with db.session() as s, s.begin():
        assert take_slot(s, "eod-bars", SLOT, "a", NOW)
        assert not take_slot(s, "eod-bars", SLOT, "b", NOW)  # claimed already
    with db.session() as s, s.begin():
        held = slot_claim(s, "eod-bars", SLOT)
        assert (held.task_id, held.state, held.attempts, held.started_at) == ("a", "running", 1, NOW)
        assert slot_claim_of_task(s, "eod-bars", "a").slot == SLOT
        assert slot_claim_of_task(s, "eod-bars", "b") is None
        stale = slot_claim(s, "eod-bars", SLOT)
    later = NOW + timedelta(hours=1)
    with db.session() as s, s.begin():
        assert take_slot(s, "eod-bars", SLOT, "b", later, replacing=stale)  # "a" is silent: taken over
    with db.session() as s, s.begin():
        assert not take_slot(s, "eod-bars", SLOT, "c", later, replacing=stale)  # read before "b" took it
        held = slot_claim(s, "eod-bars", SLOT)
        assert (held.task_id, held.attempts, held.started_at) == ("b", 2, later)
        assert not finish_slot(s, "eod-bars", SLOT, "a", "done", later)  # "a" no longer holds it
        assert finish_slot(s, "eod-bars", SLOT, "b", "done", later)
        with pytest.raises(StorageError, match="state"):
            finish_slot(s, "eod-bars", SLOT, "b", "running", later)
    with db.session() as s:
        held = slot_claim(s, "eod-bars", SLOT)
        assert (held.state, held.finished_at, held.reason) == ("done", later, None)


def test_racing_claims_for_one_slot_leave_one_holder(db):
    won, barrier = [], threading.Barrier(6)

    def claim(task_id: str) -> None:
        barrier.wait()
        with db.session() as s, s.begin():
            if take_slot(s, "backup", SLOT, task_id, NOW):
                won.append(task_id)

    threads = [threading.Thread(target=claim, args=(f"t{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(won) == 1
    with db.session() as s:
        assert slot_claim(s, "backup", SLOT).task_id == won[0]


def test_a_given_up_message_fails_the_slots_it_holds(db):
    with db.session() as s, s.begin():
        take_slot(s, "backup", SLOT, "x", NOW)
        take_slot(s, "eod-bars", SLOT, "y", NOW)
    with db.session() as s, s.begin():
        assert fail_slots_of_task(s, "x", "killed at its hard time limit", NOW) == [("backup", SLOT)]
        assert fail_slots_of_task(s, "x", "again", NOW) == []  # only running claims
    with db.session() as s:
        held = slot_claim(s, "backup", SLOT)
        assert (held.state, held.reason) == ("failed", "killed at its hard time limit")
        assert slot_claim(s, "eod-bars", SLOT).state == "running"


def test_a_letter_is_kept_once_per_message_and_replayed_once(db):
    letter = {"task": "tasks.maintenance.backup", "task_id": "m1", "queue": "maintenance", "args": [],
              "kwargs": {"_entry": "backup"}, "first_seen": NOW, "reason": "delivered 4 times"}  # fmt: skip
    with db.session() as s, s.begin():
        first = bury(s, **letter, deliveries=4, last_seen=NOW)
        again = bury(s, **letter, deliveries=5, last_seen=NOW + timedelta(minutes=1))
        other = bury(s, **{**letter, "task_id": "m2"}, deliveries=4, last_seen=NOW)
    assert first == again != other
    with db.session() as s, s.begin():
        kept = dead_letter(s, first)
        assert (kept.deliveries, kept.last_seen, kept.kwargs) == (
            5,
            NOW + timedelta(minutes=1),
            {"_entry": "backup"},
        )
        assert count_dead_letters(s) == (2, 0)
        assert mark_replayed(s, first, "m1-replay", NOW)
        assert not mark_replayed(s, first, "m1-again", NOW)
    with db.session() as s:
        assert count_dead_letters(s) == (1, 1)
        assert [x.task_id for x in list_dead_letters(s)] == ["m2", "m1"]
        assert [x.task_id for x in list_dead_letters(s, waiting_only=True)] == ["m2"]
        assert dead_letter(s, first).replayed_as == "m1-replay"
        assert dead_letter(s, 999) is None
