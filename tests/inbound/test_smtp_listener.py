"""Postroom's SMTP listener wired to the ledger: 250 only after the commit, 451 when the commit fails."""

from __future__ import annotations

import dataclasses
import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailfactory import build_mail
from postroom.inbound.models import InboundMessage, InboundStatus
from postroom.inbound.services import process_inbound
from postroom.inbound.smtp import start_listener
from postroom.mail.transport.lmtp_server import InboundListener

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def listener() -> Iterator[InboundListener]:
    server = start_listener("127.0.0.1", 0, lmtp=False, max_bytes=200_000)
    try:
        yield server
    finally:
        server.stop()


def test_message_is_in_the_ledger_when_250_arrives(listener: InboundListener) -> None:
    """GIVEN the listener WHEN a client sends a message THEN at the 250 the ledger row is committed, raw exact."""
    from postroom.core.blobs import get_blob_store

    raw = build_mail(to="support@example.com")
    with smtplib.SMTP("127.0.0.1", listener.port) as client:
        refused = client.sendmail("jane.doe@example.org", ["support@example.com", "sales@example.com"], raw)
    assert refused == {}
    row = InboundMessage.objects.get()
    assert row.source_kind == "smtp"
    assert row.envelope_from == "jane.doe@example.org"
    assert row.envelope_to == ["support@example.com", "sales@example.com"]
    assert get_blob_store().get(row.raw_sha256) == raw
    process_inbound(row.pk)
    row.refresh_from_db()
    assert row.status == InboundStatus.PROCESSED


def test_same_bytes_sent_twice_is_one_ledger_row(listener: InboundListener) -> None:
    """GIVEN an MTA that retries after a lost 250 WHEN the same bytes arrive again THEN still one row."""
    raw = build_mail()
    for _ in range(2):
        with smtplib.SMTP("127.0.0.1", listener.port) as client:
            client.sendmail("jane.doe@example.org", ["support@example.com"], raw)
    assert InboundMessage.objects.count() == 1


def test_commit_failure_answers_451_and_stores_nothing(
    listener: InboundListener, settings: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """GIVEN a blob store that cannot be written WHEN a message arrives THEN 451 (the MTA retries), no ledger row."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("in the way")
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, blob_dir=blocker)  # type: ignore[attr-defined]
    with smtplib.SMTP("127.0.0.1", listener.port) as client, pytest.raises(smtplib.SMTPDataError) as caught:
        client.sendmail("jane.doe@example.org", ["support@example.com"], build_mail())
    assert caught.value.smtp_code == 451
    assert InboundMessage.objects.count() == 0


def test_oversized_message_gets_552(listener: InboundListener) -> None:
    """GIVEN a 200 kB limit WHEN a 300 kB message is sent THEN 552 and nothing stored."""
    raw = build_mail(attachments=[("big.bin", "application/octet-stream", b"\x01" * 300_000)])
    with smtplib.SMTP("127.0.0.1", listener.port) as client, pytest.raises(smtplib.SMTPException) as caught:
        client.sendmail("jane.doe@example.org", ["support@example.com"], raw)
    assert "552" in str(caught.value)
    assert InboundMessage.objects.count() == 0


def test_lmtp_listener_answers_per_recipient_after_commit() -> None:
    """GIVEN the listener in LMTP mode WHEN a message for two recipients arrives THEN it is committed once and both
    recipients get a 250 (RFC 2033: one reply per recipient)."""
    server = start_listener("127.0.0.1", 0, lmtp=True, max_bytes=200_000)
    try:
        with smtplib.LMTP("127.0.0.1", server.port) as client:
            client.ehlo_or_helo_if_needed()
            client.mail("jane.doe@example.org")
            client.rcpt("support@example.com")
            client.rcpt("hr@example.com")
            first = client.data(build_mail())  # smtplib reads one reply; LMTP sends one per recipient
            second = client.getreply()
    finally:
        server.stop()
    assert first[0] == 250 and second[0] == 250
    row = InboundMessage.objects.get()
    assert row.source_kind == "smtp" and row.envelope_to == ["support@example.com", "hr@example.com"]
