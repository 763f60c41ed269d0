"""PostgreSQL: ticket numbers from a per-tenant sequence, taken without a row lock held to the commit.

The UPDATE ... RETURNING on `tickets_ticketsequence` locked the tenant's counter row until the taking transaction
committed, so concurrent workers creating tickets queued behind each other for the whole pipeline transaction, and
a worker holding the counter while waiting for another's uncommitted contact deadlocked (deadlock_timeout, 1 s).
A sequence hands out numbers without waiting; a rolled-back ticket leaves a gap, as in Request Tracker.
The function creates the tenant's sequence on first use, seeded from the counter row and the highest number in
use, so an installation upgraded with tickets in it goes on where it stopped. SQLite keeps the counter row (its
writers are serialised anyway).
"""

from django.db import migrations

CREATE_FUNCTION = r"""
CREATE OR REPLACE FUNCTION postroom_next_ticket_number(tenant bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    seq text := 'tickets_number_t' || tenant;
    start bigint;
BEGIN
    BEGIN
        RETURN nextval(seq);
    EXCEPTION WHEN undefined_table THEN
        NULL;  -- first ticket of this tenant since the upgrade: create its sequence below
    END;
    SELECT GREATEST(
        COALESCE((SELECT next_number FROM tickets_ticketsequence WHERE tenant_id = tenant), 1),
        COALESCE((SELECT max(number) + 1 FROM tickets_ticket WHERE tenant_id = tenant), 1)
    ) INTO start;
    BEGIN
        EXECUTE format('CREATE SEQUENCE %I START WITH %s', seq, start);
    EXCEPTION WHEN duplicate_table OR unique_violation THEN
        NULL;  -- a concurrent transaction created it first
    END;
    RETURN nextval(seq);
END;
$$;
"""

DROP_FUNCTION = "DROP FUNCTION IF EXISTS postroom_next_ticket_number(bigint);"


def create_function(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_FUNCTION, None)  # no placeholders: % is format()'s


def drop_function(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_FUNCTION)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0002_conversations")]

    operations = [migrations.RunPython(create_function, drop_function)]
