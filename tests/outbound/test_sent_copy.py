"""A copy of each sent reply in the mailbox's IMAP Sent folder, against a real Dovecot on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from dovecotserver import DovecotServer, needs_dovecot, serve_dovecot
from mailfactory import build_mail
from postroom.core.blobs import get_blob_store
from postroom.inbound.models import InboundMessage
from postroom.inbound.routes import add_route
from postroom.mailboxes.models import ConnectorKind, Mailbox
from postroom.outbound.models import Delivery
from postroom.outbound.sent_copy import copy_to_sent
from postroom.outbound.services import ReplyDraft, send_reply
from postroom.tickets.models import Ticket

USER, PASSWORD = "support", "imap-secret-7"
Ingest = Callable[..., InboundMessage]


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DovecotServer]:
    yield from serve_dovecot(tmp_path_factory, {USER: PASSWORD})


@pytest.fixture
def delivery(ingest: Ingest, agent: object) -> Delivery:
    """A reply from support@example.com, queued with its bytes in the blob store."""
    add_route("support@example.com", "Support")
    first = ingest(build_mail(message_id="first@mail.example.org")).message
    assert first is not None
    ticket: Ticket = first.ticket
    ticket.queue.from_address = "support@example.com"
    ticket.queue.save()
    message = send_reply(ticket.pk, agent, ReplyDraft(text="Please restart the printer."))  # type: ignore[arg-type]
    return Delivery.objects.get(message=message)


def add_mailbox(delivery: Delivery, sent_copy: object, *, password: str = PASSWORD, **fields: object) -> Mailbox:
    values: dict[str, object] = {
        "tenant_id": delivery.tenant_id,
        "name": "Support mailbox",
        "address": "Support@Example.COM",  # matched without regard to case
        "kind": ConnectorKind.IMAP,
        "settings": {"sent_copy": sent_copy} if sent_copy is not None else {},
        "secrets": {"imap_password": password},
        "default_queue": delivery.message.ticket.queue,
    }
    values.update(fields)
    return Mailbox.objects.create(**values)


def sent_copy_settings(server: DovecotServer, **overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": server.imaps_port,
        "tls": "implicit",
        "username": USER,
        "ca_file": str(server.ca_file),
    }
    values.update(overrides)
    return values


def as_crlf(stored: bytes) -> bytes:
    return stored.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@needs_dovecot
@pytest.mark.django_db
def test_a_sent_reply_is_copied_to_the_mailboxs_sent_folder(delivery: Delivery, dovecot: DovecotServer) -> None:
    """
    GIVEN the mailbox for the reply's From address asks for Sent copies (no folder named: "Sent", not there yet)
    WHEN copy_to_sent runs for the delivery
    THEN the stored bytes are in the mailbox's Sent folder, marked read, and the outcome says so
    """
    add_mailbox(delivery, sent_copy_settings(dovecot))
    raw = get_blob_store().get(delivery.raw_sha256)

    outcome = copy_to_sent(delivery)

    assert outcome == "copied to Sent"
    [stored] = [p for p in dovecot.stored_messages(USER, "Sent") if as_crlf(p.read_bytes()) == raw]
    assert stored.name.endswith(":2,S")


@needs_dovecot
@pytest.mark.django_db
def test_a_named_folder_over_starttls(delivery: Delivery, dovecot: DovecotServer) -> None:
    """
    GIVEN sent_copy with STARTTLS on the IMAP port and the folder "Gesendete Elemente"
    WHEN copy_to_sent runs
    THEN the copy lands in that folder
    """
    settings = sent_copy_settings(dovecot, tls="starttls", port=dovecot.imap_port, folder="Gesendete Elemente")
    add_mailbox(delivery, settings)
    raw = get_blob_store().get(delivery.raw_sha256)

    assert copy_to_sent(delivery) == "copied to Gesendete Elemente"
    assert raw in [as_crlf(p.read_bytes()) for p in dovecot.stored_messages(USER, "Gesendete Elemente")]


@pytest.mark.django_db
@pytest.mark.parametrize("settings", [None, {}], ids=["no-sent-copy", "empty-sent-copy"])
def test_no_sent_copy_settings_means_no_copy(delivery: Delivery, settings: object) -> None:
    """
    GIVEN the From address's mailbox has no (or empty) sent_copy settings
    WHEN copy_to_sent runs
    THEN it returns None: nothing to log
    """
    add_mailbox(delivery, settings)

    assert copy_to_sent(delivery) is None


@pytest.mark.django_db
def test_no_mailbox_or_an_inactive_one_means_no_copy(delivery: Delivery) -> None:
    """
    GIVEN no mailbox for the From address, then only an inactive one with sent_copy settings
    WHEN copy_to_sent runs
    THEN it returns None both times
    """
    assert copy_to_sent(delivery) is None
    add_mailbox(delivery, {"host": "imap.example.com", "username": "u"}, is_active=False)
    assert copy_to_sent(delivery) is None


@needs_dovecot
@pytest.mark.django_db
def test_a_wrong_password_is_an_outcome_without_the_password(delivery: Delivery, dovecot: DovecotServer) -> None:
    """
    GIVEN sent_copy settings whose stored password the server refuses
    WHEN copy_to_sent runs
    THEN it returns "Sent copy failed: ..." naming the refused login, never the password, and nothing is stored
    """
    add_mailbox(delivery, sent_copy_settings(dovecot, folder="Refused"), password="wrong-Password-99")

    outcome = copy_to_sent(delivery)

    assert outcome is not None and outcome.startswith("Sent copy failed: login as support refused")
    assert "wrong-Password-99" not in outcome
    assert dovecot.stored_messages(USER, "Refused") == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"host": "imap.example.com", "tls": "none", "username": "u"}, "only allowed to a loopback host"),
        ({"host": "imap.example.com", "tls": "opportunistic", "username": "u"}, "must be implicit, starttls or none"),
        ({"host": "imap.example.com"}, "needs a host and a username"),
        ({"host": "imap.example.com", "username": "u", "port": "imaps"}, "is not a number"),
        ("imap.example.com", "must be an object"),
    ],
)
def test_misconfigured_settings_are_an_outcome_not_an_exception(
    delivery: Delivery, settings: object, reason: str
) -> None:
    """
    GIVEN sent_copy settings that can never work
    WHEN copy_to_sent runs
    THEN it returns "Sent copy failed: mailbox <name>: <reason>" without connecting anywhere
    """
    add_mailbox(delivery, settings)

    outcome = copy_to_sent(delivery)

    assert outcome is not None and outcome.startswith("Sent copy failed: mailbox Support mailbox: ")
    assert reason in outcome


@pytest.mark.django_db
def test_missing_stored_bytes_are_an_outcome(delivery: Delivery) -> None:
    """
    GIVEN a delivery whose raw bytes are not in the blob store
    WHEN copy_to_sent runs for a configured mailbox
    THEN it returns a failure outcome before connecting
    """
    add_mailbox(delivery, {"host": "imap.example.com", "username": "u", "tls": "implicit"})
    delivery.raw_sha256 = "0" * 64

    assert copy_to_sent(delivery) == "Sent copy failed: the message's stored bytes are missing"


@needs_dovecot
@pytest.mark.django_db
def test_the_sender_copies_after_sending_and_logs_it(
    delivery: Delivery, dovecot: DovecotServer, outbox: object
) -> None:
    """
    GIVEN a mailbox asking for Sent copies and a working relay
    WHEN the outbox sends the reply
    THEN the reply is sent, copied, and the communication log has the attempt and the copy, in that order
    """
    from postroom.outbound.models import EventKind
    from postroom.outbound.sender import send_due_deliveries

    add_mailbox(delivery, sent_copy_settings(dovecot))

    assert send_due_deliveries() == 1

    events = list(delivery.events.order_by("id"))
    assert [(e.kind, e.outcome) for e in events] == [(EventKind.ATTEMPT, "sent"), (EventKind.SENT_COPY, "copied")]
    assert len(dovecot.stored_messages(USER, "Sent")) >= 1
