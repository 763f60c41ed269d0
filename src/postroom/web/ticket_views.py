"""The ticket page and its actions: reply or note (with files), status, assignment, priority and queue.

Each action checks the user's access to the ticket (404 when not visible, 403 when view-only) and then what the
change itself allows: an assignee must be a member of the ticket's queue, a queue move goes only to the user's
own queues (admins: any queue of the tenant). Field changes go through `postroom.tickets.changes.update_ticket`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from postroom.accounts.change_rules import (
    ChangeNotAllowedError,
    check_assignee,
    check_queue_move,
    find_assignee_access,
    list_assignable_users,
)
from postroom.accounts.permissions import TicketAccess, get_ticket_access
from postroom.mail.compose import OutgoingAttachment
from postroom.mail.sanitise import count_blocked_in_stored
from postroom.outbound.attachments import (
    build_outgoing_attachment,
    clean_filename,
    find_limit_problem,
    get_attachment_limits,
)
from postroom.outbound.services import (
    AttachmentRefusedError,
    ReplyConflictError,
    ReplyDraft,
    ReplyRefusedError,
    add_note,
    parse_address_list,
    send_reply,
)
from postroom.tickets.changes import TicketChangeError, TicketChanges, update_ticket
from postroom.tickets.models import Contact, Message, Ticket, TicketPriority, TicketStatus
from postroom.tickets.services import set_ticket_status
from postroom.web import ticket_queries as queries
from postroom.web.safehtml import sanitise_message_html
from postroom.web.views import console_view

ATTACH_AGAIN = " Your text is kept; attach the files again."


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One message as the page shows it; `remote_blocked` counts the remote images its formatted view holds back."""

    message: Message
    has_formatted: bool
    remote_blocked: int


def _build_entry(message: Message) -> TimelineEntry:
    if not message.html:
        return TimelineEntry(message, has_formatted=False, remote_blocked=0)
    if message.safe_html:  # the copy sanitised at ingest: its placeholders are the images held back
        blocked = count_blocked_in_stored(message.safe_html)
    else:  # a message stored before the copy existed
        blocked = sanitise_message_html(message.html, inline_images={}, allow_remote=False).remote_blocked
    return TimelineEntry(message, has_formatted=True, remote_blocked=blocked)


def _render_ticket(
    request: HttpRequest,
    ticket: Ticket,
    *,
    form: dict[str, str] | None = None,
    error: str = "",
    error_at: str = "composer",
    arrived: list[Message] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The page; `error` shows beside the composer or, with error_at="properties", above the ticket's fields."""
    timeline = list(queries.list_timeline(ticket))
    participants = queries.list_participants(ticket)
    defaults = {
        "to": ticket.requester.email,
        "cc": ", ".join(contact.email for contact in participants),
        "text": "",
        "kind": "reply",
    }
    can_act = get_ticket_access(request.user, ticket) is TicketAccess.ACT
    limits = get_attachment_limits()
    return render(
        request,
        "postroom/ticket_detail.html",
        {
            "ticket": ticket,
            "entries": [_build_entry(message) for message in timeline],
            "participants": participants,
            "undeliverable": _list_undeliverable([ticket.requester, *participants]),
            "last_seen": max((message.pk for message in timeline), default=0),
            "form": {**defaults, **(form or {})},
            "error": error,
            "error_at": error_at,
            "arrived": arrived or [],
            "statuses": TicketStatus.choices,
            "priorities": TicketPriority.choices,
            "can_act": can_act,
            "assignable": list(list_assignable_users(ticket.tenant_id, [ticket.queue_id])) if can_act else [],
            "target_queues": list(queries.list_target_queues(request.user, ticket)) if can_act else [],
            "limits": limits,
            # A late reply's predecessor is linked only when this user may open it (its number is no secret
            # worth a 404, but a link that always 404s is noise).
            "linked_from": ticket.linked_from
            if ticket.linked_from is not None
            and get_ticket_access(request.user, ticket.linked_from) is not TicketAccess.HIDDEN
            else None,
        },
        status=status,
    )


def _list_undeliverable(contacts: list[Contact]) -> list[Contact]:
    """The ticket's people whose address a hard bounce marked undeliverable (docs/architecture/bounces.md)."""
    now = timezone.now()
    return [c for c in contacts if c.undeliverable_until is not None and c.undeliverable_until > now]


def _get_ticket_to_act_on(request: HttpRequest, reference: str) -> Ticket:
    """The ticket if the user may act on it; 403 for view-only users (auditors), 404 when not visible."""
    ticket = queries.get_visible_ticket(request.user, reference)
    if get_ticket_access(request.user, ticket) is not TicketAccess.ACT:
        raise PermissionDenied
    return ticket


@console_view
def ticket_detail(request: HttpRequest, reference: str) -> HttpResponse:
    return _render_ticket(request, queries.get_visible_ticket(request.user, reference))


def _read_uploads(uploads: list[UploadedFile[bytes]]) -> tuple[OutgoingAttachment, ...]:
    """The files as attachments; the limits are checked on their sizes first, so a huge upload is never read."""
    chosen = [upload for upload in uploads if upload.name]
    problem = find_limit_problem(
        [(clean_filename(upload.name or ""), upload.size or 0) for upload in chosen], get_attachment_limits()
    )
    if problem is not None:
        raise AttachmentRefusedError(problem)
    return tuple(build_outgoing_attachment(upload.name or "", upload.content_type, upload.read()) for upload in chosen)


@require_POST
@console_view
def ticket_reply(request: HttpRequest, reference: str) -> HttpResponse:
    """Send a reply or add a note, with files; a refusal re-shows the form with the agent's text and what to do."""
    ticket = _get_ticket_to_act_on(request, reference)
    form = {key: request.POST.get(key, "") for key in ("to", "cc", "text", "kind", "status")}
    uploads = request.FILES.getlist("attachments")
    try:
        attachments = _read_uploads(uploads)
        if form["kind"] == "note":
            add_note(ticket.pk, request.user, form["text"], attachments)  # type: ignore[arg-type]
        else:
            last_seen = request.POST.get("last_seen", "")
            draft = ReplyDraft(
                text=form["text"],
                to=parse_address_list(form["to"]),
                cc=parse_address_list(form["cc"]),
                last_seen_message_id=int(last_seen) if last_seen.isdigit() else None,
                send_anyway=request.POST.get("send_anyway") == "1",
                status=form["status"] if form["status"] in TicketStatus.values else None,
                attachments=attachments,
            )
            send_reply(ticket.pk, request.user, draft)  # type: ignore[arg-type]
    except ReplyConflictError as conflict:
        error = str(conflict) + (ATTACH_AGAIN if uploads else "")
        return _render_ticket(request, ticket, form=form, error=error, arrived=conflict.arrived, status=409)
    except ReplyRefusedError as refusal:
        error = str(refusal) + (ATTACH_AGAIN if uploads else "")
        return _render_ticket(request, ticket, form=form, error=error, status=422)
    return redirect("ticket-detail", reference=ticket.reference)


@require_POST
@console_view
def ticket_status(request: HttpRequest, reference: str) -> HttpResponse:
    ticket = _get_ticket_to_act_on(request, reference)
    status = request.POST.get("status", "")
    if status not in TicketStatus.values:
        return _render_ticket(request, ticket, error=f"unknown status {status!r}", error_at="properties", status=422)
    set_ticket_status(ticket.pk, status, timezone.now())
    return redirect("ticket-detail", reference=ticket.reference)


def _parse_id(raw: str) -> int:
    """A posted row id; 0 (which no row has, so the change rules refuse it) when it is not a number."""
    return int(raw) if raw.isdigit() and len(raw) < 19 else 0


@require_POST
@console_view
def ticket_assign(request: HttpRequest, reference: str) -> HttpResponse:
    """Assign to me, to someone who may act in the ticket's queue, or to nobody (`assignee`: "me", an id, "")."""
    ticket = _get_ticket_to_act_on(request, reference)
    choice = request.POST.get("assignee", "").strip()
    assignee_id: int | None = None
    if choice == "me":
        assignee_id = request.user.pk  # acting on the ticket is what being its assignee takes
    elif choice not in {"", "none"}:
        assignee_id = _parse_id(choice)
        try:
            check_assignee(find_assignee_access(assignee_id), ticket.tenant_id, ticket.queue_id)
        except ChangeNotAllowedError:
            error = f"only someone who works in {ticket.queue.name} can be assigned this ticket"
            return _render_ticket(request, ticket, error=error, error_at="properties", status=422)
    updated, changed = update_ticket(ticket.pk, TicketChanges(assignee_id=assignee_id), timezone.now())
    if changed:
        who = "you" if assignee_id == request.user.pk else (str(updated.assignee) if updated.assignee else "nobody")
        messages.success(request, f"{ticket.reference} is now assigned to {who}.")
    return redirect("ticket-detail", reference=ticket.reference)


def _keeps_assignee(ticket: Ticket, queue_id: int) -> bool:
    """Whether the current assignee may still act on the ticket once it is in `queue_id`."""
    if ticket.assignee_id is None:
        return True
    try:
        check_assignee(find_assignee_access(ticket.assignee_id), ticket.tenant_id, queue_id)
    except ChangeNotAllowedError:
        return False
    return True


@require_POST
@console_view
def ticket_fields(request: HttpRequest, reference: str) -> HttpResponse:
    """Change the priority and the queue; an assignee who does not work in the new queue is unassigned."""
    ticket = _get_ticket_to_act_on(request, reference)
    priority = request.POST.get("priority", "") or None
    if priority is not None and priority not in TicketPriority.values:
        return _render_ticket(
            request, ticket, error=f"unknown priority {priority!r}", error_at="properties", status=422
        )
    queue_id: int | None = None
    raw_queue = request.POST.get("queue", "").strip()
    if raw_queue:
        try:
            queue_id = check_queue_move(request.user, ticket, _parse_id(raw_queue)).pk
        except ChangeNotAllowedError:
            error = "you can move a ticket only to a queue you work in"
            return _render_ticket(request, ticket, error=error, error_at="properties", status=422)
    changes = TicketChanges(priority=priority, queue_id=queue_id)
    if queue_id is not None and queue_id != ticket.queue_id and not _keeps_assignee(ticket, queue_id):
        changes = TicketChanges(priority=priority, queue_id=queue_id, assignee_id=None)
    try:
        _updated, changed = update_ticket(ticket.pk, changes, timezone.now())
    except TicketChangeError as e:
        return _render_ticket(request, ticket, error=str(e), error_at="properties", status=422)
    if changed:
        messages.success(request, f"Changed: {', '.join(changed)}.")
    return redirect("ticket-detail", reference=ticket.reference)
