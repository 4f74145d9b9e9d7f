"""The process's Celery app: ``celery -A worker worker -Q finnhub`` finds it as ``worker.celery.app``.

Settings are read once from the environment when this module is first imported; a malformed variable
stops the process with a message naming it (a user mistake: no traceback).
"""

from __future__ import annotations

import sys

from runtime.settings import SettingsError, load
from worker.app import make_app

try:
    settings = load()
except SettingsError as exc:
    print(f"tickerbeat: configuration error: {exc}", file=sys.stderr, flush=True)
    raise SystemExit(2) from None  # a user mistake: status 2, as every entry point (runtime/cli.py)

app = make_app(settings)

import worker.control  # noqa: E402,F401  (registers the custom inspect/control commands, CLI included)
import worker.signals  # noqa: E402,F401  (connects the lifecycle hooks)
import worker.telemetry  # noqa: E402,F401  (task and worker metrics, see monitoring/recording.py)
