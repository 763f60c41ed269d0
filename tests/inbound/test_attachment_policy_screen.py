"""The attachment_policy screen end to end: blocked parts stripped with a note, or the message quarantined (and
released); the sanitised HTML stored beside the original and shown by the console; mailbox settings validated."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from mailfactory import build_mail
from postroom.accounts.models import Role
from postroom.conf.env import ConfigError, load_settings
from postroom.core.blobs import get_blob_store
from postroom.inbound import quarantine
from postroom.inbound.models import InboundMessage, InboundStatus
from postroom.inbound.routes import add_route
from postroom.inbound.screens.attachment_policy import build_mailbox_policy, installation_policy
from postroom.mail.attachpolicy import Family
from postroom.mail.sanitise import BLOCKED_IMAGE
from postroom.mailboxes.connector_settings import SettingsInvalidError, parse_mailbox_settings
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import Attachment
from staff import make_staff

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mail"))
from test_attach_samples import PDF, build_docm, build_pe, build_zip

pytestmark = pytest.mark.django_db
Ingest = Callable[..., InboundMessage]


@pytest.fixture(autouse=True)
def _support() -> None:
    add_route("support@example.com", "Support")


def _mail(subject: str = "Invoice attached") -> bytes:
    return build_mail(
        subject=subject,
        body="Please find the invoice attached.\n",
        attachments=[("invoice.pdf", "application/pdf", build_pe()), ("terms.pdf", "application/pdf", PDF)],
    )


def _step(row: InboundMessage, stage: str) -> dict[str, Any]:
    return next(step for step in reversed(row.trace) if step["stage"] == stage)


def _policy(settings: Any, **changes: object) -> None:
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, **changes)


def test_strip_removes_the_blocked_part_and_notes_it_in_the_ticket(ingest: Ingest) -> None:
    """
    GIVEN the default policy (strip) and a mail with a PE executable named invoice.pdf and a real PDF
    WHEN it is ingested
    THEN the ticket keeps the PDF only, its text names the removed file and why, the trace holds each verdict,
         and the raw message in the ledger still has both parts
    """
    mail = _mail()
    row = ingest(mail)

    assert row.status == InboundStatus.PROCESSED and row.message is not None
    assert list(Attachment.objects.filter(message=row.message).values_list("filename", flat=True)) == ["terms.pdf"]
    assert '"invoice.pdf"' in row.message.text and "executable: PE header" in row.message.text
    assert "kept unchanged" in row.message.text
    screen = _step(row, "screen")
    assert screen["data"]["attachments_blocked"] == 1 and "stripped invoice.pdf" in screen["reason"]
    assert "invoice.pdf: blocked (blocked_family" in screen["data"]["attachment_verdicts"]
    assert _step(row, "persist")["data"]["attachments_stripped"] == 1
    assert get_blob_store().get(row.raw_sha256) == mail  # nothing lost: a release or replay has every part


def test_quarantine_holds_blocked_types_and_release_lets_every_part_through(ingest: Ingest, settings: Any) -> None:
    """
    GIVEN the quarantine action and a mail with a macro document
    WHEN it is ingested, then released by an admin
    THEN it is held as blocked_type; after the release the ticket has both parts (the cause is waived)
    """
    _policy(settings, attachment_action="quarantine")
    mail = build_mail(
        body="The offer.\n",
        attachments=[("offer.docm", "application/octet-stream", build_docm()), ("terms.pdf", "application/pdf", PDF)],
    )
    row = ingest(mail)
    assert (row.status, row.cause) == (InboundStatus.QUARANTINED, "blocked_type")
    assert "attachment policy blocks offer.docm" in _step(row, "screen")["reason"]

    admin = quarantine.Actor.of(get_user_model().objects.create_user("admin", password=None))
    released = quarantine.release_message(row.pk, admin)

    assert released.status == InboundStatus.PROCESSED and released.message is not None
    names = set(Attachment.objects.filter(message=released.message).values_list("filename", flat=True))
    assert names == {"offer.docm", "terms.pdf"}
    assert "released by admin" in _step(released, "screen")["reason"]


def test_a_part_over_the_size_limit_is_quarantined_as_oversized(ingest: Ingest, settings: Any) -> None:
    """GIVEN quarantine and a 1 KiB part limit WHEN a mail with a 4 KiB PDF arrives THEN it is held as oversized."""
    _policy(settings, attachment_action="quarantine", attachment_max_bytes=1024)
    row = ingest(build_mail(attachments=[("big.pdf", "application/pdf", PDF + b"0" * 4096)]))
    assert (row.status, row.cause) == (InboundStatus.QUARANTINED, "oversized")


def test_flagged_parts_are_kept_and_noted_in_the_trace(ingest: Ingest, settings: Any) -> None:
    """GIVEN a zip holding a macro document while the policy blocks only executables THEN kept, flagged in trace."""
    _policy(settings, attachment_blocked=("executable",))
    row = ingest(build_mail(attachments=[("offer.zip", "application/zip", build_zip({"offer.docm": build_docm()}))]))
    assert row.status == InboundStatus.PROCESSED
    assert Attachment.objects.filter(message=row.message, filename="offer.zip").exists()
    screen = _step(row, "screen")
    assert screen["data"]["attachments_flagged"] == 1 and "risky_inside" in screen["data"]["attachment_verdicts"]


def test_a_mailbox_overrides_the_installation_policy() -> None:
    """GIVEN installation defaults and a mailbox's attachments setting THEN the mailbox's values win, bad ones don't."""
    base = installation_policy()
    policy = build_mailbox_policy(
        base, {"attachments": {"max_bytes": 2048, "blocked": ["executable"], "action": "quarantine", "max_count": 0}}
    )
    assert (policy.max_bytes, policy.blocked, policy.action) == (2048, {Family.EXECUTABLE}, "quarantine")
    assert policy.max_count == base.max_count  # 0 is not a valid count: the default stays
    assert build_mailbox_policy(base, {}) == base


def test_mailbox_attachment_settings_are_validated() -> None:
    """GIVEN an attachments setting with an unknown family, a bad action and an unknown key THEN each is named."""
    parse_mailbox_settings("smtp", {"attachments": {"max_bytes": 1000, "blocked": ["archive"], "action": "strip"}})
    with pytest.raises(SettingsInvalidError) as caught:
        parse_mailbox_settings("smtp", {"attachments": {"blocked": ["exe"], "action": "drop", "size": 1}})
    assert set(caught.value.errors) == {
        "settings.attachments.blocked",
        "settings.attachments.action",
        "settings.attachments.size",
    }


TRACKED_HTML = (
    '<p>Hello <b>agent</b></p><img src="https://news.example/open.gif?u=7" width="1" height="1">'
    '<img src="https://cdn.example/banner.png" alt="banner"><p style="background:url(https://cdn.example/bg.png)">x</p>'
)


def test_the_sanitised_html_is_stored_beside_the_original_and_shown(ingest: Ingest) -> None:
    """
    GIVEN a mail whose HTML has a tracking pixel, a remote banner and remote CSS
    WHEN it is ingested and an agent opens the formatted view, without and with the remote opt-in
    THEN the original HTML is stored unchanged, the sanitised copy beside it has no remote URL; the view shows the
         stored copy (placeholders), and the opt-in view loads the banner but never the pixel
    """
    row = ingest(build_mail(body="Hello agent\n", html=TRACKED_HTML))
    message = row.message
    assert message is not None and message.html is not None and "news.example/open.gif" in message.html
    assert message.safe_html is not None and "news.example" not in message.safe_html
    assert "cdn.example" not in message.safe_html and message.safe_html.count(BLOCKED_IMAGE) == 2
    assert _step(row, "persist")["data"]["html_trackers_removed"] == 1

    agent = make_staff(Role.AGENT, get_default_tenant(), [message.ticket.queue])
    client = Client()
    client.force_login(agent)
    shown = client.get(f"/messages/{message.pk}/html/").content.decode()
    assert "cdn.example" not in shown and "news.example" not in shown and "<b>agent</b>" in shown
    opted_in = client.get(f"/messages/{message.pk}/html/?remote=1").content.decode()
    assert 'src="https://cdn.example/banner.png"' in opted_in and "news.example" not in opted_in
    page = client.get(f"/tickets/{message.ticket.reference}/").content.decode()
    assert "2 remote images not loaded" in page


def test_messages_stored_before_ingest_sanitised_fall_back_to_the_original(ingest: Ingest) -> None:
    """GIVEN a message without a stored sanitised copy (an old one) WHEN viewed THEN it is sanitised at view time."""
    row = ingest(build_mail(body="Old\n", html='<p>Old <i>mail</i></p><img src="https://cdn.example/a.png">'))
    message = row.message
    assert message is not None
    message.safe_html = None
    message.save(update_fields=["safe_html"])
    agent = make_staff(Role.AGENT, get_default_tenant(), [message.ticket.queue])
    client = Client()
    client.force_login(agent)
    shown = client.get(f"/messages/{message.pk}/html/").content.decode()
    assert "<i>mail</i>" in shown and "cdn.example" not in shown and BLOCKED_IMAGE in shown


def test_installation_defaults_come_from_the_environment(tmp_path: Path) -> None:
    """GIVEN POSTROOM_ATTACHMENT_* values WHEN settings load THEN they are parsed; a bad family or action stops it."""
    base = {"POSTROOM_HOME": str(tmp_path)}
    loaded = load_settings(
        {**base, "POSTROOM_ATTACHMENT_BLOCKED": "executable, archive", "POSTROOM_ATTACHMENT_ACTION": "Quarantine"}
    )
    assert (loaded.attachment_blocked, loaded.attachment_action) == (("executable", "archive"), "quarantine")
    assert load_settings(base).attachment_blocked == ("executable", "macro_document")
    for bad in ({"POSTROOM_ATTACHMENT_BLOCKED": "exe"}, {"POSTROOM_ATTACHMENT_ACTION": "drop"}):
        with pytest.raises(ConfigError, match="POSTROOM_ATTACHMENT_"):
            load_settings({**base, **bad})
