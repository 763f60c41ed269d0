"""API: the allow and block lists of senders. Mounted at /v1/sender-lists.

Admins list, add and remove entries; auditors list them (read-only, as everywhere in the admin area); every
other role gets 403. A pattern is an address, `@domain` (that domain) or `@.domain` (it and its subdomains); an
entry with `mailbox_id` applies to that mailbox only. Errors are RFC 9457 problems (422 with `errors` per field).
How the lists are used: docs/architecture/spam.md.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status

from postroom.accounts.admin_access import get_acting_tenant, scope_to_tenant
from postroom.api.admin_common import Text, invalid_response, require_admin, require_reader
from postroom.inbound.models import ListKind, SenderListEntry
from postroom.inbound.sender_list_admin import save_entry

router = Router(tags=["sender lists"])


class SenderEntryOut(Schema):
    id: int
    pattern: str
    kind: ListKind
    mailbox_id: int | None
    skip_auth: bool
    note: str
    created_at: dt.datetime
    created_by: str | None


class SenderEntryIn(Schema):
    pattern: Text
    kind: ListKind
    mailbox_id: int | None = None
    skip_auth: bool = False
    note: Text = ""


class SenderListQuery(Schema):
    kind: ListKind | None = None
    mailbox_id: int | None = None


def _entry_out(entry: SenderListEntry) -> SenderEntryOut:
    return SenderEntryOut(
        id=entry.pk,
        pattern=entry.pattern,
        kind=ListKind(entry.kind),
        mailbox_id=entry.mailbox_id,
        skip_auth=entry.skip_auth,
        note=entry.note,
        created_at=entry.created_at,
        created_by=entry.created_by.get_username() if entry.created_by else None,
    )


@router.get("", response=list[SenderEntryOut])
def list_sender_entries(request: HttpRequest, query: Query[SenderListQuery]) -> list[SenderEntryOut]:
    """Every entry of the tenant, by pattern; `kind` and `mailbox_id` narrow the list."""
    require_reader(request)
    entries = scope_to_tenant(SenderListEntry.objects.select_related("created_by"), request.user)
    if query.kind is not None:
        entries = entries.filter(kind=query.kind)
    if query.mailbox_id is not None:
        entries = entries.filter(mailbox_id=query.mailbox_id)
    return [_entry_out(entry) for entry in entries.order_by("pattern", "id")]


@router.post("", response={201: SenderEntryOut})
def create_sender_entry(request: HttpRequest, payload: SenderEntryIn) -> Status[SenderEntryOut] | HttpResponse:
    require_admin(request)
    user = request.user
    entry = SenderListEntry(
        tenant=get_acting_tenant(user),
        pattern=payload.pattern,
        kind=payload.kind,
        mailbox_id=payload.mailbox_id,
        skip_auth=payload.skip_auth,
        note=payload.note,
        created_by=user if isinstance(user, User) else None,
    )
    try:
        save_entry(entry)
    except ValidationError as e:
        return invalid_response(e)
    return Status(201, _entry_out(entry))


@router.delete("/{entry_id}", response={204: None})
def delete_sender_entry(request: HttpRequest, entry_id: int) -> Status[None]:
    require_admin(request)
    entries = scope_to_tenant(SenderListEntry.objects.all(), request.user)
    get_object_or_404(entries, pk=entry_id).delete()
    return Status(204, None)
