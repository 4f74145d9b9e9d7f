"""Pure planning: how many calls a quota can serve in a window, what to enqueue now and what to carry,
and the day's capacity plan against each quota's shape. No Redis, Celery or storage: numbers and lists in,
decisions out."""

from planning.admission import Admission, admit, calls_in
from planning.capacity import CapacityPlan, DailyWork, RunRow, capacity_plan, simulate_day, work_for
from planning.history import HistoryRow, history_sessions

__all__ = [
    "Admission",
    "CapacityPlan",
    "DailyWork",
    "HistoryRow",
    "RunRow",
    "admit",
    "calls_in",
    "capacity_plan",
    "history_sessions",
    "simulate_day",
    "work_for",
]
