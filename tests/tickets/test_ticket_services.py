"""Ticket numbering and contacts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction

from postroom.mail.values import Address
from postroom.tenants.models import Tenant
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import TicketSequence
from postroom.tickets.services import (
    allocate_ticket_number,
    create_ticket,
    ensure_default_queue,
    upsert_contact,
    upsert_contacts,
)

pytestmark = pytest.mark.django_db


def test_ticket_numbers_count_up_per_tenant() -> None:
    """GIVEN two tenants WHEN numbers are taken THEN each tenant counts from 1 on its own."""
    first = get_default_tenant()
    second = Tenant.objects.create(slug="other", name="Other")
    assert [allocate_ticket_number(first) for _ in range(3)] == [1, 2, 3]
    assert allocate_ticket_number(second) == 1
    assert allocate_ticket_number(first) == 4


def test_ticket_reference_carries_the_prefix_and_six_digits() -> None:
    """GIVEN a new ticket WHEN created THEN its reference reads like PR-000001."""
    tenant = get_default_tenant()
    contact = upsert_contact(tenant, Address("Jane", "jane@example.org"))
    ticket = create_ticket(
        tenant=tenant,
        queue=ensure_default_queue(tenant),
        subject="Help",
        requester=contact,
        at=dt.datetime(2026, 11, 2, tzinfo=dt.UTC),
        prefix="PR",
    )
    assert ticket.reference == "PR-000001"


def test_contacts_match_case_insensitively() -> None:
    """GIVEN a contact WHEN the same address arrives in another case THEN the same contact is returned."""
    tenant = get_default_tenant()
    a = upsert_contact(tenant, Address("", "Jane.Doe@Example.org"))
    b = upsert_contact(tenant, Address("Jane Doe", "jane.doe@example.org"))
    assert a.pk == b.pk
    assert b.name == "Jane Doe"
    assert a.email == "Jane.Doe@Example.org"


def test_contacts_come_back_in_the_order_asked_one_per_address() -> None:
    """GIVEN addresses with a repeat in another case WHEN upserted together THEN one contact each, in order."""
    tenant = get_default_tenant()
    zed, amy, zed_again = upsert_contacts(
        tenant, [Address("Zed", "zed@example.org"), Address("Amy", "amy@example.org"), Address("", "ZED@example.org")]
    )
    assert zed.pk == zed_again.pk
    assert (zed.email, amy.email) == ("zed@example.org", "amy@example.org")


@pytest.mark.django_db(transaction=True)
def test_a_number_taken_in_an_open_transaction_does_not_hold_up_another_worker() -> None:
    """GIVEN a worker that took a ticket number and has not committed WHEN another takes one THEN it gets the next
    number at once instead of waiting for the first commit (which queued PostgreSQL workers behind each other)."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite serialises writers anyway")
    import psycopg

    tenant = get_default_tenant()
    allocate_ticket_number(tenant)  # the tenant's first number creates its sequence (once, then committed)
    with transaction.atomic():
        first = allocate_ticket_number(tenant)
        params = connection.get_connection_params()
        with psycopg.connect(**params, autocommit=False) as other:
            other.execute("SET LOCAL lock_timeout = '2s'")
            row = other.execute("SELECT postroom_next_ticket_number(%s)", [tenant.pk]).fetchone()
            other.rollback()
    assert row is not None and row[0] == first + 1


@pytest.mark.django_db(transaction=True)
def test_numbering_goes_on_from_the_counter_of_an_upgraded_installation() -> None:
    """GIVEN an installation whose counter row stands at 41 WHEN the first number is taken after the upgrade THEN
    it is 41 (PostgreSQL seeds the tenant's sequence from the counter; SQLite goes on using the counter)."""
    tenant = Tenant.objects.create(slug="upgraded", name="Upgraded")
    TicketSequence.objects.create(tenant=tenant, next_number=41)
    assert allocate_ticket_number(tenant) == 41
    assert allocate_ticket_number(tenant) == 42
