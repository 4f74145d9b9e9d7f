"""What every process shares, as a leaf that imports no task and no app: the settings (read once), the
one declaration of queues and pools, the provider plans, the per-process resources (Redis, the quota
engine, the dispatcher's line, the database, provider clients) and the names of tickerbeat's Redis keys.

``worker/`` assembles the Celery app from it; ``tasks/``, ``monitoring/`` and ``stack/`` use it.
"""
