"""Who may see and act on what: the role and queue rules as small decisions, and querysets scoped by them.

A user's `Access` is read once per request (profile plus memberships, two queries) and cached on the user object;
the decisions below are pure functions of it. Rules (docs/architecture/console.md, "Roles and permissions"):
admins see and act on everything; queue managers and agents see and act on the tickets of the queues they belong
to; auditors see everything and act on nothing; requesters see nothing in the console or the API (portal only).
A user without a profile is an agent of no queue (deny by default), a superuser is an admin.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, TypeVar

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Model, QuerySet

from postroom.accounts.models import AgentProfile, QueueMembership, Role
from postroom.tickets.models import Queue, Ticket

M = TypeVar("M", bound=Model)
User = AbstractBaseUser | AnonymousUser

CONSOLE_ROLES: Final = frozenset({Role.ADMIN, Role.QUEUE_MANAGER, Role.AGENT, Role.AUDITOR})
ALL_QUEUE_ROLES: Final = frozenset({Role.ADMIN, Role.AUDITOR})  # see every queue of their tenant
MEMBER_ROLES: Final = frozenset({Role.QUEUE_MANAGER, Role.AGENT})  # see and act in their queues only
_CACHE_ATTRIBUTE: Final = "_postroom_access"


class TicketAccess(enum.Enum):
    """What a user may do with one ticket. HIDDEN answers 404 (existence is not revealed), VIEW 403 on actions."""

    HIDDEN = "hidden"
    VIEW = "view"
    ACT = "act"


@dataclass(frozen=True, slots=True)
class Access:
    """One user's reach. `tenant_id` None: every tenant (a superuser without a profile)."""

    role: Role | None  # None: signed out or deactivated
    tenant_id: int | None = None
    queue_ids: frozenset[int] = frozenset()

    @property
    def uses_console(self) -> bool:
        return self.role in CONSOLE_ROLES

    @property
    def sees_all_queues(self) -> bool:
        return self.role in ALL_QUEUE_ROLES


NO_ACCESS: Final = Access(role=None)


def decide_ticket_access(access: Access, tenant_id: int, queue_id: int) -> TicketAccess:
    """Pure: what `access` allows on a ticket of `tenant_id` in `queue_id`."""
    if not access.uses_console or (access.tenant_id is not None and access.tenant_id != tenant_id):
        return TicketAccess.HIDDEN
    if access.role == Role.ADMIN:
        return TicketAccess.ACT
    if access.role == Role.AUDITOR:
        return TicketAccess.VIEW
    return TicketAccess.ACT if queue_id in access.queue_ids else TicketAccess.HIDDEN


def build_access(user: User) -> Access:
    """Read a user's role and queues from the database (no cache)."""
    if not user.is_authenticated or not user.is_active:
        return NO_ACCESS
    profile = AgentProfile.objects.filter(user_id=user.pk).only("role", "tenant_id").first()
    if getattr(user, "is_superuser", False):
        return Access(Role.ADMIN, profile.tenant_id if profile else None)
    if profile is None:
        return Access(Role.AGENT)  # deny by default: an agent of no queue until an admin assigns some
    role = Role(profile.role)
    queue_ids: frozenset[int] = frozenset()
    if role in MEMBER_ROLES:
        memberships = QueueMembership.objects.filter(user_id=user.pk, tenant_id=profile.tenant_id)
        queue_ids = frozenset(memberships.values_list("queue_id", flat=True))
    return Access(role, profile.tenant_id, queue_ids)


def get_access(user: User) -> Access:
    """The user's `Access`, read once and kept on the user object (one request's lifetime for `request.user`)."""
    cached = getattr(user, _CACHE_ATTRIBUTE, None)
    if isinstance(cached, Access):
        return cached
    access = build_access(user)
    setattr(user, _CACHE_ATTRIBUTE, access)
    return access


def forget_access(user: User) -> None:
    """Drop the cached `Access` after the user's role or memberships changed."""
    if hasattr(user, _CACHE_ATTRIBUTE):
        delattr(user, _CACHE_ATTRIBUTE)


def get_ticket_access(user: User, ticket: Ticket) -> TicketAccess:
    return decide_ticket_access(get_access(user), ticket.tenant_id, ticket.queue_id)


def can_view_ticket(user: User, ticket: Ticket) -> bool:
    return get_ticket_access(user, ticket) is not TicketAccess.HIDDEN


def can_act_on_ticket(user: User, ticket: Ticket) -> bool:
    """Reply, add a note, change the status."""
    return get_ticket_access(user, ticket) is TicketAccess.ACT


def can_use_console(user: User) -> bool:
    """Signed in with a staff role (not a requester): may open console pages and call the API."""
    return get_access(user).uses_console


def can_admin(user: User) -> bool:
    return get_access(user).role == Role.ADMIN


def can_view_unfiled_mail(user: User) -> bool:
    """Mail that became no ticket (quarantined, failed, duplicates) belongs to no queue: admins and auditors only."""
    return get_access(user).sees_all_queues


def visible_queue_ids(user: User) -> set[int] | None:
    """The queues whose tickets the user sees; None means every queue of the user's tenant."""
    access = get_access(user)
    if not access.uses_console:
        return set()
    return None if access.sees_all_queues else set(access.queue_ids)


def scope_queryset(queryset: QuerySet[M], user: User, *, queue_field: str) -> QuerySet[M]:
    """Keep the rows of a tenant-owned model the user may see; `queue_field` leads to the row's queue id.

    Rows whose `queue_field` is NULL (an inbound message without a ticket) stay only for users who see all queues.
    """
    access = get_access(user)
    if not access.uses_console:
        return queryset.none()
    if access.tenant_id is not None:
        queryset = queryset.filter(tenant_id=access.tenant_id)
    if access.sees_all_queues:
        return queryset
    return queryset.filter(**{f"{queue_field}__in": sorted(access.queue_ids)})


def scope_tickets(queryset: QuerySet[Ticket], user: User) -> QuerySet[Ticket]:
    return scope_queryset(queryset, user, queue_field="queue_id")


def scope_queues(queryset: QuerySet[Queue], user: User) -> QuerySet[Queue]:
    return scope_queryset(queryset, user, queue_field="pk")
