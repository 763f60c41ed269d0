"""Tells a tenant's admins that a mailbox stopped fetching, and again when it recovered, through the outbox.

The outbox sends mail from a ticket (every outbound message belongs to one), so an outage opens an operations
ticket in the mailbox's default queue: the alert and the recovery notice go out from it as automatic messages
(RFC 3834) and thread together in the admins' mail, and the console keeps the record. No admin with an address:
the log event is all there is (logged at ERROR by health.record_cycle).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q

from postroom.accounts.models import Role
from postroom.connectors.models import MailboxHealth
from postroom.mail.automation import AUTO_GENERATED
from postroom.mail.values import Address
from postroom.mailboxes.models import Mailbox
from postroom.outbound.services import send_notice
from postroom.tickets.models import Ticket
from postroom.tickets.services import create_ticket, upsert_contact

log = logging.getLogger(__name__)

ALERT_BODY = (
    "Postroom cannot fetch mail from the mailbox {name!r} ({address}).\n\n"
    "Failed cycles in a row: {failures}\n"
    "Last error: {error}\n"
    "Last success: {last_success}\n\n"
    "Other mailboxes are not affected. Postroom keeps retrying with backoff and sends one more message when the "
    "mailbox works again. Check the mailbox's settings and password, or use its connection test.\n\n"
    "This is an automatic message."
)
RECOVERY_BODY = (
    "The mailbox {name!r} ({address}) fetches mail again since {now}.\n"
    "It was failing since {since}.\n\n"
    "This is an automatic message."
)


def list_admin_addresses(tenant_id: int) -> list[Address]:
    """Active admins of the tenant (and superusers without a tenant) that have an address, by user name."""
    users = (
        get_user_model()
        .objects.filter(is_active=True)
        .exclude(email="")
        .filter(
            Q(agent_profile__role=Role.ADMIN, agent_profile__tenant_id=tenant_id)
            | Q(is_superuser=True, agent_profile__isnull=True)
            | Q(is_superuser=True, agent_profile__tenant_id=tenant_id)
        )
        .order_by("username")
        .distinct()
    )
    return [Address(user.get_full_name() or user.get_username(), user.email.lower()) for user in users]


def _mailbox(mailbox_id: int) -> Mailbox:
    return Mailbox.objects.select_related("tenant", "default_queue").get(pk=mailbox_id)


def send_unhealthy_alert(mailbox_id: int, now: dt.datetime) -> Ticket | None:
    """Open the outage's ticket and queue the alert to every admin; caller's transaction (health row locked)."""
    mailbox = _mailbox(mailbox_id)
    health = MailboxHealth.objects.get(mailbox_id=mailbox_id)
    admins = list_admin_addresses(mailbox.tenant_id)
    if not admins:
        log.error("mailbox %s is unhealthy and no admin has an address to alert", mailbox_id)
        return None
    subject = f"Mailbox {mailbox.name} stopped receiving mail"
    ticket = create_ticket(
        tenant=mailbox.tenant,
        queue=mailbox.default_queue,
        subject=subject,
        requester=upsert_contact(mailbox.tenant, admins[0]),
        at=now,
        prefix=settings.POSTROOM.ticket_prefix,
    )
    body = ALERT_BODY.format(
        name=mailbox.name,
        address=mailbox.address or "no address set",
        failures=health.consecutive_failures,
        error=health.last_error or "unknown",
        last_success=health.last_success_at.isoformat(timespec="seconds") if health.last_success_at else "never",
    )
    for admin in admins:
        send_notice(ticket, admin, subject, body, auto_submitted=AUTO_GENERATED)  # it answers no message
    MailboxHealth.objects.filter(mailbox_id=mailbox_id).update(alert_ticket=ticket)
    return ticket


def send_recovery_notice(mailbox_id: int, now: dt.datetime) -> Ticket | None:
    """Tell the admins on the outage's ticket that mail flows again; caller's transaction."""
    health = MailboxHealth.objects.select_related("alert_ticket").get(mailbox_id=mailbox_id)
    ticket = health.alert_ticket
    if ticket is None:
        return None
    mailbox = _mailbox(mailbox_id)
    body = RECOVERY_BODY.format(
        name=mailbox.name,
        address=mailbox.address or "no address set",
        now=now.isoformat(timespec="seconds"),
        since=ticket.created_at.isoformat(timespec="seconds"),
    )
    subject = f"Mailbox {mailbox.name} receives mail again"
    for admin in list_admin_addresses(mailbox.tenant_id):
        send_notice(ticket, admin, subject, body, auto_submitted=AUTO_GENERATED)  # it answers no message
    MailboxHealth.objects.filter(mailbox_id=mailbox_id).update(alert_ticket=None)
    return ticket
