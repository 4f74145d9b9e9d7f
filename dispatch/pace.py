"""How many calls to let out now: pure arithmetic over the quota's bookings.

The horizon is how far ahead a released call may have to wait for its slot: shorter than the worker's
``max_wait``, so a released call is never deferred for lack of quota (only a block or an outside caller
can still take its slot; it then goes back to its place in line).
"""

from __future__ import annotations

from ratelimits import Bookings, Policy, capacity_within


def release_count(policy: Policy, bookings: Bookings, now: float, *, horizon: float, guard: float,
                  in_line: int, in_flight: int) -> int:  # fmt: skip
    """Calls to release now: the slots the quota can grant within ``horizon`` seconds of ``now`` (epoch s),
    less the calls already released and not yet settled, at most what waits in line.

    A released call that already booked its slot is counted twice (in the bookings and in flight) until it
    settles: that errs on the side of releasing less, for a few seconds."""
    if in_line <= 0:
        return 0
    free = capacity_within(policy, bookings, now, horizon, guard, most=in_line + in_flight)
    return max(0, min(in_line, free - in_flight))
