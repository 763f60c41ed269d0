"""Sender authentication during the SMTP session: an SMTP mailbox in reject mode refuses a possible spoof with
550 5.7.26 and keeps it in quarantine; genuine mail and DNS trouble are accepted as before."""

from __future__ import annotations

import dataclasses

import pytest
from django.contrib.auth import get_user_model

from postroom.inbound import auth_dns, quarantine, smtp, smtp_refusal
from postroom.inbound.models import InboundMessage, InboundStatus
from postroom.inbound.routes import add_route
from postroom.inbound.smtp import deliver_envelope
from postroom.mail.auth import InMemoryZone, ZoneRecord
from postroom.mail.transport.delivery import DeliveryStatus, Envelope
from postroom.mail.transport.lmtp_server import reply_for_outcome
from postroom.mailboxes.models import ConnectorKind, Mailbox
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import Queue

pytestmark = pytest.mark.django_db

ZONE = (
    ZoneRecord("bank.example", "TXT", b"v=spf1 ip4:192.0.2.0/24 -all"),
    ZoneRecord("_dmarc.bank.example", "TXT", b"v=DMARC1; p=reject"),
    ZoneRecord("slow.example", "TXT", b"v=spf1 ip4:192.0.2.0/24 -all"),
    ZoneRecord("mx.bank.example", "TXT", b"v=spf1 ip4:192.0.2.0/24 -all"),
)


@pytest.fixture(autouse=True)
def zone(monkeypatch: pytest.MonkeyPatch) -> InMemoryZone:
    resolver = InMemoryZone(ZONE, timeouts=["_dmarc.slow.example"])
    monkeypatch.setattr(auth_dns, "resolver_factory", lambda timeout: resolver)
    # The listener drops stale database connections between deliveries; inside a test's transaction that would
    # close the test's own connection.
    monkeypatch.setattr(smtp, "close_old_connections", lambda: None)
    smtp_refusal._smtp_mailboxes.clear()
    return resolver


def smtp_mailbox(mode: str, address: str = "support@example.com") -> Mailbox:
    add_route(address, "Support")
    return Mailbox.objects.create(
        tenant=get_default_tenant(), name=f"SMTP {mode} {address}", address=address, kind=ConnectorKind.SMTP,
        default_queue=Queue.objects.get(slug="support"), settings={"sender_auth": mode},
    )  # fmt: skip


def envelope(author: str, peer_ip: str, *, rcpt: str = "support@example.com", label: str = "x") -> Envelope:
    raw = (
        f"From: {author}\r\nTo: {rcpt}\r\nSubject: Wire transfer {label}\r\nMessage-ID: <{label}@mail.example>\r\n"
        "Date: Tue, 03 Nov 2026 10:00:00 +0000\r\n\r\nPlease wire the money today.\r\n"
    ).encode()
    return Envelope(
        mail_from=author.rsplit("<", maxsplit=1)[-1].rstrip(">"), rcpt_tos=(rcpt,), raw=raw, peer=f"{peer_ip}:40000",
        helo="mx.sender.example",
    )  # fmt: skip


def test_a_spoof_is_refused_in_the_session_and_kept_for_review() -> None:
    """
    GIVEN an SMTP mailbox for support@example.com in reject mode and bank.example publishing SPF and p=reject
    WHEN mail From the bank arrives from an address outside its SPF record (the recipient in plus-tag form)
    THEN the listener answers 550 5.7.26 with a reason, the raw message sits in quarantine as auth_failed with the
         refusal and evidence in its trace, and an admin's release turns it into a ticket
    """
    mailbox = smtp_mailbox("reject")
    outcome = deliver_envelope(envelope("CEO <ceo@bank.example>", "203.0.113.5", rcpt="support+billing@example.com"))

    assert outcome.status is DeliveryStatus.REJECTED
    reply = reply_for_outcome(outcome, peer="203.0.113.5:40000", size=100)
    assert reply.startswith("550 5.7.26 Message refused: the sender's domain did not authenticate it")
    row = InboundMessage.objects.get()
    assert (row.status, row.cause, row.mailbox_id) == (InboundStatus.QUARANTINED, "auth_failed", mailbox.pk)
    assert row.sender == "CEO <ceo@bank.example>" and row.subject == "Wire transfer x"
    (step,) = row.trace
    assert step["stage"] == "smtp" and step["verdict"] == "rejected"
    assert "550 5.7.26" in step["reason"] and "DMARC fail for bank.example" in step["data"]["evidence"]
    assert step["data"]["helo"] == "mx.sender.example"

    admin = quarantine.Actor.of(get_user_model().objects.create_user("admin", password=None))
    released = quarantine.release_message(row.pk, admin)
    assert released.status == InboundStatus.PROCESSED and released.message is not None
    assert released.message.possible_spoof is True


def test_genuine_mail_and_a_dns_timeout_are_accepted() -> None:
    """GIVEN the reject-mode mailbox WHEN the bank writes from its own network, or a sender's DMARC lookup times
    out THEN both are answered 250 and go through the pipeline with the mailbox set (RFC 7489 §6.6.2: a temporary
    error never refuses)."""
    mailbox = smtp_mailbox("reject")
    genuine = deliver_envelope(envelope("ceo@bank.example", "192.0.2.10", label="genuine"))
    unsure = deliver_envelope(envelope("boss@slow.example", "203.0.113.5", label="unsure"))
    assert (genuine.status, unsure.status) == (DeliveryStatus.ACCEPTED, DeliveryStatus.ACCEPTED)
    rows = list(InboundMessage.objects.order_by("id"))
    assert [row.mailbox_id for row in rows] == [mailbox.pk, mailbox.pk]
    assert all(row.status == InboundStatus.RECEIVED for row in rows)  # queued for the pipeline, not refused


@pytest.mark.parametrize("mode", ["tag", "quarantine"])
def test_other_modes_never_refuse_in_the_session(mode: str) -> None:
    smtp_mailbox(mode)
    outcome = deliver_envelope(envelope("ceo@bank.example", "203.0.113.5", label=mode))
    assert outcome.status is DeliveryStatus.ACCEPTED
    assert InboundMessage.objects.get().status == InboundStatus.RECEIVED


def test_a_bounce_is_checked_against_the_helo_name_it_gave() -> None:
    """
    GIVEN an SMTP mailbox in tag mode
    WHEN a bounce (MAIL FROM:<>) arrives with HELO mx.bank.example, once from the bank's network and once not
    THEN the HELO is kept on the ledger row, and SPF (RFC 7208 §2.3: the HELO identity for the null sender)
         passes for the first and fails for the second
    """
    from postroom.inbound.services import process_inbound

    smtp_mailbox("tag")
    verdicts = []
    for label, ip in (("ours", "192.0.2.10"), ("forged", "203.0.113.5")):
        bounce = envelope("MAILER-DAEMON@mx.bank.example", ip, label=label)
        outcome = deliver_envelope(dataclasses.replace(bounce, mail_from="", helo="mx.bank.example"))
        assert outcome.status is DeliveryStatus.ACCEPTED
        row = InboundMessage.objects.get(subject="", trace=[], helo="mx.bank.example", client_ip=ip)
        process_inbound(row.pk)
        row.refresh_from_db()
        screen = next(step for step in row.trace if step["stage"] == "screen")
        verdicts.append(screen["data"]["spf"])
    assert verdicts == ["pass", "fail"]
