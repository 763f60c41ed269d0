"""API: mailboxes (connector settings validated per kind, secrets write-only), test connection, health.

Admins change mailboxes and run connection tests; auditors read them, their last test and health; everyone else
gets 403. Secrets are never returned: `secrets` shows each one the settings use as "set" or "not set"; a request
sets one with a string, removes it with null, and leaves unmentioned ones as they are.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status

from postroom.accounts.admin_access import get_acting_tenant, scope_to_tenant
from postroom.api.admin_common import (
    JsonObject,
    QueueRef,
    Text,
    conflict_response,
    invalid_response,
    require_admin,
    require_reader,
)
from postroom.connectors.health_report import get_full_health
from postroom.connectors.mailbox_test import run_connection_test
from postroom.connectors.oauth.status import describe_oauth
from postroom.inbound.mailbox_removal import MailboxInUseError, delete_mailbox
from postroom.mailboxes.connector_settings import describe_secrets, find_secret_names
from postroom.mailboxes.models import ConnectorKind, Mailbox
from postroom.mailboxes.services import save_mailbox
from postroom.tickets.models import Queue

router = Router(tags=["mailboxes"])


class CertificateOut(Schema):
    subject: str
    issuer: str
    not_before: str
    not_after: str
    days_left: int
    alt_names: list[str]


class TlsOut(Schema):
    version: str
    cipher: str
    bits: int | None
    verified_against: str
    certificate: CertificateOut | None


class ProbeReportOut(Schema):
    purpose: str
    protocol: str
    host: str
    port: int
    tls_mode: str
    ok: bool
    summary: str
    failure: str | None
    resolved: list[str]
    connected_to: str | None
    greeting: str
    tls: TlsOut | None
    capabilities: list[str]
    authentication: str
    folders: list[str]
    notes: list[str]
    duration_ms: int


class ConnectionTestOut(Schema):
    tested_at: dt.datetime
    ok: bool
    reports: list[ProbeReportOut]
    notes: list[str]
    settings_error: str
    lines: list[str]  # the same in plain words, one fact per line


class OAuthOut(Schema):
    """The mailbox's OAuth sign-in (settings "oauth"); an admin signs in at /admin/mailboxes/{id}/oauth/."""

    provider: str
    grant: str
    signed_in: bool
    token_expires_at: dt.datetime | None
    problem: str


class MailboxOut(Schema):
    id: int
    name: str
    address: str
    kind: ConnectorKind
    settings: dict[str, Any]
    secrets: dict[str, str]  # name -> "set" | "not set"
    default_queue: QueueRef
    is_active: bool
    last_test: ConnectionTestOut | None
    oauth: OAuthOut | None = None


class MailboxIn(Schema):
    name: Text
    kind: ConnectorKind
    default_queue: Text  # the queue's slug
    address: Text = ""
    settings: JsonObject = {}
    secrets: dict[Text, Text | None] = {}
    is_active: bool = True


class MailboxPatch(Schema):
    name: Text | None = None
    kind: ConnectorKind | None = None
    default_queue: Text | None = None
    address: Text | None = None
    settings: JsonObject | None = None
    secrets: dict[Text, Text | None] = {}
    is_active: bool | None = None


class HealthComponentOut(Schema):
    name: str
    state: str
    detail: str
    at: dt.datetime | None


class HealthOut(Schema):
    mailbox_id: int
    state: str  # ok, warning, failing, unknown: the worst of the components
    components: list[HealthComponentOut]
    last_received_at: dt.datetime | None
    last_tracking_id: str
    received_recently: int
    failed_recently: int


def _mailbox_out(mailbox: Mailbox) -> MailboxOut:
    queue = mailbox.default_queue
    report = mailbox.last_test_report if mailbox.last_test_at and mailbox.last_test_report else None
    return MailboxOut(
        id=mailbox.pk,
        name=mailbox.name,
        address=mailbox.address,
        kind=ConnectorKind(mailbox.kind),
        settings=mailbox.settings if isinstance(mailbox.settings, dict) else {},
        secrets=describe_secrets(find_secret_names(mailbox.kind, mailbox.settings), mailbox.secrets),
        default_queue=QueueRef(id=queue.pk, slug=queue.slug, name=queue.name),
        is_active=mailbox.is_active,
        last_test=ConnectionTestOut.model_validate(report) if report else None,
        oauth=OAuthOut.model_validate(oauth, from_attributes=True) if (oauth := describe_oauth(mailbox)) else None,
    )


def _mailboxes(request: HttpRequest) -> Any:
    return scope_to_tenant(Mailbox.objects.select_related("default_queue"), request.user)


def _save(mailbox: Mailbox, payload: MailboxIn | MailboxPatch) -> Mailbox | HttpResponse:
    fields = payload.model_dump(exclude_unset=True, exclude={"secrets", "default_queue"})
    for name, value in fields.items():
        if value is not None:
            setattr(mailbox, name, value)
    if payload.default_queue is not None:
        queue = Queue.objects.filter(tenant_id=mailbox.tenant_id, slug=payload.default_queue).first()
        if queue is None:
            return invalid_response(ValidationError({"default_queue": [f"no queue {payload.default_queue!r}"]}))
        mailbox.default_queue = queue
    try:
        return save_mailbox(mailbox, payload.secrets)
    except ValidationError as e:
        return invalid_response(e)


@router.get("", response=list[MailboxOut])
def list_mailboxes(request: HttpRequest) -> list[MailboxOut]:
    require_reader(request)
    return [_mailbox_out(mailbox) for mailbox in _mailboxes(request).order_by("name")]


@router.get("/{mailbox_id}", response=MailboxOut)
def get_mailbox(request: HttpRequest, mailbox_id: int) -> MailboxOut:
    require_reader(request)
    return _mailbox_out(get_object_or_404(_mailboxes(request), pk=mailbox_id))


@router.post("", response={201: MailboxOut})
def create_mailbox(request: HttpRequest, payload: MailboxIn) -> Status[MailboxOut] | HttpResponse:
    require_admin(request)
    outcome = _save(Mailbox(tenant=get_acting_tenant(request.user)), payload)
    return Status(201, _mailbox_out(outcome)) if isinstance(outcome, Mailbox) else outcome


@router.patch("/{mailbox_id}", response=MailboxOut)
def update_mailbox(request: HttpRequest, mailbox_id: int, payload: MailboxPatch) -> MailboxOut | HttpResponse:
    require_admin(request)
    outcome = _save(get_object_or_404(_mailboxes(request), pk=mailbox_id), payload)
    return _mailbox_out(outcome) if isinstance(outcome, Mailbox) else outcome


@router.delete("/{mailbox_id}", response={204: None})
def remove_mailbox(request: HttpRequest, mailbox_id: int) -> Status[None] | HttpResponse:
    require_admin(request)
    try:
        delete_mailbox(get_object_or_404(_mailboxes(request), pk=mailbox_id))
    except MailboxInUseError as e:
        return conflict_response("The mailbox is in use", str(e))
    return Status(204, None)


@router.post("/{mailbox_id}/test", response=ConnectionTestOut)
def probe_mailbox_connection(request: HttpRequest, mailbox_id: int) -> ConnectionTestOut:
    """Connect to each server the mailbox uses, now; 200 with `ok` false when something fails (the test ran)."""
    require_admin(request)
    result = run_connection_test(get_object_or_404(_mailboxes(request), pk=mailbox_id))
    return ConnectionTestOut.model_validate(result.as_json())


@router.get("/{mailbox_id}/health", response=HealthOut)
def get_mailbox_health_report(request: HttpRequest, mailbox_id: int) -> HealthOut:
    require_reader(request)
    health = get_full_health(get_object_or_404(_mailboxes(request), pk=mailbox_id))
    return HealthOut.model_validate(health, from_attributes=True)
