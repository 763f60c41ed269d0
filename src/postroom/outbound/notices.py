"""Automatic notices Postroom sends on its own (RFC 3834 marked), such as "this ticket is closed"."""

from __future__ import annotations

from typing import Final

from postroom.mail.values import Address
from postroom.outbound.services import send_notice
from postroom.tickets.models import Message, Ticket

CLOSED_NOTICE: Final = (
    "Hello,\n\n"
    "your message about {reference} reached us, but that request is closed and no longer followed up.\n"
    "If you still need help, please write a new message (without replying to this one) and we will open a new "
    "request.\n\n"
    "This is an automatic message."
)


def send_closed_ticket_notice(ticket: Ticket, to: Address) -> Message:
    """Tell the sender their reply to a closed ticket was not added (queue policy `reject`); caller's transaction."""
    subject = f"Closed: {ticket.subject} [{ticket.reference}]".strip()
    return send_notice(ticket, to, subject, CLOSED_NOTICE.format(reference=ticket.reference))
