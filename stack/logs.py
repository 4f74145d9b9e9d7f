"""``make clean-logs``: delete log files not written to for more than ``--keep-days`` days (default 7).

    python -m stack.logs [--dir var/logs] [--keep-days 7] [--dry-run]

Every regular file under the directory counts (``make run`` writes ``var/logs/<process>.log``, rotated
copies included); a file's age is the time since it was last modified, so the log of a process that is
still running is never deleted. Symbolic links are not followed and directories are left in place.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from runtime.cli import Parser, run_main

DAY_SECONDS = 86400
DEFAULT_KEEP_DAYS = 7  # the seed's retention


def expired(files: Iterable[tuple[str, float]], now: float, keep_days: float) -> list[str]:
    """Names of the ``(name, mtime)`` files older than ``keep_days`` days at ``now`` (epoch seconds)."""
    if keep_days < 0:
        raise ValueError(f"keep_days must be >= 0, got {keep_days}")
    cutoff = now - keep_days * DAY_SECONDS
    return [name for name, mtime in files if mtime < cutoff]


def log_files(directory: Path) -> list[tuple[str, float]]:
    """``(path, mtime)`` of every regular file under ``directory`` (no symlinks), sorted by path."""
    found = []
    for path in sorted(directory.rglob("*")):
        if path.is_file() and not path.is_symlink():
            found.append((str(path), path.stat().st_mtime))
    return found


def clean(directory: str | Path, keep_days: float = DEFAULT_KEEP_DAYS, *, now: float | None = None,
          dry_run: bool = False) -> list[Path]:  # fmt: skip
    """Delete (unless ``dry_run``) the expired files under ``directory``; returns them. A missing
    directory has nothing to clean."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    old = [Path(name) for name in expired(log_files(folder), time.time() if now is None else now, keep_days)]
    if not dry_run:
        for path in old:
            path.unlink(missing_ok=True)
    return old


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m stack.logs", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="var/logs", help="log directory (default %(default)s)")
    parser.add_argument("--keep-days", type=float, default=DEFAULT_KEEP_DAYS, help="default %(default)s")
    parser.add_argument("--dry-run", action="store_true", help="list what would be deleted")
    args = parser.parse_args(argv)
    if args.keep_days < 0:
        parser.error(f"--keep-days must be >= 0, got {args.keep_days:g}")
    folder = Path(args.dir)
    if folder.exists() and not folder.is_dir():
        parser.error(f"--dir {args.dir!r} is not a directory")
    old = clean(folder, args.keep_days, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    for path in old:
        print(f"{verb} {path}")
    print(f"{verb} {len(old)} log file(s) older than {args.keep_days:g} days under {folder}")
    return 0


if __name__ == "__main__":
    run_main(main)
