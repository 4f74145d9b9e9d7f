"""Celery tasks, one module per queue's work: wrappers of a few lines that take the process's resources
(``runtime.resources.current()``) and the clock, and call the job in ``jobs/`` that does the work."""
