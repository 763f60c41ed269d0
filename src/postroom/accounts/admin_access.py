"""Who may see and change the admin area: queues and their members, routes, mailboxes, users, contacts.

Decisions on a user's `Access` (postroom.accounts.permissions); docs/architecture/admin.md has the table:
admins do everything in their tenant; auditors read everything an admin sees and change nothing; queue managers
list their queues and manage the members of the queues they belong to, nothing else; agents read the names of
their queues and the contacts of tickets they see; requesters get 403 everywhere.
"""

from __future__ import annotations

from typing import Final, TypeVar

from django.db.models import Model, Q, QuerySet

from postroom.accounts.models import Role
from postroom.accounts.permissions import User, get_access, scope_tickets
from postroom.tenants.models import Tenant
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import Contact, Participant, Queue, Ticket

M = TypeVar("M", bound=Model)

ADMIN_READERS: Final = frozenset({Role.ADMIN, Role.AUDITOR})
ADMIN_PAGE_ROLES: Final = frozenset({Role.ADMIN, Role.AUDITOR, Role.QUEUE_MANAGER})


def can_read_admin(user: User) -> bool:
    """Routes, mailboxes, users, organisations and every queue's settings: admins and auditors."""
    return get_access(user).role in ADMIN_READERS


def can_change_admin(user: User) -> bool:
    return get_access(user).role == Role.ADMIN


def uses_admin_pages(user: User) -> bool:
    """Whether the console shows the Admin link: admins, auditors (read-only) and queue managers (members)."""
    return get_access(user).role in ADMIN_PAGE_ROLES


def _in_tenant(user: User, tenant_id: int) -> bool:
    access = get_access(user)
    return access.tenant_id is None or access.tenant_id == tenant_id


def can_read_members(user: User, queue: Queue) -> bool:
    access = get_access(user)
    if not _in_tenant(user, queue.tenant_id):
        return False
    return access.role in ADMIN_READERS or (access.role == Role.QUEUE_MANAGER and queue.pk in access.queue_ids)


def can_manage_members(user: User, queue: Queue) -> bool:
    """Admins for every queue of their tenant; queue managers for the queues they belong to."""
    access = get_access(user)
    if not _in_tenant(user, queue.tenant_id):
        return False
    return access.role == Role.ADMIN or (access.role == Role.QUEUE_MANAGER and queue.pk in access.queue_ids)


def scope_to_tenant(queryset: QuerySet[M], user: User) -> QuerySet[M]:
    """Rows of the user's tenant (every tenant for a superuser without a profile); none without a console role."""
    access = get_access(user)
    if not access.uses_console:
        return queryset.none()
    return queryset if access.tenant_id is None else queryset.filter(tenant_id=access.tenant_id)


def scope_contacts(queryset: QuerySet[Contact], user: User) -> QuerySet[Contact]:
    """Every contact of the tenant for admins and auditors; for others those on tickets they see (requester or
    participant), so an agent never learns of a customer who wrote only to another queue."""
    access = get_access(user)
    queryset = scope_to_tenant(queryset, user)
    if not access.uses_console or access.sees_all_queues:
        return queryset
    tickets = scope_tickets(Ticket.objects.all(), user)
    participants = Participant.objects.filter(ticket__in=tickets).values("contact_id")
    return queryset.filter(Q(pk__in=tickets.values("requester_id")) | Q(pk__in=participants))


def get_acting_tenant(user: User) -> Tenant:
    """The tenant new rows go to: the user's own; for a superuser without a profile, the default tenant."""
    tenant_id = get_access(user).tenant_id
    if tenant_id is None:
        return get_default_tenant()
    return Tenant.objects.get(pk=tenant_id)
