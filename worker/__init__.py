"""Celery app (``worker.celery``), typed settings, queue declarations, signals.

Importing this package builds nothing: the app is created when ``worker.celery`` is imported, so a
process can set its environment first.
"""
