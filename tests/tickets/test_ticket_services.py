"""Ticket numbering and contacts."""

from __future__ import annotations

import datetime as dt

import pytest

from postroom.mail.values import Address
from postroom.tenants.models import Tenant
from postroom.tenants.services import get_default_tenant
from postroom.tickets.services import allocate_ticket_number, create_ticket, ensure_default_queue, upsert_contact

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
