"""``python -m storage migrate|current|backup|restore``: the database's schema, backups and restores.

    python -m storage migrate [--url URL]
    python -m storage backup [--url URL] [--dir DIR] [--keep 7]
    python -m storage restore FILE [--url URL] [--yes]

The URL defaults to ``DATABASE_URL``, else ``sqlite:///var/tickerbeat.db``; the backup directory to
``$TICKERBEAT_DATA_DIR/backups`` (``var/backups``), where the nightly backup task writes too. ``restore``
replaces the whole database: it asks first on a terminal and needs ``--yes`` otherwise. Errors print one
line (no traceback, no password) and exit with status 2; an unusable ``DATABASE_URL`` is reported as
``tickerbeat: configuration error: DATABASE_URL: …``, as every entry point does (``runtime.cli``, which this
package may not import).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from storage.engine import DEFAULT_URL, check_url, redact
from storage.errors import StorageError


def default_backup_dir() -> Path:
    return Path(os.environ.get("TICKERBEAT_DATA_DIR") or "var") / "backups"


class _Parser(argparse.ArgumentParser):
    """One-line usage errors, exit status 2 (``--help`` prints the usage)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m storage", description="tickerbeat's database")
    commands = parser.add_subparsers(dest="command", required=True)
    found = {}
    for name, text in (
        ("migrate", "upgrade the schema to the newest revision"),
        ("current", "print the revision"),
        ("backup", "write a consistent copy of the database and keep the newest --keep copies"),
        ("restore", "replace the database with a backup file (stop workers and beat first)"),
    ):
        found[name] = command = commands.add_parser(name, help=text, description=text)
        command.add_argument(
            "--url", help="database URL (default: $DATABASE_URL, else %(default)s)", default=None
        )
    found["backup"].add_argument(
        "--dir", type=Path, default=None, help="backup directory (default var/backups)"
    )
    found["backup"].add_argument("--keep", type=int, default=7, help="copies kept (default %(default)s)")
    found["restore"].add_argument("file", type=Path, help="a tickerbeat-*.sqlite3 or tickerbeat-*.dump file")
    found["restore"].add_argument("--yes", action="store_true", help="do not ask for confirmation")
    return parser


def _confirmed(url: str, file: Path) -> bool:
    if not sys.stdin.isatty():
        print("error: restore replaces the whole database: pass --yes to confirm", file=sys.stderr)
        return False
    answer = input(f"replace every table of {redact(url)} with {file}? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    url = args.url or os.environ.get("DATABASE_URL") or DEFAULT_URL
    if args.command == "backup" and args.keep < 1:
        parser.error(f"--keep must be at least 1, got {args.keep}")
    if not args.url:
        try:
            check_url(url)
        except StorageError as exc:
            print(f"tickerbeat: configuration error: DATABASE_URL: {exc}", file=sys.stderr)
            return 2

    from storage import backup, migrate

    try:
        if args.command == "migrate":
            revision = migrate.upgrade(url)
            print(f"{redact(url)}: schema at revision {revision} (head {migrate.head()})")
        elif args.command == "current":
            print(migrate.current(url) or "none")
        elif args.command == "backup":
            path = backup.backup(url, args.dir or default_backup_dir(), keep=args.keep)
            print(f"{redact(url)}: backed up to {path}")
        else:
            if not args.yes and not _confirmed(url, args.file):
                return 2
            backup.restore(url, args.file)
            print(f"{redact(url)}: restored from {args.file}")
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
