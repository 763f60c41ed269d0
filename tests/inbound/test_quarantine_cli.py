"""`postroom quarantine list|release|delete|purge`: what it prints, one-line errors and exit codes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from ingesting import ingest_raw
from mailfactory import build_mail
from postroom.cli import main
from postroom.inbound.models import InboundMessage, InboundStatus
from postroom.inbound.routes import add_route

pytestmark = pytest.mark.django_db

REPORT = (
    b"From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: support@example.com\r\n"
    b"Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
    b"--b1\r\nContent-Type: text/plain\r\n\r\nnot delivered\r\n"
    b"--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
    b"Final-Recipient: rfc822; nobody@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    b"--b1\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <never@example.com>\r\n--b1--\r\n"
)


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_list_release_and_delete(capsys: pytest.CaptureFixture[str]) -> None:
    """
    GIVEN two quarantined reports and an admin account
    WHEN an operator lists the quarantine, releases one by tracking id as the admin and deletes the other by id
    THEN the list names both; the release prints the ticket and records the admin; the delete prints `deleted`
    """
    add_route("support@example.com", "Support")
    first = ingest_raw(REPORT, source_key="file:1")
    second = ingest_raw(REPORT.replace(b"not delivered", b"not delivered either"), source_key="file:2")
    get_user_model().objects.create_user("boss", password=None)

    assert main(["quarantine", "list", "--cause", "bounce_unmatched"]) == 0
    listed = capsys.readouterr().out
    assert first.tracking_id in listed and second.tracking_id in listed and "MAILER-DAEMON" in listed

    assert main(["quarantine", "release", first.tracking_id, "--by", "boss"]) == 0
    assert "processed -> PR-" in capsys.readouterr().out
    first.refresh_from_db()
    assert first.released_by is not None and first.released_by.get_username() == "boss"

    assert main(["quarantine", "delete", str(second.pk)]) == 0
    assert "deleted (bounce_unmatched)" in capsys.readouterr().out
    second.refresh_from_db()
    assert second.status == InboundStatus.DELETED and "(command line)" in second.trace[-1]["reason"]


def test_purge_uses_the_retention(capsys: pytest.CaptureFixture[str]) -> None:
    """GIVEN a report quarantined 8 days ago WHEN purged with the default, then with --days 7 THEN 0, then 1."""
    row = ingest_raw(REPORT)
    InboundMessage.objects.filter(pk=row.pk).update(processed_at=timezone.now() - dt.timedelta(days=8))
    assert main(["quarantine", "purge"]) == 0
    assert "purged: 0" in capsys.readouterr().out
    assert main(["quarantine", "purge", "--days", "7"]) == 0
    assert "purged: 1" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (["quarantine", "release"], 2, "usage: postroom quarantine release ID"),
        (["quarantine", "release", "prt-nope"], 1, "no quarantined message 'prt-nope'"),
        (["quarantine", "delete", "999999"], 1, "no quarantined message '999999'"),
        (["quarantine", "purge", "--days", "0"], 2, "at least 1"),
        (["quarantine", "release", "1", "--by", "ghost"], 2, "no user 'ghost'"),
    ],
    ids=["missing-id", "unknown-tracking-id", "unknown-id", "zero-days", "unknown-user"],
)
def test_bad_input_is_one_line_and_non_zero(
    capsys: pytest.CaptureFixture[str], argv: list[str], code: int, words: str
) -> None:
    """GIVEN a bad argument WHEN the command runs THEN one line on stderr saying what is wrong, non-zero exit."""
    assert main(argv) == code
    line = _one_line(capsys)
    assert line.startswith("postroom quarantine: ") and words in line


def test_releasing_processed_or_senderless_mail_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """GIVEN a processed message and one without a sender WHEN released THEN one line each with why, exit 1."""
    processed = ingest_raw(build_mail())
    nameless = ingest_raw(b"Subject: who\r\n\r\nhello\r\n")
    assert main(["quarantine", "release", str(processed.pk)]) == 1
    assert "no quarantined message" in _one_line(capsys)
    assert main(["quarantine", "release", nameless.tracking_id]) == 1
    assert "no usable sender address" in _one_line(capsys)
