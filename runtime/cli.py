"""The wrapper of every ``python -m`` entry point: a user's or the environment's mistake ends the command in
one line on stderr and exit status 2, never a traceback::

    if __name__ == "__main__":
        run_main(main)

- ``SettingsError``: ``tickerbeat: configuration error: VAR: what is wrong and what would be valid``;
- Redis or the database out of reach (``redis.ConnectionError``/``TimeoutError``, ``QuotaUnavailable``,
  SQLAlchemy's ``OperationalError``, ``StorageError``): what was tried, password masked, and what to check;
- ``UsageError``, a mistake the user can fix (a bad argument, a busy port): ``tickerbeat: <message>``;
- Ctrl-C: exit status 130, nothing printed.

``Parser`` is argparse with the same one-line errors (exit status 2, no usage block).

Anything else is a bug and keeps its traceback. ``storage`` and ``sandbox`` may not import this module
(docs/architecture.md); their entry points print the same kind of line themselves.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from typing import NoReturn

USAGE = 2
INTERRUPTED = 130


class UsageError(Exception):
    """A mistake the user can fix (a bad argument, a busy port, a file that cannot be read): its message is
    the whole line, without the ``tickerbeat:`` prefix."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``<prog>: error: <what is wrong>`` and exit status 2, no usage block
    (``--help`` prints it). Subcommands' parsers are of the same class."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"{self.prog}: error: {message}\n")


def positive_seconds(text: str) -> float:
    """An argparse ``type``: a finite number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, got {text!r}")
    return value


def run_main(main: Callable[[], int | None]) -> NoReturn:
    """Run ``main()`` and exit with its status (None: 0); see the module docstring for what is caught."""
    sys.exit(outcome(main))


def outcome(main: Callable[[], int | None]) -> int:
    """``main()``'s exit status, with a known mistake printed as one line on stderr (status 2)."""
    try:
        return main() or 0
    except KeyboardInterrupt:
        return INTERRUPTED
    except Exception as exc:
        line = describe(exc)
        if line is None:
            raise
        print(line, file=sys.stderr, flush=True)
        return USAGE


def describe(exc: BaseException) -> str | None:
    """The one line that reports ``exc``, or None when it is a bug (the traceback is then the report)."""
    # Imported here: a command that never reaches them (stack.logs, the dashboard) starts without them.
    import redis
    from sqlalchemy.exc import OperationalError

    from ratelimits import QuotaUnavailable
    from runtime.settings import SettingsError
    from runtime.variables import BY_NAME
    from storage.engine import redact
    from storage.errors import StorageError

    if isinstance(exc, QuotaUnavailable) and isinstance(exc.__cause__, OperationalError | StorageError):
        exc = exc.__cause__  # the quota journal's database, not Redis, is what failed
    if isinstance(exc, SettingsError):
        line = f"tickerbeat: configuration error: {_first(exc)}"
    elif isinstance(exc, UsageError):
        line = f"tickerbeat: {_first(exc)}"
    elif isinstance(exc, redis.ConnectionError | redis.TimeoutError | QuotaUnavailable):
        url = os.environ.get("REDIS_URL") or BY_NAME["REDIS_URL"].default
        line = (
            f"tickerbeat: cannot reach Redis ({_first(exc)}); REDIS_URL is {url}: check that redis-server "
            "is running there (CELERY_BROKER_URL and REDBEAT_REDIS_URL, when set, override it)"
        )
    elif isinstance(exc, OperationalError):
        url = os.environ.get("DATABASE_URL") or BY_NAME["DATABASE_URL"].default
        line = (
            f"tickerbeat: the database {url} lacks tickerbeat's schema ({_first(getattr(exc, 'orig', None) or exc)})"
            "; run `make migrate` (a worker also migrates it when it starts)"
            if "no such table" in str(exc) or ('relation "' in str(exc) and "does not exist" in str(exc))
            else f"tickerbeat: cannot reach the database {url} ({_first(getattr(exc, 'orig', None) or exc)}); "
            "check DATABASE_URL and that the database server is running"
        )
    elif isinstance(exc, StorageError):
        line = (
            f"tickerbeat: database: {_first(exc)}; check DATABASE_URL and that the database server is running"
        )
    else:
        return None
    return redact(line)


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__
