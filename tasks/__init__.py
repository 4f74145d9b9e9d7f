"""Thin Celery tasks: one module per queue's work. The only place that wires providers, the quota
engine, storage and analysis together (through ``runtime.resources``)."""
