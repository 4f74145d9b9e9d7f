"""The one exception type of ``storage``: a user or configuration mistake, stated without secrets."""

from __future__ import annotations


class StorageError(ValueError):
    """An unusable database URL, a malformed record or a failed migration.

    Messages name the table, record index and field at fault and never contain a password.
    """
