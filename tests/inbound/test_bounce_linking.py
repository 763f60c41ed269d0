"""Bounces end to end: our reply leaves with a VERP return path, the bounce is linked by it, a hard bounce marks
the address undeliverable until that address writes in again, and an unmatched one is quarantined."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from mailfactory import build_mail
from postroom.inbound.models import InboundMessage, InboundStatus, QuarantineCause
from postroom.inbound.routes import add_route
from postroom.outbound.models import DeliveryStatus, EventKind
from postroom.outbound.sender import send_due_deliveries
from postroom.outbound.services import ReplyDraft, send_reply
from postroom.tickets.models import Contact, Direction, Message, Ticket
from smtpcapture import CaptureServer

Ingest = Callable[..., InboundMessage]
CUSTOMER = "Jane Doe <jane.doe@example.org>"
JANE = "jane.doe@example.org"


def _reply(ingest: Ingest, agent: object, outbox: CaptureServer) -> tuple[Ticket, str]:
    """A ticket from Jane and an agent's reply, sent; the envelope sender the relay saw."""
    add_route("support@example.com", "Support")
    first = ingest(build_mail(sender=CUSTOMER, message_id="first@mail.example.org")).message
    assert first is not None
    ticket = first.ticket
    send_reply(ticket.pk, agent, ReplyDraft(text="Please restart it."))  # type: ignore[arg-type]
    assert send_due_deliveries() == 1
    return ticket, outbox.messages[-1].mail_from


def _bounce(
    return_path: str, recipient: str, status: str, diagnostic: str, original_id: str = "x@else.example"
) -> bytes:
    """A Postfix-style RFC 3464 report sent to `return_path`, returning headers with `original_id`."""
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\n"
        f"To: {return_path}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn-7@mx.example.org>\r\n"
        "Date: Tue, 03 Nov 2026 10:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n'
        "\r\n"
        "--b1\r\nContent-Type: text/plain\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {diagnostic}\r\n"
        "--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: <{original_id}>\r\nSubject: printer\r\n"
        "--b1--\r\n"
    ).encode()


def _jane() -> Contact:
    return Contact.objects.get(email_key=JANE)


@pytest.mark.django_db
def test_our_reply_leaves_with_a_verp_return_path(ingest: Ingest, agent: object, outbox: CaptureServer) -> None:
    """
    GIVEN a queue sending as support@<domain>
    WHEN an agent's reply is sent
    THEN the envelope sender is support+rb-<token>@<domain>, while the delivery row keeps the plain address
    """
    ticket, return_path = _reply(ingest, agent, outbox)
    reply = Message.objects.get(ticket=ticket, direction=Direction.OUTBOUND)
    plain = reply.delivery.envelope_from
    local, _, domain = return_path.rpartition("@")
    assert plain.startswith("support@") and local.startswith("support+rb-") and plain.endswith(f"@{domain}")


@pytest.mark.django_db
def test_verp_can_be_switched_off_for_a_picky_relay(
    ingest: Ingest, agent: object, outbox: CaptureServer, settings: Any
) -> None:
    """GIVEN POSTROOM_VERP=false WHEN a reply is sent THEN the envelope sender is the plain queue address."""
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, verp=False)
    _, return_path = _reply(ingest, agent, outbox)
    assert return_path.startswith("support@")


@pytest.mark.django_db
def test_hard_bounce_is_linked_by_return_path_and_marks_the_address_until_it_writes_in(
    ingest: Ingest, agent: object, outbox: CaptureServer
) -> None:
    """
    GIVEN a sent reply to Jane
    WHEN a 5.1.1 bounce comes back to the VERP address, quoting no Message-ID of ours
    THEN it is linked by the return path, the reply's log shows a hard bounce with its reason, Jane's address is
         undeliverable for POSTROOM_BOUNCE_HOLD_DAYS with the reason stored, and mail from Jane clears the mark
    """
    ticket, return_path = _reply(ingest, agent, outbox)
    before = dt.datetime.now(dt.UTC)
    row = ingest(
        _bounce(return_path, JANE, "5.1.1", "550 5.1.1 <jane.doe@example.org>: User unknown"),
        envelope_to=[return_path],
    )
    assert row.status == InboundStatus.PROCESSED and row.message is None
    receipt = next(step for step in row.trace if step["stage"] == "receipt")
    assert receipt["verdict"] == "receipt" and "return path" in receipt["reason"]
    assert receipt["data"]["recipients"] == f"{JANE}: hard userunknown 5.1.1"
    reply = Message.objects.get(ticket=ticket, direction=Direction.OUTBOUND)
    event = reply.delivery.events.get(kind=EventKind.DSN)
    assert "hard bounce (userunknown)" in event.detail and "reply 550" in event.detail
    assert reply.delivery.status == DeliveryStatus.FAILED
    jane = _jane()
    assert jane.undeliverable_until is not None
    assert dt.timedelta(days=29) < jane.undeliverable_until - before < dt.timedelta(days=31)
    assert jane.undeliverable_reason.startswith("userunknown 5.1.1 550")

    ingest(build_mail(sender=CUSTOMER, message_id="second@mail.example.org", subject="still broken"))
    assert _jane().undeliverable_until is None and _jane().undeliverable_reason == ""


@pytest.mark.django_db
def test_soft_bounce_is_logged_but_marks_nothing(ingest: Ingest, agent: object, outbox: CaptureServer) -> None:
    """
    GIVEN a sent reply to Jane
    WHEN a mailbox-full bounce (5.2.2) comes back to the VERP address
    THEN the log shows a soft bounce (mailboxfull) and Jane's address stays deliverable
    """
    ticket, return_path = _reply(ingest, agent, outbox)
    ingest(_bounce(return_path, JANE, "5.2.2", "552 5.2.2 Mailbox full"), envelope_to=[return_path])
    reply = Message.objects.get(ticket=ticket, direction=Direction.OUTBOUND)
    event = reply.delivery.events.get(kind=EventKind.DSN)
    assert "soft bounce (mailboxfull)" in event.detail
    assert _jane().undeliverable_until is None


@pytest.mark.django_db
def test_a_bounce_cannot_mark_an_address_our_message_did_not_go_to(
    ingest: Ingest, agent: object, outbox: CaptureServer
) -> None:
    """
    GIVEN a sent reply to Jane and a contact Bob who was not a recipient
    WHEN a hard bounce for Bob comes back to that reply's VERP address
    THEN it is logged on the reply, but Bob's address is not marked
    """
    _ticket, return_path = _reply(ingest, agent, outbox)
    ingest(build_mail(sender="Bob <bob@example.net>", message_id="bob@mail.example.net"))
    ingest(_bounce(return_path, "bob@example.net", "5.1.1", "550 5.1.1 user unknown"), envelope_to=[return_path])
    assert Contact.objects.get(email_key="bob@example.net").undeliverable_until is None


@pytest.mark.django_db
def test_a_bounce_with_a_tampered_return_path_and_no_known_message_is_quarantined(
    ingest: Ingest, agent: object, outbox: CaptureServer
) -> None:
    """
    GIVEN a sent reply
    WHEN a bounce arrives at the VERP address with one token character changed, quoting no Message-ID of ours
    THEN it is not linked: it is quarantined as bounce_unmatched and nobody is marked
    """
    _ticket, return_path = _reply(ingest, agent, outbox)
    local, _, domain = return_path.rpartition("@")
    tampered = f"{local[:-1]}{'a' if local[-1] != 'a' else 'b'}@{domain}"
    row = ingest(_bounce(tampered, JANE, "5.1.1", "550 5.1.1 user unknown"), envelope_to=[tampered])
    assert row.status == InboundStatus.QUARANTINED and row.cause == QuarantineCause.BOUNCE_UNMATCHED
    assert _jane().undeliverable_until is None


@pytest.mark.django_db
def test_without_a_return_path_the_quoted_message_id_still_links(
    ingest: Ingest, agent: object, outbox: CaptureServer
) -> None:
    """
    GIVEN a sent reply
    WHEN a bounce arrives at the plain mailbox address (a relay rewrote the envelope sender) quoting our Message-ID
    THEN it is linked by that Message-ID
    """
    ticket, _return_path = _reply(ingest, agent, outbox)
    reply = Message.objects.get(ticket=ticket, direction=Direction.OUTBOUND)
    row = ingest(_bounce("support@example.com", JANE, "5.1.1", "550 5.1.1 user unknown", reply.message_id))
    receipt = next(step for step in row.trace if step["stage"] == "receipt")
    assert receipt["verdict"] == "receipt" and "Message-ID" in receipt["reason"]
    assert _jane().undeliverable_until is not None
