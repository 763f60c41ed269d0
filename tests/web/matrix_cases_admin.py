"""Permission-matrix cases for the admin area: queues and members, routes, mailboxes, users, contacts, organisations.

Targets: OWN is about the Support queue (queue managers and agents belong to it), OTHER about Sales. Admins change
everything; auditors read everything and change nothing (403); queue managers list their queues and manage the
members of their own queue (a queue they are not in is 404); agents read their queues' names and the contacts of
tickets they see; requesters get 403 everywhere. Rows the cases need (a mailbox, a contact on each ticket, a user
to add as a member) are made by the URL functions, so every role finds them.
"""

from __future__ import annotations

from typing import Final

from django.contrib.auth import get_user_model
from matrix import ANONYMOUS, OWN, Case, Target

from postroom.accounts.models import Role
from postroom.accounts.services import assign_role
from postroom.inbound.models import Route
from postroom.mailboxes.models import ConnectorKind, Mailbox
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import Contact, Organization, Participant, Queue

CANDIDATE: Final = "candidate"  # an agent of no queue: added to queues and edited by the cases


def _queue(t: Target) -> Queue:
    assert t.ticket is not None
    return t.ticket.queue


def _candidate_id() -> int:
    user, created = get_user_model().objects.get_or_create(username=CANDIDATE, defaults={"email": "c@example.com"})
    if created:
        assign_role(user, Role.AGENT, get_default_tenant())
    return int(user.pk)


def _route_id(t: Target) -> int:
    route = Route.objects.filter(queue=_queue(t)).order_by("id").first()
    return route.pk if route else 0


def _mailbox(t: Target) -> Mailbox:
    queue = _queue(t)
    mailbox, _ = Mailbox.objects.get_or_create(
        tenant_id=queue.tenant_id,
        name=f"{queue.name} mailbox",
        defaults={"kind": ConnectorKind.SMTP, "default_queue": queue},
    )
    return mailbox


def _contact(t: Target) -> Contact:
    """A contact copied on this target's ticket only (the requester is the same person on both tickets)."""
    assert t.ticket is not None
    email = f"cc-{t.ticket.queue.slug}@example.net"
    contact, _ = Contact.objects.get_or_create(tenant_id=t.ticket.tenant_id, email_key=email, defaults={"email": email})
    Participant.objects.get_or_create(tenant_id=t.ticket.tenant_id, ticket=t.ticket, contact=contact)
    return contact


def _organization(t: Target) -> Organization:
    queue = _queue(t)
    organization, _ = Organization.objects.get_or_create(tenant_id=queue.tenant_id, name=f"{queue.name} customer")
    return organization


def _readers(ok: object, n: int = 2, anonymous: object = 401) -> dict[str, tuple[object, ...]]:
    """Admins and auditors `ok`; queue managers, agents and requesters 403."""
    return {
        "admin": (ok,) * n,
        "auditor": (ok,) * n,
        "queue_manager": (403,) * n,
        "agent": (403,) * n,
        "requester": (403,) * n,
        ANONYMOUS: (anonymous,) * n,
    }


def _admins(ok: object, n: int = 2, anonymous: object = 401) -> dict[str, tuple[object, ...]]:
    """Admins `ok`; everyone else 403 (auditors change nothing)."""
    return {**_readers(ok, n, anonymous), "auditor": (403,) * n}


def _members(ok: object, anonymous: object, agent: tuple[object, ...] = (403, 404)) -> dict[str, tuple[object, ...]]:
    """Manage a queue's members: admins; queue managers of their queue (the other one is not theirs: 404).

    Agents see their queue but may not manage it (403) and do not see the other (404); admin pages refuse them
    outright (403, 403)."""
    return {
        "admin": (ok, ok),
        "auditor": (403, 403),
        "queue_manager": (ok, 404),
        "agent": agent,
        "requester": (403, 403),
        ANONYMOUS: (anonymous, anonymous),
    }


# Each role's view of the queues through the API: names for members of a queue, settings for admins and auditors.
_QUEUE_READ: Final = {
    "admin": (200, 200),
    "auditor": (200, 200),
    "queue_manager": (200, 404),
    "agent": (200, 404),
    "requester": (403, 403),
    ANONYMOUS: (401, 401),
}
_QUEUE_LIST: Final = {**_QUEUE_READ, "queue_manager": (200, "hidden"), "agent": (200, "hidden")}

_VALID_QUEUE_FORM: Final = {
    "name": "Helpdesk",
    "unknown_sender_policy": "note",
    "closed_reply_policy": "reopen",
    "reopen_within_days": "14",
    "allow_organization_followups": "on",
}

API_CASES: Final = (
    # queues
    Case(
        "GET api:list_queues",
        "GET",
        lambda t: "/api/v1/queues",
        _QUEUE_LIST,
        markers=lambda t: (f'"slug": "{_queue(t).slug}"',),
    ),
    Case("GET api:get_queue", "GET", lambda t: f"/api/v1/queues/{_queue(t).pk}", _QUEUE_READ),
    Case("POST api:create_queue", "POST", lambda t: "/api/v1/queues", _admins(201, 1), (OWN,), {"name": "Billing"}),
    Case(
        "PATCH api:update_queue",
        "PATCH",
        lambda t: f"/api/v1/queues/{_queue(t).pk}",
        _admins(200),
        data={"settings": {"from_name": "The help desk"}},
    ),
    Case("DELETE api:remove_queue", "DELETE", lambda t: f"/api/v1/queues/{_queue(t).pk}", _admins(409)),
    Case(
        "GET api:list_members",
        "GET",
        lambda t: f"/api/v1/queues/{_queue(t).pk}/members",
        {**_members(200, 401), "auditor": (200, 200)},
    ),
    Case(
        "PUT api:add_queue_member",
        "PUT",
        lambda t: f"/api/v1/queues/{_queue(t).pk}/members/{_candidate_id()}",
        _members(200, 401),
    ),
    Case(
        "DELETE api:remove_queue_member",
        "DELETE",
        lambda t: f"/api/v1/queues/{_queue(t).pk}/members/{_candidate_id()}",
        _members(204, 401),
    ),
    # routes
    Case(
        "GET api:list_routes",
        "GET",
        lambda t: "/api/v1/routes",
        _readers(200),
        markers=lambda t: (f"{_queue(t).slug}@example.com",),
    ),
    Case("GET api:get_route", "GET", lambda t: f"/api/v1/routes/{_route_id(t)}", _readers(200)),
    Case(
        "POST api:create_route",
        "POST",
        lambda t: "/api/v1/routes",
        _admins(201, 1),
        (OWN,),
        {"address": "billing@example.com", "queue": "support"},
    ),
    Case(
        "PATCH api:update_route",
        "PATCH",
        lambda t: f"/api/v1/routes/{_route_id(t)}",
        _admins(200),
        data={"queue": "support"},
    ),
    Case("DELETE api:delete_route", "DELETE", lambda t: f"/api/v1/routes/{_route_id(t)}", _admins(204)),
    # users
    Case("GET api:list_users", "GET", lambda t: "/api/v1/users", _readers(200, 1), (OWN,)),
    Case("GET api:get_user", "GET", lambda t: f"/api/v1/users/{_candidate_id()}", _readers(200, 1), (OWN,)),
    Case(
        "POST api:create_user",
        "POST",
        lambda t: "/api/v1/users",
        _admins(201, 1),
        (OWN,),
        {"username": "newbie", "password": "a long pass phrase 42", "role": "agent", "queues": ["support"]},
    ),
    Case(
        "PATCH api:update_user",
        "PATCH",
        lambda t: f"/api/v1/users/{_candidate_id()}",
        _admins(200, 1),
        (OWN,),
        {"first_name": "Casey"},
    ),
    # mailboxes
    Case(
        "GET api:list_mailboxes",
        "GET",
        lambda t: (_mailbox(t), "/api/v1/mailboxes")[1],
        _readers(200),
        markers=lambda t: (f'"name": "{_mailbox(t).name}"',),
    ),
    Case("GET api:get_mailbox", "GET", lambda t: f"/api/v1/mailboxes/{_mailbox(t).pk}", _readers(200)),
    Case(
        "POST api:create_mailbox",
        "POST",
        lambda t: "/api/v1/mailboxes",
        _admins(201, 1),
        (OWN,),
        {"name": "Billing", "kind": "smtp", "default_queue": "support"},
    ),
    Case(
        "PATCH api:update_mailbox",
        "PATCH",
        lambda t: f"/api/v1/mailboxes/{_mailbox(t).pk}",
        _admins(200),
        data={"address": "help@example.com"},
    ),
    Case("DELETE api:remove_mailbox", "DELETE", lambda t: f"/api/v1/mailboxes/{_mailbox(t).pk}", _admins(204)),
    Case(
        "POST api:probe_mailbox_connection", "POST", lambda t: f"/api/v1/mailboxes/{_mailbox(t).pk}/test", _admins(200)
    ),
    Case(
        "GET api:get_mailbox_health_report",
        "GET",
        lambda t: f"/api/v1/mailboxes/{_mailbox(t).pk}/health",
        _readers(200),
    ),
    # contacts and organisations
    Case(
        "GET api:list_contacts",
        "GET",
        lambda t: (_contact(t), "/api/v1/contacts?limit=200")[1],
        _QUEUE_LIST,
        markers=lambda t: (_contact(t).email,),
    ),
    Case("GET api:get_contact", "GET", lambda t: f"/api/v1/contacts/{_contact(t).pk}", _QUEUE_READ),
    Case(
        "PATCH api:update_contact",
        "PATCH",
        lambda t: f"/api/v1/contacts/{_contact(t).pk}",
        _admins(200),
        data={"name": "Chris Copy"},
    ),
    Case(
        "GET api:list_contact_tickets",
        "GET",
        lambda t: f"/api/v1/contacts/{_contact(t).pk}/tickets",
        _QUEUE_READ,
    ),
    Case("GET api:list_organizations", "GET", lambda t: "/api/v1/organizations", _readers(200, 1), (OWN,)),
    Case(
        "GET api:get_organization",
        "GET",
        lambda t: f"/api/v1/organizations/{_organization(t).pk}",
        _readers(200),
    ),
    Case(
        "POST api:create_organization",
        "POST",
        lambda t: "/api/v1/organizations",
        _admins(201, 1),
        (OWN,),
        {"name": "Acme", "domains": ["acme.example"]},
    ),
    Case(
        "PATCH api:update_organization",
        "PATCH",
        lambda t: f"/api/v1/organizations/{_organization(t).pk}",
        _admins(200),
        data={"name": "Renamed customer"},
    ),
    Case(
        "DELETE api:delete_organization",
        "DELETE",
        lambda t: f"/api/v1/organizations/{_organization(t).pk}",
        _admins(204),
    ),
)

_LOGIN: Final = "login"
# Admin pages for queue managers: their own queue is visible (403 where they may not act), the other one is not.
_QUEUE_PAGE: Final = {**_readers(200, 2, _LOGIN), "queue_manager": (403, 404)}

WEB_CASES: Final = (
    Case("admin-home", "GET", lambda t: "/admin/", {**_readers(302, 1, _LOGIN), "queue_manager": (302,)}, (OWN,)),
    Case(
        "admin-queue-list",
        "GET",
        lambda t: "/admin/queues/",
        {**_readers(200, 2, _LOGIN), "queue_manager": (200, "hidden")},
        markers=lambda t: (f"/admin/queues/{_queue(t).pk}/members/",),
    ),
    Case("admin-queue-create", "GET", lambda t: "/admin/queues/new/", _admins(200, 1, _LOGIN), (OWN,)),
    Case(
        "admin-queue-create",
        "POST",
        lambda t: "/admin/queues/new/",
        _admins(302, 1, _LOGIN),
        (OWN,),
        {**_VALID_QUEUE_FORM, "name": "Billing"},
    ),
    Case("admin-queue-edit", "GET", lambda t: f"/admin/queues/{_queue(t).pk}/", _QUEUE_PAGE),
    Case(
        "admin-queue-edit",
        "POST",
        lambda t: f"/admin/queues/{_queue(t).pk}/",
        {**_admins(302, 2, _LOGIN), "queue_manager": (403, 404)},
        data=_VALID_QUEUE_FORM,
    ),
    Case(
        "admin-queue-delete",
        "POST",
        lambda t: f"/admin/queues/{_queue(t).pk}/delete/",
        {**_admins(409, 2, _LOGIN), "queue_manager": (403, 404)},
    ),
    Case(
        "admin-queue-members",
        "GET",
        lambda t: f"/admin/queues/{_queue(t).pk}/members/",
        {**_readers(200, 2, _LOGIN), "queue_manager": (200, 404)},
    ),
    Case(
        "admin-queue-members",
        "POST",
        lambda t: (_candidate_id(), f"/admin/queues/{_queue(t).pk}/members/")[1],
        _members(302, _LOGIN, agent=(403, 403)),
        data={"user": CANDIDATE},
    ),
    Case(
        "admin-route-list",
        "GET",
        lambda t: "/admin/routes/",
        _readers(200, 2, _LOGIN),
        markers=lambda t: (f"{_queue(t).slug}@example.com",),
    ),
    Case("admin-route-create", "GET", lambda t: "/admin/routes/new/", _admins(200, 1, _LOGIN), (OWN,)),
    Case(
        "admin-route-create",
        "POST",
        lambda t: "/admin/routes/new/",
        _admins(302, 1, _LOGIN),
        (OWN,),
        {"address": "billing@example.com", "queue": "support"},
    ),
    Case("admin-route-edit", "GET", lambda t: f"/admin/routes/{_route_id(t)}/", _readers(200, 2, _LOGIN)),
    Case(
        "admin-route-edit",
        "POST",
        lambda t: f"/admin/routes/{_route_id(t)}/",
        _admins(302, 1, _LOGIN),
        (OWN,),
        {"address": "help@example.com", "queue": "support"},
    ),
    Case("admin-route-delete", "POST", lambda t: f"/admin/routes/{_route_id(t)}/delete/", _admins(302, 2, _LOGIN)),
    Case(
        "admin-mailbox-list",
        "GET",
        lambda t: (_mailbox(t), "/admin/mailboxes/")[1],
        _readers(200, 2, _LOGIN),
        markers=lambda t: (f"/admin/mailboxes/{_mailbox(t).pk}/",),
    ),
    Case("admin-mailbox-create", "GET", lambda t: "/admin/mailboxes/new/", _admins(200, 1, _LOGIN), (OWN,)),
    Case(
        "admin-mailbox-create",
        "POST",
        lambda t: "/admin/mailboxes/new/",
        _admins(302, 1, _LOGIN),
        (OWN,),
        {"name": "Billing", "kind": "smtp", "default_queue": "support", "is_active": "on"},
    ),
    Case("admin-mailbox-edit", "GET", lambda t: f"/admin/mailboxes/{_mailbox(t).pk}/", _readers(200, 2, _LOGIN)),
    Case(
        "admin-mailbox-edit",
        "POST",
        lambda t: f"/admin/mailboxes/{_mailbox(t).pk}/",
        _admins(302, 1, _LOGIN),
        (OWN,),
        {"name": "Support mailbox", "kind": "smtp", "default_queue": "support", "is_active": "on"},
    ),
    Case("admin-mailbox-test", "POST", lambda t: f"/admin/mailboxes/{_mailbox(t).pk}/test/", _admins(302, 2, _LOGIN)),
    Case(
        "admin-mailbox-delete",
        "POST",
        lambda t: f"/admin/mailboxes/{_mailbox(t).pk}/delete/",
        _admins(302, 2, _LOGIN),
    ),
    Case("admin-user-list", "GET", lambda t: "/admin/users/", _readers(200, 1, _LOGIN), (OWN,)),
    Case("admin-user-create", "GET", lambda t: "/admin/users/new/", _admins(200, 1, _LOGIN), (OWN,)),
    Case(
        "admin-user-create",
        "POST",
        lambda t: "/admin/users/new/",
        _admins(302, 1, _LOGIN),
        (OWN,),
        {
            "username": "newbie",
            "password": "a long pass phrase 42",
            "role": "agent",
            "queues": "support",
            "is_active": "on",
        },
    ),
    Case("admin-user-edit", "GET", lambda t: f"/admin/users/{_candidate_id()}/", _readers(200, 1, _LOGIN), (OWN,)),
    Case(
        "admin-user-edit",
        "POST",
        lambda t: f"/admin/users/{_candidate_id()}/",
        _admins(302, 1, _LOGIN),
        (OWN,),
        {"first_name": "Casey", "role": "agent", "is_active": "on"},
    ),
)

CASES: Final[tuple[Case, ...]] = (*API_CASES, *WEB_CASES)
