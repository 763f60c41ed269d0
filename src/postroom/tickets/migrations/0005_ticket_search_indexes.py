"""PostgreSQL: what the ticket list and its search read (postroom.tickets.search).

- `tickets_message.search_vector`: a stored generated column, `to_tsvector('simple', left(subject || ' ' || text,
  100000))`, with the GIN index `message_search_idx`. Stored rather than an expression index because a search for a
  common word rechecks (or filters) hundreds of thousands of rows, and recomputing the tsvector costs ~40 µs a
  message where reading the stored one costs a few (PostgreSQL documentation 12.2.2). Adding it rewrites the
  message table once, under an exclusive lock: about two minutes per million messages on a small server, during
  which ingest waits.
- `ticket_activity_idx`: (tenant, last_message_at DESC, id DESC), the list's keyset order, so any page of "all
  tickets" is an index range scan instead of a sort of the tenant's tickets.

The indexes are built CONCURRENTLY (the migration is not atomic); IF NOT EXISTS makes a rerun safe (an interrupted
concurrent build leaves an INVALID index: drop it by hand first). All of it stays outside Django's model state on
purpose: the column is PostgreSQL-only (SQLite, for small embedded installations, searches with LIKE) and Django
never reads or writes it (inserts name their columns).
"""

from django.db import migrations

VECTOR = "to_tsvector('simple'::regconfig, left(subject || ' ' || text, 100000))"  # search.MESSAGE_VECTOR_SQL
FORWARD = (
    f"ALTER TABLE tickets_message ADD COLUMN IF NOT EXISTS search_vector tsvector GENERATED ALWAYS AS ({VECTOR}) STORED",
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS message_search_idx ON tickets_message USING gin (search_vector)",
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS ticket_activity_idx ON tickets_ticket "
    "(tenant_id, last_message_at DESC, id DESC)",
)
BACKWARD = (
    "DROP INDEX CONCURRENTLY IF EXISTS ticket_activity_idx",
    "DROP INDEX CONCURRENTLY IF EXISTS message_search_idx",
    "ALTER TABLE tickets_message DROP COLUMN IF EXISTS search_vector",
)


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        for statement in FORWARD:
            schema_editor.execute(statement)


def backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        for statement in BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [("tickets", "0004_ticket_priority_assignee_merge")]

    operations = [migrations.RunPython(forward, backward)]
