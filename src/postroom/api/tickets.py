"""Ticket endpoints: list and search, read, change fields, merge, split; the timeline, replies and notes.

Roles apply as everywhere (docs/architecture/console.md): the list and search only ever return tickets the user may
see (postroom.accounts.permissions.scope_tickets); a ticket outside them is 404, an action a view-only role may not
take 403, a value the user may not set (a queue they do not work in, an assignee outside the ticket's queue) 422.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Final, Literal

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from postroom.accounts.change_rules import ChangeNotAllowedError, check_changes
from postroom.accounts.permissions import (
    TicketAccess,
    can_use_console,
    get_ticket_access,
    scope_queues,
    scope_tickets,
)
from postroom.api.problems import problem_response
from postroom.mail.ticketref import find_ticket_numbers
from postroom.mail.values import Address
from postroom.outbound.services import ReplyConflictError, ReplyDraft, ReplyRefusedError, add_note, send_reply
from postroom.tickets.changes import UNSET, TicketChangeError, TicketChanges, update_ticket
from postroom.tickets.merging import MergeRefusedError, merge_tickets, split_ticket
from postroom.tickets.models import Contact, Message, Queue, Ticket
from postroom.tickets.search import (
    MAX_PAGE_SIZE,
    TicketFilters,
    TicketQueryError,
    count_messages,
    parse_assignee,
    parse_priorities,
    parse_statuses,
    search_tickets,
)

router = Router(tags=["tickets"])

MAX_ID: Final = 2**63 - 1  # a bigint primary key; larger numbers are no id (422, not a database error)
REFERENCE_SHAPE: Final = re.compile(r"[A-Za-z0-9#-]{1,32}")  # Ticket.reference is at most 32 characters
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]


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


class TicketQueueOut(Schema):
    id: int
    slug: str
    name: str


class TicketContactOut(Schema):
    email: str
    name: str


class TicketUserOut(Schema):
    id: int
    username: str
    name: str


class TicketOut(Schema):
    reference: str
    number: int
    subject: str
    status: str
    priority: str
    queue: TicketQueueOut
    requester: TicketContactOut
    assignee: TicketUserOut | None
    created_at: dt.datetime
    updated_at: dt.datetime
    last_message_at: dt.datetime
    closed_at: dt.datetime | None
    merged_into: str | None = Field(description="The ticket this one was merged into (when you may see it).")
    linked_from: str | None = Field(description="The ticket a late reply came in on, or this was split from.")
    message_count: int


class TicketDetailOut(TicketOut):
    participants: list[TicketContactOut]
    external_references: list[str]


class TicketListOut(Schema):
    items: list[TicketOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class TicketFilterIn(Schema):
    status: list[str] = Field(default_factory=list, description="Repeat for several; `active` = new, open, pending.")
    queue: str = Field("", description="A queue's slug or id.")
    assignee: str = Field("", description="`me`, `none` (unassigned) or a user id.")
    priority: list[str] = Field(default_factory=list, description="Repeat for several: low, normal, high, urgent.")
    requester: str = Field("", description="The requester's email address.")
    q: str = Field("", max_length=500, description="Words in the subject or any message, or a ticket reference.")
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    updated_after: dt.datetime | None = None
    updated_before: dt.datetime | None = None
    cursor: str = Field("", max_length=200)
    limit: int = Field(50, ge=1, le=MAX_PAGE_SIZE)


class TicketPatchIn(Schema):
    """Fields to change; an absent field stays as it is, `"assignee": null` unassigns."""

    status: Literal["new", "open", "pending", "resolved", "closed"] | None = None
    priority: Literal["low", "normal", "high", "urgent"] | None = None
    queue: RowId | str | None = Field(None, description="The queue's slug or id.")
    assignee: RowId | Literal["me"] | None = Field(None, description="A user id, `me`, or null to unassign.")


class TicketMergeIn(Schema):
    into: str = Field(description="The reference of the ticket that receives this one's messages.")


class TicketSplitIn(Schema):
    message_id: RowId


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


def _require_console(request: HttpRequest) -> None:
    if not can_use_console(request.user):
        raise PermissionDenied


def _find_visible_ticket(request: HttpRequest, reference: str) -> Ticket | None:
    """The ticket by reference among those the user sees (by number too: the (tenant, number) index serves it)."""
    if not REFERENCE_SHAPE.fullmatch(reference):
        return None
    tickets = scope_tickets(Ticket.objects.select_related("queue", "requester", "assignee"), request.user)
    numbers = find_ticket_numbers(reference, settings.POSTROOM.ticket_prefix)
    if numbers:
        tickets = tickets.filter(number=numbers[0])
    return tickets.filter(reference=reference).first()


def _get_ticket(request: HttpRequest, reference: str, *, act: bool = False) -> Ticket:
    """The ticket by reference: 403 for requesters and, with `act`, for view-only users; 404 when not visible."""
    _require_console(request)
    ticket = _find_visible_ticket(request, reference)
    if ticket is None:
        raise Http404("no such ticket")
    if act and get_ticket_access(request.user, ticket) is not TicketAccess.ACT:
        raise PermissionDenied
    return ticket


def _visible_reference(request: HttpRequest, ticket: Ticket | None) -> str | None:
    if ticket is None or get_ticket_access(request.user, ticket) is TicketAccess.HIDDEN:
        return None
    return ticket.reference


def _person(contact: Contact) -> TicketContactOut:
    return TicketContactOut(email=contact.email, name=contact.name)


def _ticket_out(request: HttpRequest, ticket: Ticket, message_count: int) -> TicketOut:
    assignee = ticket.assignee
    return TicketOut(
        reference=ticket.reference,
        number=ticket.number,
        subject=ticket.subject,
        status=ticket.status,
        priority=ticket.priority,
        queue=TicketQueueOut(id=ticket.queue.pk, slug=ticket.queue.slug, name=ticket.queue.name),
        requester=_person(ticket.requester),
        assignee=TicketUserOut(id=assignee.pk, username=assignee.get_username(), name=assignee.get_full_name())
        if assignee is not None
        else None,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        last_message_at=ticket.last_message_at,
        closed_at=ticket.closed_at,
        merged_into=_visible_reference(request, ticket.merged_into) if ticket.merged_into_id else None,
        linked_from=_visible_reference(request, ticket.linked_from) if ticket.linked_from_id else None,
        message_count=message_count,
    )


def _ticket_detail(request: HttpRequest, ticket: Ticket) -> TicketDetailOut:
    out = _ticket_out(request, ticket, count_messages([ticket.pk]).get(ticket.pk, 0))
    participants = [_person(p.contact) for p in ticket.participants.select_related("contact").order_by("id")]
    external = list(ticket.external_references.order_by("id").values_list("reference", flat=True))
    return TicketDetailOut(**out.model_dump(), participants=participants, external_references=external)


def _visible_queues(request: HttpRequest) -> QuerySet[Queue]:
    return scope_queues(Queue.objects.all(), request.user)


def _find_queue(queues: QuerySet[Queue], value: int | str) -> Queue | None:
    """A queue by id (a number) or slug among `queues`."""
    if isinstance(value, int) or value.isdigit():
        number = int(value)
        return queues.filter(pk=number).first() if number <= MAX_ID else None
    return queues.filter(slug=value).first()


def _filters(request: HttpRequest, params: TicketFilterIn) -> TicketFilters:
    """The query parameters as search filters; TicketQueryError for a value that cannot be used."""
    queue_id = None
    if params.queue:
        queue = _find_queue(_visible_queues(request), params.queue)
        if queue is None:  # a queue that does not exist and one the user may not see answer alike
            raise TicketQueryError(f"queue: no queue {params.queue!r} among yours")
        queue_id = queue.pk
    assignee = parse_assignee(params.assignee, int(request.user.pk or 0))
    if isinstance(assignee, int) and assignee > MAX_ID:
        raise TicketQueryError("assignee: not a user id")
    return TicketFilters(
        statuses=parse_statuses(params.status),
        queue_id=queue_id,
        assignee=assignee,
        priorities=parse_priorities(params.priority),
        requester_email=params.requester.replace("\x00", ""),
        created_after=params.created_after,
        created_before=params.created_before,
        updated_after=params.updated_after,
        updated_before=params.updated_before,
        text=params.q.replace("\x00", ""),
    )


@router.get("", response=TicketListOut)
def list_tickets(request: HttpRequest, params: Query[TicketFilterIn]) -> TicketListOut | HttpResponse:
    """The tickets you may see, filtered and searched, newest activity first; `next_cursor` fetches the next page."""
    _require_console(request)
    try:
        filters = _filters(request, params)
        visible = scope_tickets(Ticket.objects.select_related("merged_into", "linked_from"), request.user)
        page = search_tickets(visible, filters, cursor=params.cursor, limit=params.limit)
    except TicketQueryError as e:
        return problem_response(422, "Invalid filter", str(e))
    items = [_ticket_out(request, ticket, page.message_counts.get(ticket.pk, 0)) for ticket in page.tickets]
    return TicketListOut(items=items, next_cursor=page.next_cursor)


@router.get("/{reference}", response=TicketDetailOut)
def get_ticket(request: HttpRequest, reference: str) -> TicketDetailOut:
    return _ticket_detail(request, _get_ticket(request, reference))


def _changes(request: HttpRequest, ticket: Ticket, payload: TicketPatchIn) -> TicketChanges:
    """The requested changes after the role rules (ChangeNotAllowedError names the field)."""
    given = payload.model_fields_set
    queue_id = None
    if "queue" in given and payload.queue is not None:
        queue = _find_queue(Queue.objects.filter(tenant_id=ticket.tenant_id), payload.queue)
        if queue is None:
            raise ChangeNotAllowedError("queue", "no such queue among the ones you work in")
        queue_id = queue.pk
    assignee: int | object | None = UNSET
    if "assignee" in given:
        assignee = request.user.pk if payload.assignee == "me" else payload.assignee
    return check_changes(
        request.user, ticket, status=payload.status, priority=payload.priority, queue_id=queue_id, assignee_id=assignee
    )


@router.patch("/{reference}", response=TicketDetailOut)
def update_ticket_fields(
    request: HttpRequest, reference: str, payload: TicketPatchIn
) -> TicketDetailOut | HttpResponse:
    """Change status, priority, queue or assignee (only to a queue you work in, only to a member of the queue)."""
    ticket = _get_ticket(request, reference, act=True)
    try:
        update_ticket(ticket.pk, _changes(request, ticket, payload), timezone.now())
    except ChangeNotAllowedError as e:
        return problem_response(422, "Change not allowed", str(e), field=e.field)
    except TicketChangeError as e:
        return problem_response(422, "Invalid change", str(e))
    return _ticket_detail(request, _get_ticket(request, reference))


@router.post("/{reference}/merge", response=TicketDetailOut)
def merge_ticket(request: HttpRequest, reference: str, payload: TicketMergeIn) -> TicketDetailOut | HttpResponse:
    """Move this ticket's messages, participants and external references into `into`; this one is closed."""
    source = _get_ticket(request, reference, act=True)
    target = _find_visible_ticket(request, payload.into)
    if target is None:
        return problem_response(422, "Cannot merge", f"into: no ticket {payload.into!r} among yours")
    if get_ticket_access(request.user, target) is not TicketAccess.ACT:
        raise PermissionDenied("you may not change the ticket to merge into")
    try:
        result = merge_tickets(source.pk, target.pk, actor_id=request.user.pk, at=timezone.now())
    except MergeRefusedError as e:
        return problem_response(422, "Cannot merge", str(e))
    return _ticket_detail(request, _get_ticket(request, result.target.reference))


@router.post("/{reference}/split", response={201: TicketDetailOut})
def split_ticket_message(
    request: HttpRequest, reference: str, payload: TicketSplitIn
) -> Status[TicketDetailOut] | HttpResponse:
    """Move one message into a new ticket (same requester and queue) linked from this one."""
    ticket = _get_ticket(request, reference, act=True)
    try:
        result = split_ticket(
            ticket.pk,
            payload.message_id,
            actor_id=request.user.pk,
            at=timezone.now(),
            prefix=settings.POSTROOM.ticket_prefix,
        )
    except MergeRefusedError as e:
        return problem_response(422, "Cannot split", str(e))
    return Status(201, _ticket_detail(request, _get_ticket(request, result.new_ticket.reference)))


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
