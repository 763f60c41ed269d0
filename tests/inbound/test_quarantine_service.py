"""Quarantine review on the configured database: release re-runs the pipeline, delete, purge, the list's filters."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from mailfactory import build_mail
from postroom.core.blobs import get_blob_store
from postroom.inbound import quarantine
from postroom.inbound.models import InboundMessage, InboundStatus
from postroom.inbound.routes import add_route
from postroom.inbound.services import ReplayError, replay_inbound
from postroom.tickets.models import Direction, Message, Ticket, UnknownSenderPolicy

pytestmark = pytest.mark.django_db

Ingest = Callable[..., InboundMessage]
CUSTOMER = "Jane Doe <jane.doe@example.org>"


def build_unmatched_dsn(label: str = "1") -> bytes:
    """An RFC 3464 failure report for a message we never sent (the bounce of a spoofed mail, say)."""
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\n"
        "To: support@example.com\r\n"
        f"Subject: Undelivered Mail Returned to Sender {label}\r\n"
        f"Message-ID: <dsn-{label}@mx.example.org>\r\n"
        "Date: Tue, 03 Nov 2026 10:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n'
        "\r\n"
        "--b1\r\nContent-Type: text/plain\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        "Final-Recipient: rfc822; nobody@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        "--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: <never-sent-{label}@example.com>\r\nSubject: spoofed\r\n"
        "--b1--\r\n"
    ).encode()


@pytest.fixture
def admin() -> quarantine.Actor:
    return quarantine.Actor.of(get_user_model().objects.create_user("admin", password=None))


def _stages(row: InboundMessage) -> list[str]:
    return [str(step["stage"]) for step in row.trace]


def _step(row: InboundMessage, stage: str, *, last: bool = True) -> dict[str, Any]:
    steps = [step for step in row.trace if step["stage"] == stage]
    return steps[-1] if last else steps[0]


def test_release_runs_the_pipeline_again_and_the_report_becomes_a_ticket(
    ingest: Ingest, admin: quarantine.Actor
) -> None:
    """
    GIVEN a delivery report for mail we never sent, quarantined as bounce_unmatched
    WHEN an admin releases it
    THEN the pipeline runs again, the receipt stage lets it through, it becomes a ticket, and the row records who
         released it and when; the trace keeps both runs and says "released by admin"; it leaves the quarantine
         list and shows among the released
    """
    add_route("support@example.com", "Support")
    row = ingest(build_unmatched_dsn())
    assert (row.status, row.cause) == (InboundStatus.QUARANTINED, "bounce_unmatched")
    assert row.sender == "MAILER-DAEMON@mx.example.org" and row.subject.startswith("Undelivered Mail")

    released = quarantine.release_message(row.pk, admin)

    assert released.status == InboundStatus.PROCESSED and released.cause == ""
    assert released.message is not None and released.message.ticket.queue.name == "Support"
    assert released.released_by == admin.user and released.released_at is not None
    assert released.released_causes == ["bounce_unmatched"]
    stages = _stages(released)
    assert stages.count("parse") == 2 and stages.count("receipt") == 2 and "persist" in stages
    assert stages.index("release") == stages.index("receipt") + 1  # the first run ended at the receipt stage
    assert "released by admin" in _step(released, "release")["reason"]
    assert _step(released, "receipt", last=False)["verdict"] == "quarantine"
    second = _step(released, "receipt")
    assert second["verdict"] == "released" and "released by admin" in second["reason"]
    released_list = quarantine.QuarantineFilter(state=quarantine.QuarantineState.RELEASED, cause="bounce_unmatched")
    assert [r.pk for r in quarantine.list_quarantined(None, released_list).rows] == [row.pk]
    assert quarantine.list_quarantined(None, quarantine.QuarantineFilter()).rows == []


def test_release_of_an_unknown_sender_update_continues_the_ticket(ingest: Ingest, admin: quarantine.Actor) -> None:
    """
    GIVEN a ticket whose queue quarantines updates from strangers, and a stranger's update quarantined for it
    WHEN an admin releases the update
    THEN it is added to that ticket as a customer message (not a note, not a new ticket); the requester stays
    """
    add_route("support@example.com", "Support")
    ticket = ingest(build_mail(sender=CUSTOMER)).message.ticket
    ticket.queue.unknown_sender_policy = UnknownSenderPolicy.QUARANTINE
    ticket.queue.save()
    update = ingest(build_mail(sender="stranger@other.example", subject=f"Re: [{ticket.reference}] printer"))
    assert (update.status, update.cause) == (InboundStatus.QUARANTINED, "unknown_sender_update")
    tickets_before = Ticket.objects.count()

    released = quarantine.release_message(update.pk, admin)

    assert released.status == InboundStatus.PROCESSED
    assert released.message.ticket_id == ticket.pk and released.message.direction == Direction.INBOUND
    assert Ticket.objects.count() == tickets_before
    admit = _step(released, "admit")
    assert admit["verdict"] == "follow_up" and "released by admin" in admit["reason"]
    assert _step(released, "thread")["verdict"] != "new_ticket"  # threading still decided where it belongs
    ticket.refresh_from_db()
    assert ticket.requester.email == "jane.doe@example.org"


def test_a_released_message_that_is_a_duplicate_is_recorded_as_a_duplicate(
    ingest: Ingest, admin: quarantine.Actor
) -> None:
    """
    GIVEN a stranger's update quarantined, then the queue's policy changed to notes and a second copy of the same
    message (delivered to another of our addresses) stored as a note
    WHEN the admin releases the first copy
    THEN duplicate detection still applies: it is processed as a duplicate of the second copy, no second message
    """
    add_route("support@example.com", "Support")
    ticket = ingest(build_mail(sender=CUSTOMER)).message.ticket
    ticket.queue.unknown_sender_policy = UnknownSenderPolicy.QUARANTINE
    ticket.queue.save()
    raw = build_mail(sender="stranger@other.example", subject=f"Re: [{ticket.reference}] printer")
    first = ingest(raw, source_key="lmtp:a")
    assert first.status == InboundStatus.QUARANTINED
    ticket.queue.unknown_sender_policy = UnknownSenderPolicy.NOTE
    ticket.queue.save()
    second = ingest(b"Delivered-To: help@example.com\r\n" + raw, source_key="lmtp:b")
    assert second.message is not None and second.message.direction == Direction.NOTE
    messages_before = Message.objects.count()

    released = quarantine.release_message(first.pk, admin)

    assert released.status == InboundStatus.PROCESSED and released.message is None
    assert released.duplicate_of == second
    assert released.trace[-1]["verdict"] == "duplicate"
    assert Message.objects.count() == messages_before


def test_release_of_an_oversized_message_goes_on_with_its_header_fields(
    ingest: Ingest, admin: quarantine.Actor, settings: Any
) -> None:
    """
    GIVEN a message over POSTROOM_MAX_MESSAGE_BYTES, quarantined as oversized (its body was never parsed)
    WHEN an admin releases it
    THEN it becomes a ticket with its sender and subject, the body still unread; the raw bytes stay stored
    """
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, max_message_bytes=4096)
    add_route("support@example.com", "Support")
    raw = build_mail(sender=CUSTOMER, subject="Log files attached", body="x" * 10_000)
    row = ingest(raw)
    assert (row.status, row.cause) == (InboundStatus.QUARANTINED, "oversized")
    assert row.sender == "jane.doe@example.org" and row.subject == "Log files attached"

    released = quarantine.release_message(row.pk, admin)

    assert released.status == InboundStatus.PROCESSED
    assert released.message.ticket.subject == "Log files attached"
    assert released.message.ticket.requester.email == "jane.doe@example.org"
    assert "x" * 100 not in released.message.text
    assert _step(released, "parse")["verdict"] == "released"
    assert get_blob_store().get(released.raw_sha256) == raw


def test_mail_without_a_sender_cannot_be_released(ingest: Ingest, admin: quarantine.Actor) -> None:
    """
    GIVEN a message quarantined by the screen stage because it has no usable sender address
    WHEN an admin tries to release it
    THEN it is refused with the reason, and the row is unchanged (still quarantined, no release recorded)
    """
    row = ingest(b"Subject: no sender at all\r\n\r\nhello\r\n")
    assert (row.status, row.cause) == (InboundStatus.QUARANTINED, "malformed")
    assert quarantine.find_release_refusal(row) is not None

    with pytest.raises(quarantine.QuarantineConflictError, match="no usable sender"):
        quarantine.release_message(row.pk, admin)

    row.refresh_from_db()
    assert row.status == InboundStatus.QUARANTINED and row.released_at is None and "release" not in _stages(row)


def test_a_released_message_quarantined_again_can_be_released_for_the_new_cause(
    ingest: Ingest, admin: quarantine.Actor, settings: Any
) -> None:
    """
    GIVEN an oversized follow-up from a stranger to a queue that quarantines strangers' updates
    WHEN the admin releases it (oversized), it is quarantined again (unknown_sender_update), and released again
    THEN the second release does not bring the first cause back: the update lands on the ticket
    """
    add_route("support@example.com", "Support")
    ticket = ingest(build_mail(sender=CUSTOMER)).message.ticket
    ticket.queue.unknown_sender_policy = UnknownSenderPolicy.QUARANTINE
    ticket.queue.save()
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, max_message_bytes=4096)
    row = ingest(build_mail(sender="stranger@other.example", subject=f"Re: [{ticket.reference}]", body="y" * 9000))
    assert row.cause == "oversized"

    again = quarantine.release_message(row.pk, admin)
    assert (again.status, again.cause) == (InboundStatus.QUARANTINED, "unknown_sender_update")
    done = quarantine.release_message(row.pk, admin)

    assert done.status == InboundStatus.PROCESSED and done.message.ticket_id == ticket.pk
    assert done.released_causes == ["oversized", "unknown_sender_update"]
    assert _stages(done).count("release") == 2


def test_delete_removes_the_blob_but_keeps_the_row(
    ingest: Ingest, admin: quarantine.Actor, django_capture_on_commit_callbacks: Any
) -> None:
    """
    GIVEN a quarantined message
    WHEN an admin deletes it
    THEN its raw bytes are gone from the blob store once the transaction commits; the row stays with status
         deleted, who and when, its cause and its trace; a replay is refused; a second delete is a conflict
    """
    row = ingest(build_unmatched_dsn())
    store = get_blob_store()
    assert store.exists(row.raw_sha256)

    with django_capture_on_commit_callbacks(execute=True):
        deleted = quarantine.delete_message(row.pk, admin)

    assert not store.exists(row.raw_sha256)
    assert deleted.status == InboundStatus.DELETED and deleted.cause == "bounce_unmatched"
    assert deleted.deleted_by == admin.user and deleted.deleted_at is not None
    assert _stages(deleted)[:2] == ["parse", "receipt"]
    assert _step(deleted, "delete")["reason"] == "deleted by admin; raw bytes removed"
    assert not quarantine.read_header_view(deleted).available
    with pytest.raises(ReplayError, match="deleted"):
        replay_inbound(row.pk)
    with pytest.raises(quarantine.QuarantineConflictError, match="not quarantined"):
        quarantine.delete_message(row.pk, admin)


def test_delete_keeps_a_blob_another_row_still_needs(
    ingest: Ingest, admin: quarantine.Actor, django_capture_on_commit_callbacks: Any
) -> None:
    """
    GIVEN the same bytes received twice (two source keys), both quarantined
    WHEN the first is deleted, then the second
    THEN the blob stays while the second row needs it, and goes with the second delete
    """
    raw = build_unmatched_dsn()
    first, second = ingest(raw, source_key="imap:a"), ingest(raw, source_key="imap:b")
    store = get_blob_store()

    with django_capture_on_commit_callbacks(execute=True):
        kept = quarantine.delete_message(first.pk, admin)
    assert store.exists(first.raw_sha256)
    assert "raw bytes kept" in _step(kept, "delete")["reason"]

    with django_capture_on_commit_callbacks(execute=True):
        quarantine.delete_message(second.pk, admin)
    assert not store.exists(first.raw_sha256)


def test_purge_honours_the_retention(ingest: Ingest, settings: Any, django_capture_on_commit_callbacks: Any) -> None:
    """
    GIVEN quarantined messages quarantined 31 and 29 days ago, and a processed one 40 days ago
    WHEN purged with the default retention of 30 days, then with POSTROOM_QUARANTINE_RETENTION_DAYS=10
    THEN first only the 31-day-old one is deleted (raw gone, row kept, no user), then the other; never the ticket
    """
    now = timezone.now()
    old, recent = ingest(build_unmatched_dsn("old")), ingest(build_unmatched_dsn("recent"))
    processed = ingest(build_mail())
    InboundMessage.objects.filter(pk=old.pk).update(processed_at=now - dt.timedelta(days=31))
    InboundMessage.objects.filter(pk=recent.pk).update(processed_at=now - dt.timedelta(days=29))
    InboundMessage.objects.filter(pk=processed.pk).update(processed_at=now - dt.timedelta(days=40))
    assert settings.POSTROOM.quarantine_retention_days == 30

    with django_capture_on_commit_callbacks(execute=True):
        assert quarantine.purge_expired(now=now) == 1

    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.status == InboundStatus.DELETED and old.deleted_by is None
    assert "longer than 30 days" in _step(old, "purge")["reason"]
    assert not get_blob_store().exists(old.raw_sha256)
    assert recent.status == InboundStatus.QUARANTINED and get_blob_store().exists(recent.raw_sha256)

    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, quarantine_retention_days=10)
    with django_capture_on_commit_callbacks(execute=True):
        assert quarantine.purge_expired(now=now) == 1
    assert InboundMessage.objects.get(pk=recent.pk).status == InboundStatus.DELETED
    assert InboundMessage.objects.get(pk=processed.pk).status == InboundStatus.PROCESSED


def test_list_filters_and_pages_newest_first(ingest: Ingest) -> None:
    """
    GIVEN five quarantined messages (four reports, one without a sender) received one minute apart
    WHEN listed two at a time, and filtered by cause, sender and day
    THEN the pages follow each other newest first without gaps or repeats, and each filter keeps its rows
    """
    rows = [ingest(build_unmatched_dsn(str(i))) for i in range(4)]
    rows.append(ingest(b"Subject: no sender\r\n\r\nhello\r\n"))
    start = timezone.now() - dt.timedelta(days=3)
    for minutes, row in enumerate(rows):
        InboundMessage.objects.filter(pk=row.pk).update(received_at=start + dt.timedelta(minutes=minutes))
    newest_first = [row.pk for row in reversed(rows)]

    seen: list[int] = []
    after = None
    while True:
        page = quarantine.list_quarantined(None, quarantine.QuarantineFilter(), after=after, limit=2)
        seen += [row.pk for row in page.rows]
        if page.next_cursor is None:
            break
        after = quarantine.parse_cursor(page.next_cursor)
    assert seen == newest_first

    def listed(**filters: Any) -> list[int]:
        return [r.pk for r in quarantine.list_quarantined(None, quarantine.QuarantineFilter(**filters)).rows]

    assert listed(cause="malformed") == [rows[4].pk]
    assert listed(sender="mailer-daemon@MX") == newest_first[1:]
    day = timezone.localtime(start).date()
    assert set(listed(since=day, until=day)) <= set(newest_first)
    assert listed(since=day + dt.timedelta(days=1)) == []
    with pytest.raises(ValueError, match="cursor"):
        quarantine.parse_cursor("not-a-cursor")
