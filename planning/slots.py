"""Whether a beat-fired message may run its slot, given the slot's claim: one pure decision, no I/O.

A slot is one firing of a schedule entry (``beat_schedule.Firing.key``); its claim (``storage.slots``)
names the message (task id) that runs it and how far it got. The rules, in order:

1. no claim: the message claims the slot and runs it;
2. the claim is the message's own (a redelivery after its worker died, or a pool-full retry): it runs
   again, unless it already finished (``done``: the worker died between finishing and acknowledging);
3. another message finished the slot (``done``): skipped, "already ran";
4. another message's attempt failed (``failed``): this one takes the slot over;
5. another message holds it ``running``: skipped, unless that claim is older than the hard time limit,
   when its holder cannot be alive (the worker kills a task at its hard limit): this one takes it over.

Times are aware datetimes; ``hard_limit`` is the task's hard time limit in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Claim:
    """A slot's claim as stored: its holder, state (running | done | failed), attempts and the start of
    its current attempt."""

    task_id: str
    state: str
    attempts: int
    started_at: datetime


@dataclass(frozen=True)
class Decision:
    """``run``: the message runs the slot (claiming it); ``takeover``: from another message; ``reason``:
    why, in words (the skip reason a skipped message returns)."""

    run: bool
    reason: str
    takeover: bool = False


ALREADY_RAN = "already ran"


def decide(claim: Claim | None, task_id: str, now: datetime, hard_limit: float) -> Decision:
    """What the message ``task_id`` does with a slot whose claim is ``claim`` (None: unclaimed) at ``now``."""
    if claim is None:
        return Decision(True, "first claim")
    if claim.task_id == task_id:
        if claim.state == "done":
            return Decision(False, ALREADY_RAN)
        return Decision(True, f"delivered again (attempt {claim.attempts + 1})")
    if claim.state == "done":
        return Decision(False, ALREADY_RAN)
    if claim.state == "failed":
        return Decision(True, f"taken over from {claim.task_id}, whose attempt failed", takeover=True)
    age = (now - claim.started_at).total_seconds()
    if age > hard_limit:
        why = f"taken over from {claim.task_id}, silent for {age:.0f} s (hard time limit {hard_limit:g} s)"
        return Decision(True, why, takeover=True)
    return Decision(False, f"running as {claim.task_id} since {age:.0f} s")
