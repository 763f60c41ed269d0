"""Agents' replies and notes: the outbox, send status, conflicts, note leaks, signatures, keys."""

from __future__ import annotations

import dataclasses
import email
import email.policy
from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model

from mailfactory import build_mail
from postroom.inbound.models import InboundMessage
from postroom.inbound.routes import add_route
from postroom.mail.tokens import TokenVerdict, find_tokens, verify_token
from postroom.outbound.models import Delivery, DeliveryStatus
from postroom.outbound.sender import send_due_deliveries
from postroom.outbound.services import NoteLeakError, ReplyConflictError, ReplyDraft, add_note, send_reply
from postroom.tenants.keys import get_key_ring, retire_threading_key, rotate_threading_key
from postroom.tickets.models import Direction, Message, Ticket, TicketStatus
from smtpcapture import CaptureServer

Ingest = Callable[..., InboundMessage]


@pytest.fixture
def ticket(ingest: Ingest) -> Ticket:
    add_route("support@example.com", "Support")
    row = ingest(build_mail(message_id="first@mail.example.org", extra_headers={"Cc": "Bob <bob@partner.example>"}))
    return row.message.ticket


@pytest.mark.django_db
def test_a_reply_is_queued_then_sent_with_signature_and_token(
    ticket: Ticket, agent: object, outbox: CaptureServer
) -> None:
    """
    GIVEN a ticket with a participant and a queue signature with merge fields
    WHEN an agent replies and the outbox runs
    THEN the server gets one message to the requester, Cc the participant, signed token in Message-ID and body,
         the signature filled in, and the message's status goes queued -> sent with the server's reply
    """
    ticket.queue.signature = "{agent_name}, {queue_name} team"
    ticket.queue.from_address = "support@example.com"
    ticket.queue.save()
    message = send_reply(ticket.pk, agent, ReplyDraft(text="Please restart the printer."))  # type: ignore[arg-type]
    assert Delivery.objects.get(message=message).status == DeliveryStatus.QUEUED
    assert outbox.messages == []  # nothing leaves before the worker runs (and never before commit)

    assert send_due_deliveries() == 1

    delivery = Delivery.objects.get(message=message)
    assert delivery.status == DeliveryStatus.SENT and delivery.last_code == 250 and delivery.sent_at is not None
    [captured] = outbox.messages
    assert captured.mail_from.startswith("support+rb-") and captured.mail_from.endswith("@example.com")  # VERP
    assert sorted(captured.rcpt_tos) == ["bob@partner.example", "jane.doe@example.org"]
    sent = email.message_from_bytes(captured.data, policy=email.policy.default)
    body = sent.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "-- \nAlice, Support team" in body.replace("\r\n", "\n")
    ring = get_key_ring(ticket.tenant)
    [from_id, from_body] = find_tokens(message_ids=[sent["Message-ID"]]), find_tokens(text=body)
    assert from_id == from_body
    check = verify_token(from_id[0], ring.keys)
    assert check.verdict == TokenVerdict.VALID and check.token is not None
    assert (check.token.ticket_id, check.token.message_id) == (ticket.pk, message.pk)
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.PENDING


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("server_reply", "status"), [("451 4.7.1 Try again later", "deferred"), ("550 5.7.1 No", "failed")]
)
def test_server_refusals_set_the_send_status(
    ticket: Ticket, agent: object, outbox: CaptureServer, server_reply: str, status: str
) -> None:
    """
    GIVEN a relay that answers DATA with 451 or 550
    WHEN the reply is sent
    THEN the status is deferred (with a retry time in the future) or failed, with the server's words for the agent
    """
    outbox.handler.reply = server_reply
    message = send_reply(ticket.pk, agent, ReplyDraft(text="Hello"))  # type: ignore[arg-type]
    send_due_deliveries()
    delivery = Delivery.objects.get(message=message)
    assert delivery.status == status
    assert server_reply.split()[1] in delivery.last_reply
    assert delivery.events.count() == 1
    if status == "deferred":
        assert send_due_deliveries() == 0  # not due yet: backoff


@pytest.mark.django_db
def test_without_a_relay_the_reply_waits_with_a_clear_reason(ticket: Ticket, agent: object, settings: object) -> None:
    """GIVEN no outbound server configured WHEN the outbox runs THEN deferred, saying what to configure."""
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, outbound_smtp_url="")  # type: ignore[attr-defined]
    message = send_reply(ticket.pk, agent, ReplyDraft(text="Hello"))  # type: ignore[arg-type]
    send_due_deliveries()
    delivery = Delivery.objects.get(message=message)
    assert delivery.status == DeliveryStatus.DEFERRED and "POSTROOM_OUTBOUND_SMTP_URL" in delivery.last_reply


@pytest.mark.django_db
def test_a_reply_written_before_new_mail_arrived_is_refused_until_confirmed(
    ticket: Ticket, agent: object, ingest: Ingest
) -> None:
    """
    GIVEN an agent who opened the ticket (last seen message = the first one)
    WHEN the customer writes again and another agent replies before the agent sends
    THEN sending is refused naming both, nothing is written, and "send anyway" sends
    """
    seen = Message.objects.filter(ticket=ticket).latest("id").pk
    ingest(build_mail(subject=f"Re: [{ticket.reference}] printer", body="Now it smokes!"))
    other = get_user_model().objects.create_user("bert", email="bert@example.com")
    send_reply(ticket.pk, other, ReplyDraft(text="On my way."))  # type: ignore[arg-type]
    before = Message.objects.filter(ticket=ticket).count()

    with pytest.raises(ReplyConflictError) as refused:
        send_reply(ticket.pk, agent, ReplyDraft(text="Restart it.", last_seen_message_id=seen))  # type: ignore[arg-type]

    assert [m.direction for m in refused.value.arrived] == [Direction.INBOUND, Direction.OUTBOUND]
    assert Message.objects.filter(ticket=ticket).count() == before
    send_reply(ticket.pk, agent, ReplyDraft(text="Restart it.", last_seen_message_id=seen, send_anyway=True))  # type: ignore[arg-type]
    assert Message.objects.filter(ticket=ticket).count() == before + 1


@pytest.mark.django_db
def test_notes_are_never_sent_and_a_reply_quoting_one_is_blocked(
    ticket: Ticket, agent: object, outbox: CaptureServer
) -> None:
    """
    GIVEN an internal note on the ticket
    WHEN the outbox runs, and an agent then pastes the note into a public reply
    THEN nothing was sent for the note, and the reply is refused naming the note; nothing is written
    """
    note = add_note(ticket.pk, agent, "Customer is on the legacy plan, finance refused the discount twice already.")  # type: ignore[arg-type]
    assert send_due_deliveries() == 0 and outbox.messages == []
    assert not Delivery.objects.filter(message=note).exists()

    with pytest.raises(NoteLeakError) as blocked:
        send_reply(ticket.pk, agent, ReplyDraft(text="FYI: finance refused the discount twice already, sorry."))  # type: ignore[arg-type]
    assert blocked.value.leak.note_id == note.pk
    assert not Message.objects.filter(ticket=ticket, direction=Direction.OUTBOUND).exists()


@pytest.mark.django_db
def test_rotated_keys_keep_verifying_until_retired(db: None) -> None:
    """GIVEN a tenant key WHEN rotated THEN the new one signs and both verify; retired, the old one is flagged."""
    from postroom.tenants.services import get_default_tenant

    tenant = get_default_tenant()
    first = get_key_ring(tenant).signing_key_id
    rotate_threading_key(tenant)
    ring = get_key_ring(tenant)
    assert ring.signing_key_id != first and set(ring.keys) == {first, ring.signing_key_id}
    retire_threading_key(tenant, first)
    ring = get_key_ring(tenant)
    assert first not in ring.keys and first in ring.retired
    with pytest.raises(ValueError, match="rotate first"):
        retire_threading_key(tenant, ring.signing_key_id)
