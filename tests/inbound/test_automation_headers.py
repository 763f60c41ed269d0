"""Every kind of mail Postroom sends carries the headers that stop loops: RFC 3834 marks on everything automatic,
our loop header on everything (agents' replies too, which carry no Auto-Submitted)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from mailfactory import build_mail
from postroom.accounts.models import AgentProfile, Role
from postroom.connectors.alerts import send_recovery_notice, send_unhealthy_alert
from postroom.connectors.models import MailboxHealth
from postroom.inbound.models import InboundMessage
from postroom.inbound.routes import add_route
from postroom.mail.automation import AUTO_GENERATED, AUTO_REPLIED, LOOP_HEADER
from postroom.mail.values import Address
from postroom.mailboxes.models import Mailbox
from postroom.outbound.notices import send_closed_ticket_notice
from postroom.outbound.sender import send_due_deliveries
from postroom.outbound.services import ReplyDraft, send_reply
from postroom.portal.outbox import build_sign_in_mail
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import Queue, Ticket
from smtpcapture import CaptureServer

Ingest = Callable[..., InboundMessage]


def _last_sent(outbox: CaptureServer) -> EmailMessage:
    assert send_due_deliveries() >= 1
    return email.message_from_bytes(outbox.messages[-1].data, policy=email.policy.default)  # type: ignore[return-value]


def _assert_automatic(sent: EmailMessage, auto_submitted: str, loop_id: str) -> None:
    assert sent["Auto-Submitted"] == auto_submitted
    assert sent["X-Auto-Response-Suppress"] == "All"
    assert sent[LOOP_HEADER] == loop_id


@pytest.fixture
def ticket(ingest: Ingest) -> Ticket:
    add_route("support@example.com", "Support")
    return ingest(build_mail()).message.ticket


@pytest.mark.django_db
def test_agent_replies_carry_the_loop_header_but_no_auto_submitted(
    ticket: Ticket, agent: Any, outbox: CaptureServer, settings: Any
) -> None:
    """
    GIVEN an agent's reply
    WHEN it is sent
    THEN it carries our loop header and no RFC 3834 mark: a person wrote it, and it may be answered
    """
    send_reply(ticket.pk, agent, ReplyDraft(text="Please restart it."))
    sent = _last_sent(outbox)
    assert sent[LOOP_HEADER] == settings.POSTROOM.installation_id
    assert sent["Auto-Submitted"] is None and sent["X-Auto-Response-Suppress"] is None


@pytest.mark.django_db
def test_closed_ticket_notices_are_auto_replied(ticket: Ticket, outbox: CaptureServer, settings: Any) -> None:
    """
    GIVEN a notice answering a late reply to a closed ticket
    WHEN it is sent
    THEN it is marked auto-replied (it answers a message), asks for no automatic answer, and carries our loop header
    """
    send_closed_ticket_notice(ticket, Address("Jane", "jane.doe@example.org"))
    _assert_automatic(_last_sent(outbox), AUTO_REPLIED, settings.POSTROOM.installation_id)


@pytest.mark.django_db
def test_mailbox_alerts_are_auto_generated(ticket: Ticket, outbox: CaptureServer, settings: Any) -> None:
    """
    GIVEN a mailbox that turned unhealthy and then recovered, and a tenant admin with an address
    WHEN the alert and the recovery notice are sent
    THEN both are marked auto-generated (they answer no message) and carry our loop header
    """
    user = get_user_model().objects.create_user("ops", email="ops@example.com", password="x")
    AgentProfile.objects.create(user=user, tenant=get_default_tenant(), role=Role.ADMIN)
    mailbox = Mailbox.objects.create(
        tenant=get_default_tenant(), name="Inbox", kind="smtp", default_queue=Queue.objects.get(slug="support")
    )
    MailboxHealth.objects.create(mailbox=mailbox, consecutive_failures=3, last_error="connection refused")
    now = dt.datetime.now(dt.UTC)

    assert send_unhealthy_alert(mailbox.pk, now) is not None
    _assert_automatic(_last_sent(outbox), AUTO_GENERATED, settings.POSTROOM.installation_id)
    assert send_recovery_notice(mailbox.pk, now) is not None
    _assert_automatic(_last_sent(outbox), AUTO_GENERATED, settings.POSTROOM.installation_id)


@pytest.mark.django_db
def test_portal_sign_in_mail_is_auto_generated(settings: Any) -> None:
    """
    GIVEN a portal sign-in link mail
    WHEN it is built
    THEN it is marked auto-generated, asks for no automatic answer, and carries our loop header
    """
    raw = build_sign_in_mail(
        sender=Address("Support", "support@example.com"),
        to=Address("Jane", "jane.doe@example.org"),
        link="https://help.example.com/portal/link/x",
        minutes=15,
        now=dt.datetime(2026, 11, 3, tzinfo=dt.UTC),
    )
    sent: EmailMessage = email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[assignment]
    _assert_automatic(sent, AUTO_GENERATED, settings.POSTROOM.installation_id)
