"""The pure analysis core: indicators, data quality, the forward-return model, recommendations, the report.

Arrays and records in, results out. Nothing here imports storage, Redis, Celery, HTTP, providers or
``worker``; the tasks wire it to the rest. docs/analysis.md states the formulas, the label, the validation
and the limits of what the model can claim.
"""
