"""``python -m storage migrate [--url URL]``: bring the database to the newest schema.

The URL defaults to ``DATABASE_URL``, else ``sqlite:///var/tickerbeat.db``. Errors print one line (no
traceback, no password) and exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys

from storage.engine import DEFAULT_URL, redact
from storage.errors import StorageError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m storage", description="tickerbeat's database schema")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("migrate", "upgrade the schema to the newest revision"),
        ("current", "print the revision"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument(
            "--url", help="database URL (default: $DATABASE_URL, else %(default)s)", default=None
        )
    args = parser.parse_args(argv)
    url = args.url or os.environ.get("DATABASE_URL") or DEFAULT_URL

    from storage import migrate

    try:
        if args.command == "migrate":
            revision = migrate.upgrade(url)
            print(f"{redact(url)}: schema at revision {revision} (head {migrate.head()})")
        else:
            print(migrate.current(url) or "none")
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
