"""The quarantine review in the console and the API: list, detail with trace and header fields, release, delete."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from ingesting import ingest_raw
from postroom.accounts.models import Role
from postroom.core.blobs import get_blob_store
from postroom.inbound.models import InboundMessage, InboundStatus
from postroom.inbound.routes import add_route
from postroom.tenants.services import get_default_tenant
from staff import make_staff

pytestmark = pytest.mark.django_db

HOSTILE_SUBJECT = "<script>alert(1)</script> invoice"


def _client(role: Role, *, enforce_csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=enforce_csrf)
    client.force_login(make_staff(role, get_default_tenant()))
    return client


def _report(subject: str = "Undelivered Mail Returned to Sender") -> InboundMessage:
    """A delivery report for mail we never sent: quarantined with cause bounce_unmatched."""
    raw = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\n"
        "To: support@example.com\r\n"
        f"Subject: {subject}\r\n"
        "Date: Tue, 03 Nov 2026 10:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n'
        "\r\n--b1\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
        "Final-Recipient: rfc822; nobody@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--b1\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <never@example.com>\r\n--b1--\r\n"
    ).encode()
    row = ingest_raw(raw)
    assert row.status == InboundStatus.QUARANTINED
    return row


def test_list_shows_sender_subject_cause_in_words_and_filters_by_cause() -> None:
    """
    GIVEN a quarantined delivery report and a quarantined message without a sender
    WHEN an admin opens the quarantine list, then filters by cause
    THEN each row shows sender, subject and the cause in plain words; the filter keeps only its cause
    """
    report = _report()
    nameless = ingest_raw(b"Subject: who sent this\r\n\r\nhello\r\n")
    admin = _client(Role.ADMIN)

    page = admin.get("/quarantine/").content.decode()
    assert "MAILER-DAEMON@mx.example.org" in page and "Undelivered Mail Returned to Sender" in page
    assert "A delivery or read report for mail we did not send" in page
    assert "Cannot be parsed or has no usable sender" in page and nameless.tracking_id in page

    filtered = admin.get("/quarantine/", {"cause": "malformed"}).content.decode()
    assert nameless.tracking_id in filtered and report.tracking_id not in filtered


def test_nav_link_only_for_admins_and_auditors() -> None:
    """GIVEN an admin, an auditor and an agent WHEN each opens the ticket list THEN only the first two see the link."""
    link = 'href="/quarantine/"'
    assert link in _client(Role.ADMIN).get("/").content.decode()
    assert link in _client(Role.AUDITOR).get("/").content.decode()
    assert link not in _client(Role.AGENT).get("/").content.decode()


def test_detail_shows_trace_and_escaped_header_fields_with_actions_for_admins() -> None:
    """
    GIVEN a quarantined report whose subject carries a script tag
    WHEN an admin and an auditor open its page
    THEN the trace and the header fields show as escaped text; the admin gets Release and Delete forms with a
         CSRF token, the auditor neither (read only)
    """
    row = _report(subject=HOSTILE_SUBJECT)
    page = _client(Role.ADMIN).get(f"/quarantine/{row.tracking_id}/").content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; invoice" in page
    assert '<span class="stage">receipt</span> <span class="verdict">quarantine</span>' in page  # the trace
    assert "Reporting-MTA" not in page  # header fields of the message only, never the body
    assert "multipart/report" in page
    assert f'action="/quarantine/{row.tracking_id}/release/"' in page
    assert f'action="/quarantine/{row.tracking_id}/delete/"' in page and "csrfmiddlewaretoken" in page

    audit = _client(Role.AUDITOR).get(f"/quarantine/{row.tracking_id}/").content.decode()
    assert "Read only" in audit and "/release/" not in audit and "/delete/" not in audit


def test_release_from_the_console_makes_a_ticket_and_the_page_says_so() -> None:
    """
    GIVEN a quarantined report and routes to Support
    WHEN the admin presses Release
    THEN the browser is sent back to the message's page, which names the ticket it became and who released it
    """
    add_route("support@example.com", "Support")
    row = _report()
    admin = _client(Role.ADMIN)

    response = admin.post(f"/quarantine/{row.tracking_id}/release/")

    assert response.status_code == 302 and response["Location"] == f"/quarantine/{row.tracking_id}/"
    row.refresh_from_db()
    assert row.status == InboundStatus.PROCESSED and row.message is not None
    page = admin.get(response["Location"]).content.decode()
    assert row.message.ticket.reference in page and "released by admin" in page
    assert row.tracking_id not in admin.get("/quarantine/").content.decode()


def test_delete_from_the_console_keeps_the_record(django_capture_on_commit_callbacks: Any) -> None:
    """
    GIVEN a quarantined report
    WHEN the admin deletes it
    THEN the raw bytes are gone, the page shows it deleted by the admin with its trace, and the list of deleted
         mail has it
    """
    row = _report()
    admin = _client(Role.ADMIN)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(f"/quarantine/{row.tracking_id}/delete/")

    assert response.status_code == 302
    assert not get_blob_store().exists(row.raw_sha256)
    page = admin.get(f"/quarantine/{row.tracking_id}/").content.decode()
    assert "Deleted" in page and "deleted by admin" in page and "The raw message is gone" in page
    assert row.tracking_id in admin.get("/quarantine/", {"state": "deleted"}).content.decode()


def test_unreleasable_mail_offers_no_release_and_refuses_one() -> None:
    """
    GIVEN a message quarantined because it has no usable sender
    WHEN the admin opens it and posts a release anyway
    THEN the page explains why it cannot be released, without the button; the post answers 409 with the reason
    """
    row = ingest_raw(b"Subject: who sent this\r\n\r\nhello\r\n")
    admin = _client(Role.ADMIN)
    page = admin.get(f"/quarantine/{row.tracking_id}/").content.decode()
    assert "Cannot be released: it has no usable sender address" in page and "/release/" not in page

    refused = admin.post(f"/quarantine/{row.tracking_id}/release/")
    assert refused.status_code == 409 and "no usable sender" in refused.content.decode()


def test_actions_need_the_csrf_token() -> None:
    """GIVEN an admin's browser that checks CSRF WHEN Release is posted without the token THEN 403, nothing done."""
    row = _report()
    response = _client(Role.ADMIN, enforce_csrf=True).post(f"/quarantine/{row.tracking_id}/release/")
    assert response.status_code == 403
    row.refresh_from_db()
    assert row.status == InboundStatus.QUARANTINED


def test_api_lists_pages_reads_and_answers_problems() -> None:
    """
    GIVEN three quarantined messages (two reports, one without a sender)
    WHEN the admin lists them a page of two at a time, reads one, and sends bad requests
    THEN the pages chain by next_cursor; the detail has cause in words, header fields and trace; a bad cursor is
         422, an unknown id 404, releasing the sender-less one 409, all as problem details; a release answers with
         the ticket
    """
    add_route("support@example.com", "Support")
    first, second = _report("first report"), _report("second report")
    nameless = ingest_raw(b"Subject: who sent this\r\n\r\nhello\r\n")
    api = _client(Role.ADMIN)

    page1 = api.get("/api/v1/quarantine", {"limit": 2}).json()
    page2 = api.get("/api/v1/quarantine", {"limit": 2, "cursor": page1["next_cursor"]}).json()
    listed = [item["tracking_id"] for item in page1["items"] + page2["items"]]
    assert sorted(listed) == sorted([first.tracking_id, second.tracking_id, nameless.tracking_id])
    assert page2["next_cursor"] is None

    detail = api.get(f"/api/v1/quarantine/{first.tracking_id}").json()
    assert detail["cause_text"] == "A delivery or read report for mail we did not send"
    assert detail["sender"] == "MAILER-DAEMON@mx.example.org" and detail["subject"] == "first report"
    assert {"name": "Subject", "value": "first report"} in detail["headers"]
    assert [step["stage"] for step in detail["trace"]] == ["parse", "receipt"] and detail["releasable"]

    for response, status in (
        (api.get("/api/v1/quarantine", {"cursor": "nonsense"}), 422),
        (api.get("/api/v1/quarantine/prt-unknown"), 404),
        (api.post(f"/api/v1/quarantine/{nameless.tracking_id}/release"), 409),
    ):
        assert response.status_code == status and response["Content-Type"] == "application/problem+json"

    released = api.post(f"/api/v1/quarantine/{first.tracking_id}/release").json()
    assert released["status"] == "processed" and released["ticket"].startswith("PR-")
    assert released["released_by"] == "admin"


def test_another_tenants_admin_sees_none_of_it() -> None:
    """
    GIVEN mail quarantined in the default tenant and an admin of another tenant
    WHEN that admin lists the quarantine, opens the message and tries to release it (console and API)
    THEN the list leaves it out and the rest answers 404, as for a message that does not exist
    """
    from postroom.tenants.models import Tenant

    row = _report()
    other = Client()
    other.force_login(make_staff(Role.ADMIN, Tenant.objects.create(slug="acme", name="Acme")))

    assert row.tracking_id not in other.get("/quarantine/").content.decode()
    assert row.tracking_id not in other.get("/api/v1/quarantine").content.decode()
    assert other.get(f"/quarantine/{row.tracking_id}/").status_code == 404
    assert other.post(f"/quarantine/{row.tracking_id}/release/").status_code == 404
    assert other.post(f"/api/v1/quarantine/{row.tracking_id}/release").status_code == 404
    row.refresh_from_db()
    assert row.status == InboundStatus.QUARANTINED


def test_list_pages_older_and_back_to_the_newest(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    GIVEN three quarantined reports and a page size of two
    WHEN the admin follows "Older" with a cause filter set
    THEN the second page has the oldest report only and keeps the filter; "Newest" leads back to the first page
    """
    from postroom.web import quarantine_views

    monkeypatch.setattr(quarantine_views, "PAGE_SIZE", 2)
    rows = [_report(f"report {i}") for i in range(3)]
    admin = _client(Role.ADMIN)

    first = admin.get("/quarantine/", {"cause": "bounce_unmatched"})
    older = first.context["older_url"]
    assert rows[0].tracking_id not in first.content.decode() and "cause=bounce_unmatched" in older
    second = admin.get(f"/quarantine/{older}")
    page = second.content.decode()
    assert rows[0].tracking_id in page and rows[2].tracking_id not in page
    assert second.context["older_url"] == "" and "Older" not in page
    newest = second.context["newest_url"]
    assert rows[2].tracking_id in admin.get(f"/quarantine/{newest}").content.decode()
