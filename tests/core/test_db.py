"""The lean row helpers of the ingest hot path write and read exactly what the ORM would, on either database."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from postroom.core.db import fetch_row, insert_row, insert_rows, update_row
from postroom.inbound.models import InboundMessage
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import Contact

pytestmark = pytest.mark.django_db


def build_row(source_key: str) -> InboundMessage:
    return InboundMessage(
        tenant=get_default_tenant(),
        source_kind="test",
        source_key=source_key,
        raw_sha256="0" * 64,
        raw_size=3,
        envelope_to=["support@example.com"],
        received_at=dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC),
        tracking_id=f"prt-{source_key}",
        trace=[{"stage": "parse", "verdict": "parsed"}],
    )


def test_insert_row_sets_the_pk_and_the_orm_reads_the_same_values() -> None:
    """GIVEN a ledger row WHEN inserted lean THEN it has a pk, auto_now_add was set, and the ORM reads it back equal."""
    row = build_row("a")
    assert insert_row(row) is True
    stored = InboundMessage.objects.get(pk=row.pk)
    assert stored.envelope_to == ["support@example.com"]
    assert stored.trace == [{"stage": "parse", "verdict": "parsed"}]
    assert stored.received_at == row.received_at
    assert stored.created_at == row.created_at is not None


def test_insert_row_skips_a_unique_conflict_without_breaking_the_transaction() -> None:
    """GIVEN a source key already in the ledger WHEN inserted with ignore_conflicts THEN False, and the
    transaction goes on (no savepoint needed)."""
    with transaction.atomic():
        assert insert_row(build_row("same"), ignore_conflicts=True) is True
        second = build_row("same")
        second.tracking_id = "prt-other"
        assert insert_row(second, ignore_conflicts=True) is False
        assert second.pk is None
        assert insert_row(build_row("next"), ignore_conflicts=True) is True
    assert InboundMessage.objects.count() == 2


def test_fetch_row_converts_like_the_orm_and_update_row_writes_back() -> None:
    """GIVEN a stored row WHEN fetched lean, changed and updated THEN JSON and datetimes round-trip."""
    row = build_row("b")
    insert_row(row)
    fetched = fetch_row(InboundMessage, "id = %s", [row.pk], for_update=True)
    assert fetched is not None
    assert fetched.trace == row.trace and fetched.received_at == row.received_at
    assert fetched.tenant_id == row.tenant_id and fetched.mailbox_id is None
    fetched.trace = [*fetched.trace, {"stage": "persist", "verdict": "created"}]
    fetched.status = "processed"
    assert update_row(fetched, ["trace", "status"]) == 1
    stored = InboundMessage.objects.get(pk=row.pk)
    assert stored.status == "processed" and len(stored.trace) == 2
    assert fetch_row(InboundMessage, "id = %s", [row.pk + 1000]) is None


def test_insert_rows_sets_every_pk_in_order() -> None:
    """GIVEN three contacts WHEN inserted in one statement THEN each has its own pk, in order."""
    tenant = get_default_tenant()
    contacts = [Contact(tenant=tenant, email=f"c{i}@example.org", email_key=f"c{i}@example.org") for i in range(3)]
    insert_rows(contacts)
    assert [Contact.objects.get(pk=c.pk).email for c in contacts] == [c.email for c in contacts]
