"""tickerbeat's monitoring: metrics recorded by workers in Redis, one exporter that serves them with the
database's figures at scrape time, Prometheus alert rules and a Grafana dashboard.

- ``monitoring.recording``: what workers and beat write (``record_call``, ``record_task``, ...); no Celery.
- ``monitoring.catalogue``: every metric's name, type, labels and meaning (``docs/metrics.md``).
- ``monitoring.collector``: ``TickerbeatCollector``, read at scrape time; ``python -m monitoring`` serves it.
- ``monitoring.operations``: what operators read and change in Redis (quotas, the day's plan, pauses), for
  the workers' ``celery inspect``/``control`` commands and ``python -m stack.ops`` alike.
- ``prometheus/`` (rules, rule tests, scrape config) and ``grafana/`` (provisioning, dashboard).

Importing this package imports nothing heavy: workers import ``monitoring.recording`` on every task.
"""
