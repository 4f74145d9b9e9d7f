"""Paced dispatch: admitted provider calls wait in a Redis-held line and are let out no faster than the
provider's quota serves them, so no worker ever faces a long wait and nothing admitted is dropped.

It knows Redis and the quota engine's pure schedule arithmetic, nothing of Celery, providers or storage:
``tasks/dispatch.py`` wires it to the workers. See docs/quotas.md ("Paced dispatch").
"""

from dispatch.backlog import Backlog, Closed, Settled
from dispatch.pace import release_count
from dispatch.runs import Ledger, Release, RunSpec

__all__ = ["Backlog", "Closed", "Ledger", "Release", "RunSpec", "Settled", "release_count"]
