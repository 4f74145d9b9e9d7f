"""Celery workers (one per declared queue) and beat, as local processes.

Used by ``make demo``, ``make run`` and the pipeline tests. Queue names, concurrency and prefetch come
from ``runtime.queues.QUEUES``; nothing here lists a queue.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from runtime.queues import QUEUES, QueueSpec


def worker_command(q: QueueSpec, loglevel: str = "WARNING", concurrency: int | None = None) -> list[str]:
    """The ``celery worker`` command line that consumes ``q``."""
    return [
        sys.executable, "-m", "celery", "-A", "worker", "worker", "-Q", q.name, "-n", f"{q.name}@%h",
        "-c", str(concurrency or q.concurrency), "--prefetch-multiplier", str(q.prefetch),
        "-O", "fair", "--without-gossip", "--without-mingle", "-l", loglevel,
    ]  # fmt: skip


def beat_command(loglevel: str = "INFO") -> list[str]:
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "worker",
        "beat",
        "-S",
        "redbeat.RedBeatScheduler",
        "-l",
        loglevel,
    ]


class ProcessSet:
    """Child processes started together and stopped together (TERM, then KILL after a grace period)."""

    def __init__(self, env: Mapping[str, str], log_dir: Path, cwd: Path | None = None) -> None:
        self.env = {**os.environ, **env}
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.cwd = cwd or Path(__file__).resolve().parent.parent
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child's lifetime
        proc = subprocess.Popen(
            command, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.procs[name] = proc
        return proc

    def start_workers(
        self,
        queues: Iterable[QueueSpec] = QUEUES,
        loglevel: str = "WARNING",
        concurrency: Mapping[str, int] | None = None,
    ) -> None:
        for q in queues:
            self.start(f"worker-{q.name}", worker_command(q, loglevel, (concurrency or {}).get(q.name)))

    def check_alive(self) -> None:
        dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
        if dead:
            raise RuntimeError(f"processes exited: {dead}; see the logs in {self.log_dir}")

    def stop(self, grace: float = 15.0) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()

    def __enter__(self) -> ProcessSet:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
