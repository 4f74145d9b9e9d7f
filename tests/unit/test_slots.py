"""The beat slot decision (``planning.slots.decide``) as one table: what a message does with the slot's
claim, for every state of the claim, its own or another message's, young or past the hard time limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobs.slots import slot_day
from planning.slots import ALREADY_RAN, Claim, decide

NOW = datetime(2026, 12, 1, 5, 31, tzinfo=UTC)
HARD = 660.0  # the control queue's hard time limit


def claim(task_id: str, state: str, age: float, attempts: int = 1) -> Claim:
    return Claim(task_id, state, attempts, NOW - timedelta(seconds=age))


# (case, the slot's claim, run?, takeover?, the reason says)
CASES = [
    ("unclaimed", None, True, False, "first claim"),
    ("redelivery of the running claim", claim("me", "running", 5), True, False, "attempt 2"),
    ("redelivery long after (visibility timeout)", claim("me", "running", 3700, 1), True, False, "attempt 2"),
    ("redelivery after its own failure", claim("me", "failed", 5, 2), True, False, "attempt 3"),
    ("redelivery after it finished (ack lost)", claim("me", "done", 5), False, False, ALREADY_RAN),
    ("duplicate of a finished slot", claim("other", "done", 5), False, False, ALREADY_RAN),
    ("duplicate of a finished slot, long ago", claim("other", "done", 10 * 86400), False, False, ALREADY_RAN),
    ("duplicate while it runs", claim("other", "running", 30), False, False, "running as other"),
    ("duplicate at exactly the hard limit", claim("other", "running", HARD), False, False, "running as other"),
    ("duplicate past the hard limit: holder dead", claim("other", "running", HARD + 1), True, True, "silent for 661 s"),
    ("duplicate after a failure", claim("other", "failed", 5), True, True, "attempt failed"),
    ("a clock behind the claim's", claim("other", "running", -30), False, False, "running as other"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "held", "run", "takeover", "says"), CASES, ids=[c[0] for c in CASES])
def test_what_a_message_does_with_the_slots_claim(case, held, run, takeover, says):
    decision = decide(held, "me", NOW, HARD)
    assert (decision.run, decision.takeover) == (run, takeover)
    assert says in decision.reason


def test_a_slots_day_is_read_from_its_key():
    assert slot_day("2026-11-30@00:30").isoformat() == "2026-11-30"
