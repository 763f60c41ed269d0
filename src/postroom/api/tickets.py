"""Ticket conversation endpoints: read the timeline, reply, add a note."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status

from postroom.accounts.permissions import TicketAccess, can_use_console, get_ticket_access, scope_tickets
from postroom.api.problems import problem_response
from postroom.mail.values import Address
from postroom.outbound.services import ReplyConflictError, ReplyDraft, ReplyRefusedError, add_note, send_reply
from postroom.tickets.models import Message, Ticket

router = Router(tags=["tickets"])


class AddressIn(Schema):
    address: str
    name: str = ""


class ReplyIn(Schema):
    text: str
    to: list[AddressIn] | None = None
    cc: list[AddressIn] | None = None
    last_seen_message_id: int | None = None
    send_anyway: bool = False
    status: str | None = None


class NoteIn(Schema):
    text: str


class MessageOut(Schema):
    id: int
    direction: str
    subject: str
    text: str
    new_text: str
    sent_at: dt.datetime
    message_id: str
    send_status: str | None


def _message_out(message: Message) -> MessageOut:
    delivery = getattr(message, "delivery", None) if message.direction == "out" else None
    return MessageOut(
        id=message.pk,
        direction=message.direction,
        subject=message.subject,
        text=message.text,
        new_text=message.new_text,
        sent_at=message.sent_at,
        message_id=message.message_id,
        send_status=delivery.status if delivery is not None else None,
    )


def _get_ticket(request: HttpRequest, reference: str, *, act: bool = False) -> Ticket:
    """The ticket by reference: 403 for requesters and, with `act`, for view-only users; 404 when not visible."""
    if not can_use_console(request.user):
        raise PermissionDenied
    ticket = get_object_or_404(scope_tickets(Ticket.objects.all(), request.user), reference=reference)
    if act and get_ticket_access(request.user, ticket) is not TicketAccess.ACT:
        raise PermissionDenied
    return ticket


def _addresses(items: list[AddressIn] | None) -> tuple[Address, ...] | None:
    return None if items is None else tuple(Address(item.name, item.address) for item in items)


@router.get("/{reference}/messages", response=list[MessageOut])
def list_messages(request: HttpRequest, reference: str) -> list[MessageOut]:
    ticket = _get_ticket(request, reference)
    rows = Message.objects.filter(ticket=ticket).select_related("delivery").order_by("sent_at", "id")
    return [_message_out(message) for message in rows]


@router.post("/{reference}/replies", response={201: MessageOut})
def create_reply(request: HttpRequest, reference: str, payload: ReplyIn) -> Status[MessageOut] | HttpResponse:
    ticket = _get_ticket(request, reference, act=True)
    draft = ReplyDraft(
        text=payload.text,
        to=_addresses(payload.to),
        cc=_addresses(payload.cc),
        last_seen_message_id=payload.last_seen_message_id,
        send_anyway=payload.send_anyway,
        status=payload.status,
    )
    try:
        message = send_reply(ticket.pk, request.user, draft)  # type: ignore[arg-type]
    except ReplyConflictError as conflict:
        return problem_response(
            409,
            "New messages arrived on this ticket",
            str(conflict),
            arrived=[_message_out(m).model_dump(mode="json") for m in conflict.arrived],
        )
    except ReplyRefusedError as refusal:
        return problem_response(422, "Reply refused", str(refusal))
    return Status(201, _message_out(message))


@router.post("/{reference}/notes", response={201: MessageOut})
def create_note(request: HttpRequest, reference: str, payload: NoteIn) -> Status[MessageOut] | HttpResponse:
    ticket = _get_ticket(request, reference, act=True)
    try:
        message = add_note(ticket.pk, request.user, payload.text)  # type: ignore[arg-type]
    except ReplyRefusedError as refusal:
        return problem_response(422, "Note refused", str(refusal))
    return Status(201, _message_out(message))
