"""Reading a provider's answer never raises: whatever arrives becomes a classified outcome.

An answer is input from outside, so any exception while reading it is the answer's fault, never a
reason to fail the task (an ``OverflowError`` from a date in year 9999, a number too large for a float, a
``RecursionError`` from deeply nested JSON, a ``csv.Error`` from an overlong field):

- ``classifier`` wraps a module's ``classify``: an exception becomes a BAD_DATA verdict;
- ``parser`` wraps a parse function: an exception becomes ``BadBody``, which the client reports as
  BAD_DATA (``providers.base.PARSE_ERRORS``);
- ``each`` builds one record per row: a row whose building raises is dropped and counted, so one bad row
  never costs the answer's other rows (a grouped-daily answer holds ~12,000).

Exception types a malformed body is expected to cause (``EXPECTED``) are reported in one line; any other
type is logged with its traceback too, since it more likely means a bug in the parser than in the body.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from typing import ParamSpec, TypeVar

from providers.results import Outcome, Verdict
from providers.wire import BadBody, snippet

log = logging.getLogger("providers")

# What a malformed body makes parsing code raise; anything else is logged with its traceback.
EXPECTED = (ValueError, TypeError, KeyError, IndexError, AttributeError, ArithmeticError, RecursionError)

P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R")


def _reason(exc: BaseException) -> str:
    """``Type: message``, one line, short and redacted (a message may quote the body)."""
    return f"{type(exc).__name__}: {snippet(str(exc), 120)}"


def _report(where: str, exc: Exception) -> None:
    if not isinstance(exc, EXPECTED):
        log.warning("%s: unexpected %s while reading an answer", where, type(exc).__name__, exc_info=exc)


def parser(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` raising only ``BadBody``: any other exception is turned into one, with its reason."""

    @functools.wraps(fn)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except BadBody:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure to read the answer is its fault
            _report(fn.__qualname__, exc)
            raise BadBody(f"unreadable answer: {_reason(exc)}") from None

    return guarded


def classifier(provider: str) -> Callable[[Callable[P, Verdict]], Callable[P, Verdict]]:
    """A ``classify`` that always returns a verdict: an exception reading the answer is BAD_DATA."""

    def wrap(fn: Callable[P, Verdict]) -> Callable[P, Verdict]:
        @functools.wraps(fn)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> Verdict:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - any failure to read the answer is its fault
                _report(f"{provider} classify", exc)
                return Verdict(Outcome.BAD_DATA, f"{provider}: unreadable answer: {_reason(exc)}")

        return guarded

    return wrap


def each(rows: Iterable[T], build: Callable[[T], R | None], where: str) -> tuple[list[R], int]:
    """``build(row)`` for every row: (the records built, rows dropped). A row is dropped when ``build``
    returns None (a row the endpoint's form rules out, e.g. an OTC symbol) or raises (a malformed row);
    the first exception's reason is logged once per answer with the count of such rows."""
    built: list[R] = []
    dropped = failed = 0
    first: Exception | None = None
    for row in rows:
        try:
            record = build(row)
        except Exception as exc:  # noqa: BLE001 - any failure to read the answer is its fault
            failed += 1
            first = first or exc
            record = None
        if record is None:
            dropped += 1
        else:
            built.append(record)
    if first is not None:
        _report(where, first)
        log.warning("%s: %d malformed rows dropped, the first: %s", where, failed, _reason(first))
    return built, dropped
