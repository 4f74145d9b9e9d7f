"""What each task does, as plain functions over the parts they are given.

A task in ``tasks/`` is a wrapper of a few lines: it takes this process's resources
(``runtime.resources.current()``), the wall clock where one is needed, and calls a function here.
Nothing in ``jobs/`` looks resources up for itself: every function receives ``ctx`` (a
``runtime.resources.Resources``: its database, Redis, limiter, line and clients) or just the session it
needs, so a test builds one from its own Redis and database and calls the function directly.
Pure decisions live one layer further down, in ``planning/``, ``analysis/`` and ``storage/``.
"""
