"""Agents' changes to a ticket's fields (status, priority, queue, assignee), under the ticket's row lock.

Who may make a change is the caller's business (postroom.accounts.permissions); this module only keeps the fields
consistent: a known status and priority, a queue of the ticket's tenant, `closed_at` stamped by `change_status`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum
from typing import Final

from django.db import transaction

from postroom.core.db import update_row
from postroom.tickets.models import Queue, Ticket, TicketPriority
from postroom.tickets.services import change_status, lock_ticket


class _Unset(Enum):
    UNSET = "unset"


UNSET: Final = _Unset.UNSET  # "leave as it is", where None means "clear" (the assignee)


class TicketChangeError(ValueError):
    """A change that cannot be made (unknown status or priority, a queue of another tenant)."""


@dataclass(frozen=True, slots=True)
class TicketChanges:
    """Fields to change; None (or UNSET for the assignee, where None unassigns) leaves a field as it is."""

    status: str | None = None
    priority: str | None = None
    queue_id: int | None = None
    assignee_id: int | _Unset | None = UNSET


def update_ticket(ticket_id: int, changes: TicketChanges, at: dt.datetime) -> tuple[Ticket, list[str]]:
    """Apply the changes in one transaction; returns the ticket and the names of the fields that changed."""
    with transaction.atomic():
        ticket = lock_ticket(ticket_id)
        changed: list[str] = []
        if changes.status is not None and changes.status != ticket.status:
            try:
                change_status(ticket, changes.status, at)
            except ValueError as e:
                raise TicketChangeError(str(e)) from e
            changed += ["status", "closed_at"]
        if changes.priority is not None and changes.priority != ticket.priority:
            if changes.priority not in TicketPriority.values:
                raise TicketChangeError(f"unknown priority {changes.priority!r}")
            ticket.priority = changes.priority
            changed.append("priority")
        if changes.queue_id is not None and changes.queue_id != ticket.queue_id:
            if not Queue.objects.filter(pk=changes.queue_id, tenant_id=ticket.tenant_id).exists():
                raise TicketChangeError(f"no queue {changes.queue_id} in this tenant")
            ticket.queue_id = changes.queue_id
            changed.append("queue")
        if changes.assignee_id is not UNSET and changes.assignee_id != ticket.assignee_id:
            ticket.assignee_id = changes.assignee_id
            changed.append("assignee")
        if changed:
            update_row(ticket, [*changed, "updated_at"])
        return ticket, [name for name in changed if name != "closed_at"]
