"""Reads the console pages need, shaped to avoid N+1 queries."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from postroom.accounts.permissions import User, scope_queryset, scope_queues, scope_tickets
from postroom.inbound.models import InboundMessage
from postroom.tickets.models import Message, Queue, Ticket, TicketStatus

OPEN_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING)


def list_visible_queues(user: User) -> QuerySet[Queue]:
    return scope_queues(Queue.objects.all(), user)


def list_queues_with_counts(user: User) -> QuerySet[Queue]:
    """The user's queues with their open tickets counted (a queue holds only its own tickets: no further scope)."""
    open_tickets = Count("tickets", filter=Q(tickets__status__in=OPEN_STATUSES))
    return list_visible_queues(user).annotate(open_count=open_tickets).order_by("name")


def list_tickets(user: User, queue: Queue | None, status: str | None) -> QuerySet[Ticket]:
    tickets = scope_tickets(Ticket.objects.select_related("queue", "requester"), user)
    if queue is not None:
        tickets = tickets.filter(queue=queue)
    if status == "open":
        tickets = tickets.filter(status__in=OPEN_STATUSES)
    elif status:
        tickets = tickets.filter(status=status)
    return tickets.annotate(message_count=Count("messages")).order_by("-last_message_at", "-id")


def list_timeline(ticket: Ticket) -> QuerySet[Message]:
    return (
        Message.objects.filter(ticket=ticket)
        .select_related("author", "author_user", "inbound", "delivery")
        .prefetch_related("attachments", "delivery__events")
        .order_by("sent_at", "id")
    )


def default_cc(ticket: Ticket) -> str:
    """The participants, as the reply form's Cc field shows them."""
    return ", ".join(
        ticket.participants.select_related("contact").order_by("id").values_list("contact__email", flat=True)
    )


def list_inbound(user: User, status: str | None) -> QuerySet[InboundMessage]:
    """The inbound log: everything for admins and auditors, for others only the rows of tickets they see."""
    rows = scope_queryset(
        InboundMessage.objects.select_related("message__ticket", "mailbox"),
        user,
        queue_field="message__ticket__queue_id",
    )
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-received_at", "-id")
