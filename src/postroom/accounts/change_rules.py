"""Which queue a user may move a ticket to and whom it may be assigned to: the rules the API and console share.

Rules (docs/architecture/console.md, "Roles and permissions"): a ticket may be moved only to a queue of its tenant
where the acting user may act (admins: any; queue managers and agents: the queues they belong to), and assigned only
to someone who may act on it in its (new) queue: an admin of the tenant or a queue manager or agent of that queue.
A queue or user outside those answers the same as one that does not exist, so the rules reveal no names. Moving a
ticket to a queue its assignee does not work in unassigns it. Whether the acting user may change the ticket at all
(`can_act_on_ticket`) is checked before these; a known status and priority is checked by `update_ticket`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from postroom.accounts.models import AgentProfile, QueueMembership, Role
from postroom.accounts.permissions import (
    MEMBER_ROLES,
    Access,
    TicketAccess,
    User,
    build_access,
    decide_ticket_access,
    get_access,
)
from postroom.tickets.changes import UNSET, TicketChanges
from postroom.tickets.models import Queue, Ticket


class ChangeNotAllowedError(ValueError):
    """A field value the user may not set; `field` names it (for a 422 problem or a form error)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


def check_queue_move(user: User, ticket: Ticket, queue_id: int) -> Queue:
    """The queue `ticket` may be moved to by `user`, or ChangeNotAllowedError."""
    queue = Queue.objects.filter(pk=queue_id, tenant_id=ticket.tenant_id).first()
    if queue is None or decide_ticket_access(get_access(user), ticket.tenant_id, queue.pk) is not TicketAccess.ACT:
        raise ChangeNotAllowedError("queue", "no such queue among the ones you work in")
    return queue


def find_assignee_access(user_id: int) -> Access | None:
    """The role and queues of a would-be assignee (None: no such active user); read once per bulk action."""
    candidate = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    return build_access(candidate) if candidate is not None else None


def check_assignee(assignee: Access | None, tenant_id: int, queue_id: int) -> None:
    """ChangeNotAllowedError unless the assignee may act on a ticket of `tenant_id` in `queue_id`."""
    if assignee is None or decide_ticket_access(assignee, tenant_id, queue_id) is not TicketAccess.ACT:
        raise ChangeNotAllowedError("assignee", "not a member of the ticket's queue")


def check_changes(
    user: User,
    ticket: Ticket,
    *,
    status: str | None = None,
    priority: str | None = None,
    queue_id: int | None = None,
    assignee_id: int | object | None = UNSET,
    assignees: dict[int, Access | None] | None = None,
) -> TicketChanges:
    """The changes `user` asked for on `ticket`, checked against the rules above; ChangeNotAllowedError otherwise.

    `assignee_id`: UNSET leaves the assignee, None unassigns. `assignees` caches would-be assignees' access across
    the tickets of one bulk action.
    """
    cache = {} if assignees is None else assignees

    def access_of(user_id: int) -> Access | None:
        if user_id not in cache:
            cache[user_id] = find_assignee_access(user_id)
        return cache[user_id]

    if queue_id is not None:
        queue_id = check_queue_move(user, ticket, queue_id).pk
    queue_after = queue_id or ticket.queue_id
    changes = TicketChanges(status=status, priority=priority, queue_id=queue_id)
    if isinstance(assignee_id, int):
        check_assignee(access_of(assignee_id), ticket.tenant_id, queue_after)
        return TicketChanges(status=status, priority=priority, queue_id=queue_id, assignee_id=assignee_id)
    if assignee_id is None:
        return TicketChanges(status=status, priority=priority, queue_id=queue_id, assignee_id=None)
    if queue_id is not None and ticket.assignee_id is not None:
        try:
            check_assignee(access_of(ticket.assignee_id), ticket.tenant_id, queue_after)
        except ChangeNotAllowedError:
            return TicketChanges(status=status, priority=priority, queue_id=queue_id, assignee_id=None)
    return changes


def list_assignable_users(tenant_id: int, queue_ids: Iterable[int]) -> QuerySet[Any]:
    """Active users who may take tickets of these queues: the tenant's admins and the queues' agents and managers."""
    members = QueueMembership.objects.filter(tenant_id=tenant_id, queue_id__in=sorted(queue_ids)).values("user_id")
    profiles = AgentProfile.objects.filter(tenant_id=tenant_id)
    admins = profiles.filter(role=Role.ADMIN).values("user_id")
    staff = profiles.filter(role__in=sorted(MEMBER_ROLES), user_id__in=members).values("user_id")
    return (
        get_user_model()
        .objects.filter(Q(pk__in=admins) | Q(pk__in=staff), is_active=True)
        .order_by("first_name", "last_name", "username")
    )
