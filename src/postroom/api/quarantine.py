"""API: quarantined mail: list, read (with the trace and header fields), release, delete, allow the sender.

Quarantined mail belongs to no queue: admins list and act, auditors list and read (403 on actions), every other
role gets 403 on every endpoint. Errors are RFC 9457 problems (404 unknown, 409 not quarantined or not releasable,
422 bad filters). docs/architecture/quarantine.md describes what release and delete do.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema

from postroom.accounts.permissions import can_admin, can_view_unfiled_mail, get_access
from postroom.api.problems import problem_response
from postroom.inbound import quarantine
from postroom.inbound.models import InboundMessage

router = Router(tags=["quarantine"])


class QuarantineQuery(Schema):
    """The list's filters: `state` quarantined (default), released or deleted; `since`/`until` are days received."""

    state: str = quarantine.QuarantineState.QUARANTINED
    cause: str = ""
    sender: str = ""
    since: dt.date | None = None
    until: dt.date | None = None
    cursor: str = ""
    limit: int = Field(quarantine.PAGE_SIZE, ge=1, le=quarantine.MAX_PAGE_SIZE)


class QuarantinedOut(Schema):
    id: int
    tracking_id: str
    status: str
    cause: str
    cause_text: str
    sender: str
    subject: str
    size: int
    received_at: dt.datetime
    quarantined_at: dt.datetime | None
    released_at: dt.datetime | None
    released_by: str | None
    deleted_at: dt.datetime | None
    deleted_by: str | None
    ticket: str | None  # the ticket a released message went to


class QuarantinePageOut(Schema):
    items: list[QuarantinedOut]
    next_cursor: str | None


class TraceStepOut(Schema):
    stage: str
    verdict: str
    reason: str = ""
    data: dict[str, Any] = {}


class HeaderFieldOut(Schema):
    name: str
    value: str


class QuarantinedDetailOut(QuarantinedOut):
    envelope_from: str
    envelope_to: list[str]
    released_causes: list[str]
    releasable: bool
    release_refusal: str | None
    headers_available: bool
    headers: list[HeaderFieldOut]
    trace: list[TraceStepOut]


def _viewer_tenant(request: HttpRequest) -> int | None:
    """The tenant whose quarantine the user may read (None: every tenant); 403 for roles that see none."""
    if not can_view_unfiled_mail(request.user):
        raise PermissionDenied("Quarantined mail belongs to no queue: admins and auditors only.")
    return get_access(request.user).tenant_id


def _actor(request: HttpRequest) -> quarantine.Actor:
    if not can_admin(request.user):
        raise PermissionDenied("Only admins release or delete quarantined mail.")
    user = request.user
    if not isinstance(user, User):  # never: can_admin is false for an anonymous user
        raise PermissionDenied
    return quarantine.Actor.of(user)


def _name(user: User | None) -> str | None:
    return user.get_username() if user is not None else None


def _item(row: InboundMessage) -> dict[str, Any]:
    message = row.message
    return {
        "id": row.pk,
        "tracking_id": row.tracking_id,
        "status": row.status,
        "cause": row.cause,
        "cause_text": quarantine.describe_cause(row.cause) if row.cause else "",
        "sender": row.sender or row.envelope_from,
        "subject": row.subject,
        "size": row.raw_size,
        "received_at": row.received_at,
        "quarantined_at": row.processed_at,
        "released_at": row.released_at,
        "released_by": _name(row.released_by),
        "deleted_at": row.deleted_at,
        "deleted_by": _name(row.deleted_by),
        "ticket": message.ticket.reference if message is not None else None,
    }


def _detail(row: InboundMessage) -> QuarantinedDetailOut:
    headers = quarantine.read_header_view(row)
    refusal = quarantine.find_release_refusal(row)
    return QuarantinedDetailOut(
        **_item(row),
        envelope_from=row.envelope_from,
        envelope_to=[str(address) for address in row.envelope_to or []],
        released_causes=[str(cause) for cause in row.released_causes or []],
        releasable=refusal is None,
        release_refusal=refusal,
        headers_available=headers.available,
        headers=[HeaderFieldOut(name=name, value=value) for name, value in headers.fields],
        trace=[TraceStepOut(**step) for step in row.trace or []],
    )


@router.get("", response=QuarantinePageOut)
def list_quarantine(request: HttpRequest, query: Query[QuarantineQuery]) -> QuarantinePageOut | HttpResponse:
    """Quarantined mail, newest first; `next_cursor` fetches the next page (keyset, stable while mail arrives)."""
    tenant_id = _viewer_tenant(request)
    if query.state not in quarantine.QuarantineState.ALL:
        states = ", ".join(quarantine.QuarantineState.ALL)
        return problem_response(422, "Invalid request", f"state must be one of {states}")
    try:
        after = quarantine.parse_cursor(query.cursor) if query.cursor else None
    except ValueError as e:
        return problem_response(422, "Invalid request", str(e))
    filters = quarantine.QuarantineFilter(
        state=query.state, cause=query.cause, sender=query.sender.strip(), since=query.since, until=query.until
    )
    page = quarantine.list_quarantined(tenant_id, filters, after=after, limit=query.limit)
    return QuarantinePageOut(items=[QuarantinedOut(**_item(row)) for row in page.rows], next_cursor=page.next_cursor)


@router.get("/{tracking_id}", response=QuarantinedDetailOut)
def get_quarantined(request: HttpRequest, tracking_id: str) -> QuarantinedDetailOut | HttpResponse:
    tenant_id = _viewer_tenant(request)
    row = quarantine.find_quarantined(tenant_id, tracking_id)
    if row is None:
        return problem_response(404, "Not found", "No quarantined message with this tracking id.")
    return _detail(row)


@router.post("/{tracking_id}/release", response=QuarantinedDetailOut)
def release_quarantined(request: HttpRequest, tracking_id: str) -> QuarantinedDetailOut | HttpResponse:
    """Waive the cause and run the pipeline again now; the answer is the message as that run left it."""
    tenant_id = _viewer_tenant(request)
    row = quarantine.find_quarantined(tenant_id, tracking_id)
    if row is None:
        return problem_response(404, "Not found", "No quarantined message with this tracking id.")
    actor = _actor(request)
    try:
        released = quarantine.release_message(row.pk, actor)
    except quarantine.QuarantineConflictError as e:
        return problem_response(409, "Cannot be released", str(e))
    return _detail(released)


@router.post("/{tracking_id}/delete", response=QuarantinedDetailOut)
def delete_quarantined(request: HttpRequest, tracking_id: str) -> QuarantinedDetailOut | HttpResponse:
    """Delete the raw message (unless shared); the ledger row and its trace stay as the record."""
    tenant_id = _viewer_tenant(request)
    row = quarantine.find_quarantined(tenant_id, tracking_id)
    if row is None:
        return problem_response(404, "Not found", "No quarantined message with this tracking id.")
    actor = _actor(request)
    try:
        deleted = quarantine.delete_message(row.pk, actor)
    except quarantine.QuarantineConflictError as e:
        return problem_response(409, "Cannot be deleted", str(e))
    return _detail(deleted)


class AllowSenderIn(Schema):
    mailbox_only: bool = False  # allow the sender for the message's mailbox only, not every mailbox
    skip_auth: bool = False  # let the sender through sender authentication failures too


class AllowedSenderOut(Schema):
    entry_id: int
    pattern: str
    message: QuarantinedDetailOut  # as the release left it


@router.post("/{tracking_id}/allow-sender", response=AllowedSenderOut)
def allow_quarantined_sender(
    request: HttpRequest, tracking_id: str, payload: AllowSenderIn | None = None
) -> AllowedSenderOut | HttpResponse:
    """Allow-list the sender's address and release the message (409 when it cannot be released)."""
    tenant_id = _viewer_tenant(request)
    row = quarantine.find_quarantined(tenant_id, tracking_id)
    if row is None:
        return problem_response(404, "Not found", "No quarantined message with this tracking id.")
    actor = _actor(request)
    choice = payload or AllowSenderIn()
    try:
        allowed = quarantine.allow_sender(row.pk, actor, mailbox_only=choice.mailbox_only, skip_auth=choice.skip_auth)
    except quarantine.QuarantineConflictError as e:
        return problem_response(409, "Cannot allow the sender", str(e))
    return AllowedSenderOut(entry_id=allowed.entry.pk, pattern=allowed.entry.pattern, message=_detail(allowed.row))
