"""API: contacts (list, search, read, change name and organisation, their tickets) and organisations.

Contacts: admins and auditors see every contact of their tenant; queue managers and agents those on tickets they
see (as requester or participant); a contact's tickets are scoped by the caller's queues; only admins change a
contact. Organisations: admins and auditors read, admins change. Lists that grow with the mail are paged by a
cursor (`next_cursor`, stable while contacts are added).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema, Status

from postroom.accounts.admin_access import get_acting_tenant, scope_contacts, scope_to_tenant
from postroom.accounts.permissions import scope_tickets
from postroom.api.admin_common import (
    QueueRef,
    Text,
    invalid_response,
    require_admin,
    require_console,
    require_reader,
)
from postroom.tickets.directory import save_contact, save_organization
from postroom.tickets.models import Contact, Organization, Ticket

router = Router(tags=["contacts"])

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class OrganizationRef(Schema):
    id: int
    name: str


class ContactOut(Schema):
    id: int
    email: str
    name: str
    organization: OrganizationRef | None


class ContactPageOut(Schema):
    items: list[ContactOut]
    next_cursor: str | None  # None on the last page


class ContactQuery(Schema):
    q: Text = ""  # part of the address or name, any case
    organization_id: int | None = None
    cursor: Text = ""
    limit: int = Field(PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)


class ContactPatch(Schema):
    name: Text | None = None
    organization_id: int | None = None


class ContactTicketOut(Schema):
    reference: str
    subject: str
    status: str
    queue: QueueRef
    last_message_at: dt.datetime


class ContactTicketPageOut(Schema):
    items: list[ContactTicketOut]
    next_cursor: str | None


class PageQuery(Schema):
    cursor: Text = ""
    limit: int = Field(PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)


class OrganizationOut(Schema):
    id: int
    name: str
    domains: list[str]


class OrganizationIn(Schema):
    name: Text
    domains: list[Text] = []


class OrganizationPatch(Schema):
    name: Text | None = None
    domains: list[Text] | None = None


# --- cursors: opaque to clients, a keyset position to us ------------------------------------------------------


def encode_cursor(*parts: object) -> str:
    return base64.urlsafe_b64encode("\x1f".join(map(str, parts)).encode()).decode().rstrip("=")


def decode_cursor(raw: str, count: int) -> list[str]:
    """The parts of a cursor this API handed out; a 422 problem (ValidationError) for anything else."""
    try:
        parts = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode().split("\x1f")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        parts = []
    if len(parts) != count or not parts[-1].isdigit():
        raise ValidationError({"cursor": ["not a cursor this API handed out"]})
    return parts


# --- contacts -------------------------------------------------------------------------------------------------


def _contact_out(contact: Contact) -> ContactOut:
    organization = contact.organization
    return ContactOut(
        id=contact.pk,
        email=contact.email,
        name=contact.name,
        organization=OrganizationRef(id=organization.pk, name=organization.name) if organization else None,
    )


def _contacts(request: HttpRequest) -> Any:
    require_console(request)
    return scope_contacts(Contact.objects.select_related("organization"), request.user)


@router.get("/contacts", response=ContactPageOut)
def list_contacts(request: HttpRequest, query: Query[ContactQuery]) -> ContactPageOut | HttpResponse:
    """By address; `q` searches address and name; `next_cursor` fetches the next page."""
    rows = _contacts(request)
    if query.q.strip():
        term = query.q.strip()
        rows = rows.filter(Q(email_key__contains=term.lower()) | Q(name__icontains=term))
    if query.organization_id is not None:
        rows = rows.filter(organization_id=query.organization_id)
    if query.cursor:
        try:
            key, last_id = decode_cursor(query.cursor, 2)
        except ValidationError as e:
            return invalid_response(e)
        rows = rows.filter(Q(email_key__gt=key) | Q(email_key=key, pk__gt=int(last_id)))
    page = list(rows.order_by("email_key", "id")[: query.limit + 1])
    more = len(page) > query.limit
    page = page[: query.limit]
    cursor = encode_cursor(page[-1].email_key, page[-1].pk) if more else None
    return ContactPageOut(items=[_contact_out(contact) for contact in page], next_cursor=cursor)


@router.get("/contacts/{contact_id}", response=ContactOut)
def get_contact(request: HttpRequest, contact_id: int) -> ContactOut:
    return _contact_out(get_object_or_404(_contacts(request), pk=contact_id))


@router.patch("/contacts/{contact_id}", response=ContactOut)
def update_contact(request: HttpRequest, contact_id: int, payload: ContactPatch) -> ContactOut | HttpResponse:
    require_admin(request)
    contact = get_object_or_404(_contacts(request), pk=contact_id)
    fields = payload.model_dump(exclude_unset=True)
    if fields.get("name") is not None:
        contact.name = fields["name"]
    if "organization_id" in fields:
        contact.organization_id = fields["organization_id"]
    try:
        save_contact(contact)
    except ValidationError as e:
        return invalid_response(e)
    return _contact_out(Contact.objects.select_related("organization").get(pk=contact.pk))


@router.get("/contacts/{contact_id}/tickets", response=ContactTicketPageOut)
def list_contact_tickets(
    request: HttpRequest, contact_id: int, query: Query[PageQuery]
) -> ContactTicketPageOut | HttpResponse:
    """The tickets the contact asked for, newest first, only those in queues the caller sees."""
    contact = get_object_or_404(_contacts(request), pk=contact_id)
    tickets = scope_tickets(Ticket.objects.filter(requester=contact).select_related("queue"), request.user)
    if query.cursor:
        try:
            (last_id,) = decode_cursor(query.cursor, 1)
        except ValidationError as e:
            return invalid_response(e)
        tickets = tickets.filter(pk__lt=int(last_id))
    page = list(tickets.order_by("-id")[: query.limit + 1])
    more = len(page) > query.limit
    page = page[: query.limit]
    items = [
        ContactTicketOut(
            reference=t.reference,
            subject=t.subject,
            status=t.status,
            queue=QueueRef(id=t.queue.pk, slug=t.queue.slug, name=t.queue.name),
            last_message_at=t.last_message_at,
        )
        for t in page
    ]
    return ContactTicketPageOut(items=items, next_cursor=encode_cursor(page[-1].pk) if more else None)


# --- organisations --------------------------------------------------------------------------------------------


def _organization_out(organization: Organization) -> OrganizationOut:
    return OrganizationOut(id=organization.pk, name=organization.name, domains=list(organization.domains or []))


def _organizations(request: HttpRequest) -> Any:
    return scope_to_tenant(Organization.objects.all(), request.user)


@router.get("/organizations", response=list[OrganizationOut])
def list_organizations(request: HttpRequest) -> list[OrganizationOut]:
    require_reader(request)
    return [_organization_out(o) for o in _organizations(request).order_by("name", "id")]


@router.get("/organizations/{organization_id}", response=OrganizationOut)
def get_organization(request: HttpRequest, organization_id: int) -> OrganizationOut:
    require_reader(request)
    return _organization_out(get_object_or_404(_organizations(request), pk=organization_id))


def _save_organization(
    organization: Organization, payload: OrganizationIn | OrganizationPatch
) -> OrganizationOut | HttpResponse:
    for name, value in payload.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(organization, name, value)
    try:
        save_organization(organization)
    except ValidationError as e:
        return invalid_response(e)
    return _organization_out(organization)


@router.post("/organizations", response={201: OrganizationOut})
def create_organization(request: HttpRequest, payload: OrganizationIn) -> Status[OrganizationOut] | HttpResponse:
    require_admin(request)
    outcome = _save_organization(Organization(tenant=get_acting_tenant(request.user)), payload)
    return Status(201, outcome) if isinstance(outcome, OrganizationOut) else outcome


@router.patch("/organizations/{organization_id}", response=OrganizationOut)
def update_organization(
    request: HttpRequest, organization_id: int, payload: OrganizationPatch
) -> OrganizationOut | HttpResponse:
    require_admin(request)
    return _save_organization(get_object_or_404(_organizations(request), pk=organization_id), payload)


@router.delete("/organizations/{organization_id}", response={204: None})
def delete_organization(request: HttpRequest, organization_id: int) -> Status[None]:
    """Its contacts stay, without an organisation."""
    require_admin(request)
    organization = _organizations(request).filter(pk=organization_id).first()
    if organization is None:
        raise Http404
    organization.delete()
    return Status(204, None)
