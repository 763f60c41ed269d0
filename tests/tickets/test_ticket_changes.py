"""Agents' field changes: status, priority, queue, assignee."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model

from postroom.mail.values import Address
from postroom.tenants.models import Tenant
from postroom.tenants.services import get_default_tenant
from postroom.tickets.changes import TicketChangeError, TicketChanges, update_ticket
from postroom.tickets.models import Queue, Ticket
from postroom.tickets.services import create_ticket, ensure_default_queue, upsert_contact

pytestmark = pytest.mark.django_db
AT = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)


def _ticket() -> Ticket:
    tenant = get_default_tenant()
    requester = upsert_contact(tenant, Address("Jane", "jane@example.org"))
    queue = ensure_default_queue(tenant)
    return create_ticket(tenant=tenant, queue=queue, subject="Help", requester=requester, at=AT, prefix="PR")


def test_changes_apply_together_and_report_what_changed() -> None:
    """GIVEN a new ticket WHEN status, priority, queue and assignee change THEN all are stored and named."""
    ticket = _ticket()
    sales = Queue.objects.create(tenant=ticket.tenant, slug="sales", name="Sales")
    agent = get_user_model().objects.create_user("ann", password="x")
    changes = TicketChanges(status="resolved", priority="urgent", queue_id=sales.pk, assignee_id=agent.pk)
    _, changed = update_ticket(ticket.pk, changes, AT)
    stored = Ticket.objects.get(pk=ticket.pk)
    assert changed == ["status", "priority", "queue", "assignee"]
    assert (stored.status, stored.priority, stored.queue_id, stored.assignee_id) == (
        "resolved",
        "urgent",
        sales.pk,
        agent.pk,
    )
    assert stored.closed_at == AT


def test_none_leaves_a_field_and_an_explicit_none_unassigns() -> None:
    """GIVEN an assigned ticket WHEN only the priority changes, then the assignee is set to None THEN the first
    leaves the assignee, the second clears it, and an unchanged value reports nothing."""
    ticket = _ticket()
    agent = get_user_model().objects.create_user("bob", password="x")
    update_ticket(ticket.pk, TicketChanges(assignee_id=agent.pk), AT)
    update_ticket(ticket.pk, TicketChanges(priority="high"), AT)
    assert Ticket.objects.get(pk=ticket.pk).assignee_id == agent.pk
    _, changed = update_ticket(ticket.pk, TicketChanges(assignee_id=None, priority="high"), AT)
    assert changed == ["assignee"] and Ticket.objects.get(pk=ticket.pk).assignee_id is None


def test_unknown_values_and_foreign_queues_are_refused() -> None:
    """GIVEN a ticket WHEN a bad priority, status or another tenant's queue is asked for THEN nothing changes."""
    ticket = _ticket()
    foreign = Queue.objects.create(tenant=Tenant.objects.create(slug="b", name="B"), slug="x", name="X")
    for changes in (TicketChanges(priority="asap"), TicketChanges(status="done"), TicketChanges(queue_id=foreign.pk)):
        with pytest.raises(TicketChangeError):
            update_ticket(ticket.pk, changes, AT)
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.priority, stored.status, stored.queue_id) == ("normal", "new", ticket.queue_id)
