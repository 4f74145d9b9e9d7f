"""Pure planning: how many calls a quota can serve in a window, what to enqueue now and what to carry,
and the day's capacity plan. No Redis, Celery or storage: numbers and lists in, decisions out."""

from planning.admission import Admission, admit, calls_in, remaining_calls
from planning.capacity import CapacityRow, DailyWork, capacity_plan, work_for

__all__ = [
    "Admission",
    "CapacityRow",
    "DailyWork",
    "admit",
    "calls_in",
    "capacity_plan",
    "remaining_calls",
    "work_for",
]
