"""The inbound pipeline end to end on the configured database: ticket, queue, thread, trace, quarantine."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mailfactory import build_mail, build_nested_bomb
from postroom.inbound.models import InboundMessage, InboundStatus, Route
from postroom.inbound.pipeline import STAGES
from postroom.inbound.routes import add_route
from postroom.tickets.models import Attachment, Contact, Message, Ticket, TicketStatus

Ingest = Callable[..., InboundMessage]
STAGE_NAMES = ["parse", "receipt", "screen", "route", "analyse", "thread", "admit", "persist"]


def _step(row: InboundMessage, stage: str) -> dict[str, object]:
    return next(step for step in row.trace if step["stage"] == stage)


def test_stage_order_is_data() -> None:
    """GIVEN the pipeline WHEN its order is read THEN parse, receipt, screen, route, analyse, thread, admit, persist."""
    assert [stage.name for stage in STAGES] == STAGE_NAMES


@pytest.mark.django_db
def test_new_mail_becomes_a_ticket_with_a_trace(ingest: Ingest) -> None:
    """GIVEN a route for support@ WHEN a customer writes THEN one ticket in that queue, explained stage by stage."""
    add_route("support@example.com", "Support")
    row = ingest(build_mail(attachments=[("log.txt", "text/plain", b"paper jam at tray 2\n")]))

    assert row.status == InboundStatus.PROCESSED
    ticket = row.message.ticket
    assert ticket.queue.name == "Support"
    assert ticket.reference == "PR-000001"
    assert ticket.requester.email == "jane.doe@example.org"
    assert ticket.requester.name == "Jane Doe"
    assert [step["stage"] for step in row.trace] == STAGE_NAMES
    route_step = _step(row, "route")
    assert route_step["verdict"] == "routed" and "support@example.com" in route_step["reason"]
    assert _step(row, "thread")["verdict"] == "new_ticket"
    attachment = Attachment.objects.get(message=row.message)
    assert attachment.filename == "log.txt" and attachment.size == len(b"paper jam at tray 2\n")
    assert row.message.tracking_id == row.tracking_id


@pytest.mark.django_db
def test_routes_by_delivered_to_plus_tag_and_domain(ingest: Ingest) -> None:
    """GIVEN routes for hr@ and @billing.example.com WHEN mail arrives via an alias THEN Delivered-To decides."""
    add_route("hr@example.com", "HR")
    add_route("@billing.example.com", "Billing")
    hr = ingest(build_mail(to="all-staff@example.com", extra_headers={"Delivered-To": "hr@example.com"}))
    plus = ingest(build_mail(to="hr+payroll@example.com"))
    domain = ingest(build_mail(to="anyone@billing.example.com"))
    nowhere = ingest(build_mail(to="random@elsewhere.example.net"))

    assert hr.message.ticket.queue.name == "HR"
    assert plus.message.ticket.queue.name == "HR"
    assert domain.message.ticket.queue.name == "Billing"
    assert nowhere.message.ticket.queue.slug == "inbox"
    assert _step(nowhere, "route")["verdict"] == "default"


@pytest.mark.django_db
def test_envelope_recipient_wins_over_header_to(ingest: Ingest) -> None:
    """GIVEN a Bcc'd copy WHEN the envelope names sales@ and To names someone else THEN sales@ routes it."""
    add_route("sales@example.com", "Sales")
    row = ingest(build_mail(to="partner@example.net"), envelope_to=["sales@example.com"])
    assert row.message.ticket.queue.name == "Sales"
    assert _step(row, "route")["data"]["address"] == "sales@example.com"


@pytest.mark.django_db
def test_reply_threads_by_in_reply_to_and_by_subject_number(ingest: Ingest) -> None:
    """GIVEN a ticket WHEN the customer replies by header, or by subject tag only THEN both join it."""
    first = ingest(build_mail(message_id="first@mail.example.org"))
    ticket = first.message.ticket
    by_header = ingest(build_mail(subject="Re: Printer", in_reply_to="first@mail.example.org"))
    by_subject = ingest(build_mail(subject=f"Re: [{ticket.reference}] Printer"))
    unrelated = ingest(build_mail(subject="Another question"))

    assert by_header.message.ticket == ticket
    assert _step(by_header, "thread")["data"]["signal"] == "in_reply_to"
    assert by_subject.message.ticket == ticket
    assert _step(by_subject, "thread")["data"]["signal"] == "subject"
    assert unrelated.message.ticket != ticket
    assert Message.objects.filter(ticket=ticket).count() == 3


@pytest.mark.django_db
def test_reply_reopens_a_resolved_ticket(ingest: Ingest) -> None:
    """GIVEN a resolved ticket WHEN the customer writes again THEN it is open again and the trace says so."""
    first = ingest(build_mail(message_id="a@mail.example.org"))
    Ticket.objects.filter(pk=first.message.ticket_id).update(status=TicketStatus.RESOLVED)
    again = ingest(build_mail(subject="Still broken", in_reply_to="a@mail.example.org"))
    assert Ticket.objects.get(pk=first.message.ticket_id).status == TicketStatus.OPEN
    assert "reopened" in again.trace[-1]["reason"]


@pytest.mark.django_db
def test_same_source_key_twice_is_one_message(ingest: Ingest) -> None:
    """GIVEN one IMAP UID WHEN delivered twice THEN one ledger row and one message."""
    raw = build_mail()
    a = ingest(raw, source_key="imap:1:INBOX:7:42")
    b = ingest(raw, source_key="imap:1:INBOX:7:42")
    assert a.pk == b.pk
    assert InboundMessage.objects.count() == 1
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_same_message_to_two_addresses_is_one_message(ingest: Ingest) -> None:
    """GIVEN one message delivered to two of our addresses WHEN both copies arrive THEN one message, one duplicate."""
    add_route("support@example.com", "Support")
    add_route("sales@example.com", "Sales")
    raw = build_mail(to="support@example.com, sales@example.com", message_id="both@mail.example.org")
    first = ingest(raw, envelope_to=["support@example.com"], source_key="lmtp:a")
    # The second copy differs only in what our MTA added on the way (RFC 5321 trace fields).
    second = ingest(
        b"Delivered-To: sales@example.com\r\n" + raw, envelope_to=["sales@example.com"], source_key="lmtp:b"
    )
    assert Message.objects.count() == 1
    assert second.status == InboundStatus.PROCESSED
    assert second.duplicate_of == first
    assert second.trace[-1]["verdict"] == "duplicate"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("raw", "cause"),
    [
        (build_nested_bomb(5000), "malformed"),
        (b"From: a@example.org\r\nSubject: " + b"x" * 2_000_000 + b"\r\n\r\nbody", "oversized"),
        (b"\x00\xff garbage without any header", "malformed"),
    ],
    ids=["5000-nested-parts", "huge-header", "garbage"],
)
def test_hostile_input_is_quarantined_and_the_line_goes_on(ingest: Ingest, raw: bytes, cause: str) -> None:
    """GIVEN hostile bytes WHEN ingested THEN quarantined with a cause, raw kept, and the next message is fine."""
    from postroom.core.blobs import get_blob_store

    bad = ingest(raw)
    good = ingest(build_mail())
    assert bad.status == InboundStatus.QUARANTINED
    assert bad.cause == cause
    assert get_blob_store().get(bad.raw_sha256) == raw
    assert good.status == InboundStatus.PROCESSED


@pytest.mark.django_db
def test_truncated_mime_still_becomes_a_ticket(ingest: Ingest) -> None:
    """GIVEN a message cut off in the middle of a part WHEN ingested THEN a ticket with what could be read."""
    raw = build_mail(attachments=[("a.bin", "application/octet-stream", bytes(range(256)) * 50)])
    row = ingest(raw[: len(raw) // 2])
    assert row.status == InboundStatus.PROCESSED
    assert "printer" in row.message.text.lower()


@pytest.mark.django_db
def test_replay_reprocesses_a_quarantined_message(ingest: Ingest) -> None:
    """GIVEN a message quarantined for lacking a sender WHEN replayed unchanged THEN quarantined again, traced twice."""
    from postroom.inbound.services import ReplayError, process_inbound, replay_inbound

    row = ingest(b"Subject: no sender at all\r\n\r\nhello\r\n")
    assert row.status == InboundStatus.QUARANTINED
    replay_inbound(row.pk)
    process_inbound(row.pk)
    row.refresh_from_db()
    assert row.status == InboundStatus.QUARANTINED
    assert [s["stage"] for s in row.trace].count("replay") == 1
    good = ingest(build_mail())
    with pytest.raises(ReplayError, match="already processed"):
        replay_inbound(good.pk)


@pytest.mark.django_db
def test_contact_is_reused_and_named(ingest: Ingest) -> None:
    """GIVEN two mails from one address, the first without a name WHEN ingested THEN one contact, named later."""
    ingest(build_mail(sender="jane.doe@example.org"))
    ingest(build_mail(sender="Jane Doe <Jane.Doe@Example.org>"))
    assert Contact.objects.count() == 1
    assert Contact.objects.get().name == "Jane Doe"


@pytest.mark.django_db
def test_route_model_normalises_address() -> None:
    """GIVEN a route typed in mixed case WHEN saved THEN stored lower case."""
    route = add_route("Support@Example.COM", "Support")
    assert Route.objects.get(pk=route.pk).address == "support@example.com"


@pytest.mark.django_db
def test_our_failure_is_retried_then_failed_and_replay_recovers(settings: object) -> None:
    """GIVEN a raw blob that went missing WHEN processing fails THEN the row keeps the error and is retried up to
    POSTROOM_MAX_ATTEMPTS, then `failed`; once the blob is back a replay processes it."""
    from postroom.core.blobs import get_blob_store
    from postroom.inbound.services import process_inbound, receive_message, replay_inbound

    raw = build_mail()
    result = receive_message(raw, source_kind="test", enqueue=False)
    path = get_blob_store().path_for(InboundMessage.objects.get(pk=result.inbound_id).raw_sha256)
    path.unlink()

    assert process_inbound(result.inbound_id) is None
    row = InboundMessage.objects.get(pk=result.inbound_id)
    assert row.status == InboundStatus.RECEIVED
    assert "BlobNotFoundError" in row.error and row.attempts == 1

    assert process_inbound(result.inbound_id) is None  # claimed a moment ago: a second worker keeps off it
    assert InboundMessage.objects.get(pk=result.inbound_id).attempts == 1

    for _ in range(10):  # the sweeper hands it out again once the claim is stale
        InboundMessage.objects.filter(pk=result.inbound_id).update(claimed_at=None)
        process_inbound(result.inbound_id)
    row.refresh_from_db()
    assert row.status == InboundStatus.FAILED and row.cause == "too_many_attempts" and row.attempts == 5

    get_blob_store().put(raw)
    replay_inbound(row.pk)
    assert process_inbound(row.pk) == InboundStatus.PROCESSED
    assert Message.objects.count() == 1
