"""Celery app, typed settings, queue declarations. ``celery -A worker ...`` uses ``worker.app``."""

from worker.app import app, settings

__all__ = ["app", "settings"]
