"""The spam screen with a live spamd started by the suite: GTUBE quarantined as spam, a clean message a ticket,
spamd down means unscanned (and still a ticket), the drop threshold purges, an allow-listed sender is not scored."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mailfactory import build_mail
from postroom.core.blobs import get_blob_store
from postroom.core.models import MetricCounter
from postroom.inbound.models import InboundMessage, InboundStatus, ListKind, SenderListEntry
from postroom.inbound.routes import add_route
from postroom.mailboxes.models import ConnectorKind, Mailbox
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import Queue
from spamdserver import GTUBE, SpamdServer, free_port, needs_spamd, serve_spamd

pytestmark = [pytest.mark.live, needs_spamd, pytest.mark.django_db]

Ingest = Callable[..., InboundMessage]


@pytest.fixture(scope="module")
def spamd() -> Iterator[SpamdServer]:
    yield from serve_spamd()


@pytest.fixture
def scanner_url(spamd: SpamdServer, settings: Any) -> str:
    """The installation's scanner is the live spamd."""
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, spamd_url=spamd.url, spam_scanner="spamd")
    return spamd.url


def make_mailbox(spam: dict[str, Any] | None = None) -> Mailbox:
    add_route("support@example.com", "Support")
    return Mailbox.objects.create(
        tenant=get_default_tenant(), name="Support", kind=ConnectorKind.SMTP,
        default_queue=Queue.objects.get(slug="support"), settings={} if spam is None else {"spam": spam},
    )  # fmt: skip


def spam_mail(subject: str = "Cheap watches", sender: str = "Spammer <promo@spam.example>") -> bytes:
    return build_mail(sender=sender, subject=subject, body=f"Buy now!\n\n{GTUBE}\n")


def screen_data(row: InboundMessage) -> dict[str, Any]:
    step = next(step for step in reversed(row.trace) if step["stage"] == "screen")
    return dict(step.get("data", {}), _reason=step["reason"], _verdict=step["verdict"])


def test_gtube_is_quarantined_as_spam_with_its_score_in_the_trace(ingest: Ingest, scanner_url: str) -> None:
    """
    GIVEN a live spamd as the installation's scanner and a mailbox with the default thresholds
    WHEN a GTUBE message arrives
    THEN it is quarantined with cause spam; the screen trace has scanner, score (1000 or more), verdict and the
         GTUBE rule, and the scan is counted
    """
    row = ingest(spam_mail(), mailbox=make_mailbox())

    assert (row.status, row.cause, row.message) == (InboundStatus.QUARANTINED, "spam", None)
    data = screen_data(row)
    assert data["_verdict"] == "quarantine" and data["_reason"].startswith("spam: score")  # the deciding screen first
    assert data["spam_scanner"] == "spamd" and data["spam_verdict"] == "quarantine"
    assert float(data["spam_score"]) >= 1000 and "GTUBE" in data["spam_rules"].split(",")
    assert data["spam_thresholds"] == "tag 5, quarantine 8, drop never"
    counted = MetricCounter.objects.get(name="postroom_spam_scans_total", labels='scanner="spamd",verdict="quarantine"')
    assert counted.value == 1


def test_a_clean_message_becomes_a_ticket(ingest: Ingest, scanner_url: str) -> None:
    """GIVEN the live spamd WHEN a plain support question arrives THEN a ticket, the score noted under the tag
    threshold."""
    row = ingest(build_mail(subject="Printer jammed"), mailbox=make_mailbox())

    assert row.status == InboundStatus.PROCESSED and row.message is not None
    data = screen_data(row)
    assert data["spam_verdict"] == "pass" and float(data["spam_score"]) < 5
    assert "under the tag threshold" in data["_reason"]
    assert row.message.probable_spam is False and row.message.spam_score == float(data["spam_score"])


def test_spamd_down_lets_the_mail_through_unscanned(ingest: Ingest, settings: Any) -> None:
    """
    GIVEN spamd configured on a port where nothing listens
    WHEN a GTUBE message arrives
    THEN it is not lost: it becomes a ticket, and the trace says unscanned and why
    """
    url = f"spamd://127.0.0.1:{free_port()}"
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, spamd_url=url, spam_scanner="spamd")

    row = ingest(spam_mail(), mailbox=make_mailbox())

    assert row.status == InboundStatus.PROCESSED and row.message is not None
    data = screen_data(row)
    assert data["spam_outcome"] == "unscanned" and data["spam_verdict"] == "unscanned"
    assert "unreachable" in data["spam_error"] and "unscanned for spam, so it goes on" in data["_reason"]
    assert (row.message.probable_spam, row.message.spam_score) == (False, None)


def test_over_the_drop_threshold_the_message_is_purged_at_once(
    ingest: Ingest, scanner_url: str, django_capture_on_commit_callbacks: Any
) -> None:
    """
    GIVEN a mailbox whose drop threshold is 20
    WHEN a GTUBE message (1000) arrives
    THEN its row is deleted with cause spam kept, the trace ends with the drop step, and the raw bytes are gone
    """
    mailbox = make_mailbox({"drop": 20})
    with django_capture_on_commit_callbacks(execute=True):  # the blob goes once the pipeline's commit is done
        row = ingest(spam_mail(), mailbox=mailbox)

    assert (row.status, row.cause, row.message) == (InboundStatus.DELETED, "spam", None)
    assert row.trace[-1]["stage"] == "drop" and "raw bytes removed" in row.trace[-1]["reason"]
    assert screen_data(row)["spam_verdict"] == "drop"
    assert not get_blob_store().path_for(row.raw_sha256).exists()


def test_tag_threshold_only_notes(ingest: Ingest, scanner_url: str) -> None:
    """GIVEN thresholds tag 0, quarantine 5000 WHEN GTUBE arrives THEN a ticket whose message is flagged as probable
    spam with its score (what the ticket page shows agents), and the trace says so."""
    row = ingest(spam_mail(), mailbox=make_mailbox({"tag": 0, "quarantine": 5000}))

    assert row.status == InboundStatus.PROCESSED
    data = screen_data(row)
    assert data["spam_verdict"] == "tag" and "probable spam: score 1000" in data["_reason"]
    assert row.message is not None and row.message.probable_spam is True
    assert row.message.spam_score is not None and row.message.spam_score >= 1000


def test_allow_listed_sender_is_not_scored(ingest: Ingest, scanner_url: str) -> None:
    """GIVEN the GTUBE sender's domain on the allow list WHEN its GTUBE message arrives THEN a ticket, spam skipped."""
    SenderListEntry.objects.create(tenant=get_default_tenant(), pattern="@spam.example", kind=ListKind.ALLOW)

    row = ingest(spam_mail(), mailbox=make_mailbox())

    assert row.status == InboundStatus.PROCESSED
    data = screen_data(row)
    assert data["spam"] == "skipped" and "spam_score" not in data


def test_only_the_first_bytes_of_a_large_message_are_scanned(ingest: Ingest, settings: Any, scanner_url: str) -> None:
    """GIVEN a scan limit of 2 KiB WHEN a 40 KiB message with GTUBE at its start arrives THEN it is still caught,
    and the trace says only the first bytes were scanned."""
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, spam_scan_max_bytes=2048)
    raw = build_mail(subject="Big", body=f"{GTUBE}\n" + "filler line of text\n" * 2000)

    row = ingest(raw, mailbox=make_mailbox())

    assert (row.status, row.cause) == (InboundStatus.QUARANTINED, "spam")
    data = screen_data(row)
    assert data["spam_truncated"] == "yes" and data["spam_scanned_bytes"] <= 2048
    assert "only the first" in data["_reason"]
