"""Roles and queue memberships decide who sees and acts on which ticket (postroom.accounts.permissions)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from postroom.accounts.models import AgentProfile, Role
from postroom.accounts.permissions import (
    Access,
    TicketAccess,
    can_act_on_ticket,
    can_admin,
    can_use_console,
    can_view_ticket,
    can_view_unfiled_mail,
    decide_ticket_access,
    scope_tickets,
    visible_queue_ids,
)
from postroom.accounts.services import add_to_queue, remove_from_queue
from postroom.tenants.models import Tenant
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import Contact, Queue, Ticket
from staff import make_staff

# role -> (access to a ticket in a queue the user belongs to, access to one in another queue)
EXPECTED: dict[Role, tuple[TicketAccess, TicketAccess]] = {
    Role.ADMIN: (TicketAccess.ACT, TicketAccess.ACT),
    Role.QUEUE_MANAGER: (TicketAccess.ACT, TicketAccess.HIDDEN),
    Role.AGENT: (TicketAccess.ACT, TicketAccess.HIDDEN),
    Role.AUDITOR: (TicketAccess.VIEW, TicketAccess.VIEW),
    Role.REQUESTER: (TicketAccess.HIDDEN, TicketAccess.HIDDEN),
}


def _ticket(tenant: Tenant, queue: Queue, number: int) -> Ticket:
    requester, _ = Contact.objects.get_or_create(tenant=tenant, email_key="jane@example.org", email="jane@example.org")
    return Ticket.objects.create(
        tenant=tenant,
        number=number,
        reference=f"PR-{number:06d}",
        queue=queue,
        requester=requester,
        subject=f"ticket {number}",
        last_message_at=timezone.now(),
    )


@pytest.fixture
def world(db: None) -> dict[str, Any]:
    tenant = get_default_tenant()
    own = Queue.objects.create(tenant=tenant, name="Support", slug="support")
    other = Queue.objects.create(tenant=tenant, name="Sales", slug="sales")
    return {
        "tenant": tenant,
        "own": own,
        "other": other,
        "own_ticket": _ticket(tenant, own, 1),
        "other_ticket": _ticket(tenant, other, 2),
    }


@pytest.mark.parametrize("role", list(Role))
def test_each_role_on_its_own_and_another_queue(world: dict[str, Any], role: Role) -> None:
    """
    GIVEN a user of `role` who belongs to Support, and tickets in Support and Sales
    WHEN what they may do with each ticket is asked
    THEN admins act everywhere, managers and agents only in Support, auditors only view, requesters get nothing
    """
    user = make_staff(role, world["tenant"], [world["own"]])
    expected_own, expected_other = EXPECTED[role]
    for ticket, expected in ((world["own_ticket"], expected_own), (world["other_ticket"], expected_other)):
        assert can_view_ticket(user, ticket) is (expected is not TicketAccess.HIDDEN), (role, ticket.reference)
        assert can_act_on_ticket(user, ticket) is (expected is TicketAccess.ACT), (role, ticket.reference)
    visible = {ticket.reference for ticket in scope_tickets(Ticket.objects.all(), user)}
    expected_visible = {
        ticket.reference
        for ticket, expected in ((world["own_ticket"], expected_own), (world["other_ticket"], expected_other))
        if expected is not TicketAccess.HIDDEN
    }
    assert visible == expected_visible
    assert can_admin(user) is (role == Role.ADMIN)
    assert can_use_console(user) is (role != Role.REQUESTER)
    assert can_view_unfiled_mail(user) is (role in {Role.ADMIN, Role.AUDITOR})


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (Role.ADMIN, None),
        (Role.AUDITOR, None),
        (Role.QUEUE_MANAGER, {"support"}),
        (Role.AGENT, {"support"}),
        (Role.REQUESTER, set()),
    ],
)
def test_visible_queue_ids(world: dict[str, Any], role: Role, expected: set[str] | None) -> None:
    """GIVEN a user of `role` in Support WHEN their visible queues are asked THEN all (None), Support, or none."""
    user = make_staff(role, world["tenant"], [world["own"]])
    ids = visible_queue_ids(user)
    assert (None if ids is None else set(Queue.objects.filter(pk__in=ids).values_list("slug", flat=True))) == expected


def test_users_without_a_profile_are_agents_of_no_queue_and_superusers_admins(world: dict[str, Any]) -> None:
    """
    GIVEN a user created before roles existed (no profile) and a superuser without one
    WHEN they ask for tickets
    THEN the user sees nothing (deny by default), even with a stray membership; the superuser is an admin
    """
    users = get_user_model()
    plain = users.objects.create_user("old-agent", password="x")
    add_to_queue(plain, world["own"])
    root = users.objects.create_superuser("root", password="x")
    assert not AgentProfile.objects.filter(user=plain).exists()
    assert visible_queue_ids(plain) == set() and not can_view_ticket(plain, world["own_ticket"])
    assert can_use_console(plain) and not can_admin(plain)
    assert visible_queue_ids(root) is None and can_admin(root)
    assert can_act_on_ticket(root, world["other_ticket"])


def test_signed_out_and_deactivated_users_get_nothing(world: dict[str, Any]) -> None:
    """GIVEN an anonymous visitor and a deactivated admin WHEN they ask for a ticket THEN nothing is visible."""
    admin = make_staff(Role.ADMIN, world["tenant"])
    admin.is_active = False
    for user in (AnonymousUser(), admin):
        assert not can_view_ticket(user, world["own_ticket"])
        assert not can_use_console(user)
        assert list(scope_tickets(Ticket.objects.all(), user)) == []


def test_membership_changes_apply_to_the_next_question(world: dict[str, Any]) -> None:
    """GIVEN an agent in Support WHEN taken out of it and put into Sales THEN they see Sales' ticket, not Support's."""
    agent = make_staff(Role.AGENT, world["tenant"], [world["own"]])
    assert can_view_ticket(agent, world["own_ticket"])
    remove_from_queue(agent, world["own"])
    add_to_queue(agent, world["other"])
    assert not can_view_ticket(agent, world["own_ticket"]) and can_view_ticket(agent, world["other_ticket"])


def test_roles_stop_at_the_tenant(world: dict[str, Any]) -> None:
    """
    GIVEN an admin and an auditor of the default tenant, and a ticket of another tenant
    WHEN they ask for it
    THEN it is hidden: a role counts in its own tenant only
    """
    elsewhere = Tenant.objects.create(slug="elsewhere", name="Elsewhere")
    foreign = _ticket(elsewhere, Queue.objects.create(tenant=elsewhere, name="Support", slug="support"), 1)
    for role in (Role.ADMIN, Role.AUDITOR):
        user = make_staff(role, world["tenant"])
        assert not can_view_ticket(user, foreign)
        assert foreign not in scope_tickets(Ticket.objects.all(), user)


@pytest.mark.parametrize(
    ("access", "queue_id", "expected"),
    [
        (Access(Role.ADMIN, tenant_id=1), 7, TicketAccess.ACT),
        (Access(Role.ADMIN, tenant_id=2), 7, TicketAccess.HIDDEN),
        (Access(Role.ADMIN), 7, TicketAccess.ACT),
        (Access(Role.AUDITOR, tenant_id=1), 7, TicketAccess.VIEW),
        (Access(Role.QUEUE_MANAGER, tenant_id=1, queue_ids=frozenset({7})), 7, TicketAccess.ACT),
        (Access(Role.AGENT, tenant_id=1, queue_ids=frozenset({8})), 7, TicketAccess.HIDDEN),
        (Access(Role.AGENT), 7, TicketAccess.HIDDEN),
        (Access(Role.REQUESTER, tenant_id=1, queue_ids=frozenset({7})), 7, TicketAccess.HIDDEN),
        (Access(None), 7, TicketAccess.HIDDEN),
    ],
)
def test_the_decision_is_pure(access: Access, queue_id: int, expected: TicketAccess) -> None:
    """GIVEN an access (role, tenant, queues) WHEN a ticket of tenant 1 in `queue_id` is decided THEN `expected`."""
    assert decide_ticket_access(access, 1, queue_id) is expected


def test_first_run_makes_the_admin_an_admin(db: None) -> None:
    """GIVEN a fresh installation WHEN `postroom init` sets it up THEN the first admin has the admin role."""
    from postroom.bootstrap import initialise

    report = initialise()
    admin = get_user_model().objects.get(username=report.admin_username)
    assert AgentProfile.objects.get(user=admin).role == Role.ADMIN
    assert can_admin(admin)
