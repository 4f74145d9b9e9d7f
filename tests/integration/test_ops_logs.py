"""``make clean-logs`` (``python -m stack.logs``): files older than the retention go, the rest stay."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stack.logs import DAY_SECONDS, clean, expired

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("age_days", "keep_days", "gone"),
    [
        (0, 7, False),
        (6.99, 7, False),
        (7.01, 7, True),
        (30, 7, True),
        (1, 0, True),
        (0.5, 1, False),
        (-1, 7, False),  # modified "in the future" (clock skew): kept
    ],
)
def test_expired_by_age(age_days, keep_days, gone):
    assert expired([("f", NOW - age_days * DAY_SECONDS)], NOW, keep_days) == (["f"] if gone else [])


def test_negative_retention_is_refused():
    with pytest.raises(ValueError, match="keep_days"):
        expired([], NOW, -1)


def _touch(path: Path, age_days: float, now: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("log line\n")
    stamp = now - age_days * DAY_SECONDS
    os.utime(path, (stamp, stamp))
    return path


def _tree(root: Path, now: float) -> dict[str, Path]:
    return {
        "fresh": _touch(root / "worker-finnhub.log", 0.1, now),
        "week": _touch(root / "beat.log", 6.5, now),
        "old": _touch(root / "worker-compute.log.1", 8, now),
        "older": _touch(root / "archive" / "2026-10-01" / "worker-control.log", 40, now),
    }


def test_clean_deletes_only_expired_files(tmp_path):
    files = _tree(tmp_path / "logs", NOW)
    outside = _touch(tmp_path / "elsewhere.log", 100, NOW)
    (tmp_path / "logs" / "link.log").symlink_to(outside)
    deleted = clean(tmp_path / "logs", 7, now=NOW)
    assert sorted(deleted) == sorted([files["old"], files["older"]])
    assert files["fresh"].exists() and files["week"].exists()
    assert not files["old"].exists() and not files["older"].exists()
    assert outside.exists() and (tmp_path / "logs" / "archive").is_dir()


def test_dry_run_and_missing_directory(tmp_path):
    files = _tree(tmp_path / "logs", NOW)
    assert len(clean(tmp_path / "logs", 7, now=NOW, dry_run=True)) == 2
    assert all(p.exists() for p in files.values())
    assert clean(tmp_path / "nothing-here", 7, now=NOW) == []


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stack.logs", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)  # fmt: skip


def test_cli_with_the_real_clock(tmp_path):
    files = _tree(tmp_path / "logs", time.time())
    done = _cli("--dir", str(tmp_path / "logs"), "--keep-days", "7")
    assert done.returncode == 0, done.stderr
    assert "deleted 2 log file(s)" in done.stdout
    assert files["fresh"].exists() and files["week"].exists() and not files["old"].exists()
    bad = _cli("--dir", str(tmp_path / "logs"), "--keep-days", "-3")
    assert bad.returncode == 2 and "--keep-days must be >= 0" in bad.stderr and "Traceback" not in bad.stderr
