"""Database helpers shared by apps."""

from __future__ import annotations

from django.db import connection


def relax_commit_durability() -> None:
    """For work that is re-done when lost: this transaction's commit need not wait for the WAL flush.

    PostgreSQL only (`SET LOCAL synchronous_commit = off`); must run inside a transaction. A commit lost in a
    database crash is simply redone from durable state; never use it for a commit someone is acknowledged on.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
