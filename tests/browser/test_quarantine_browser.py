"""The quarantine review in a real browser against `postroom up`: a quarantined report released into a ticket."""

from __future__ import annotations

import datetime as dt
import uuid
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from liveconsole import LiveConsole

sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need playwright: pip install -e '.[test]'")
expect = sync_api.expect

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.live, pytest.mark.slow, pytest.mark.xdist_group("browser")]

BOUNCE_UNMATCHED = "A delivery or read report for mail we did not send"


def build_bounce_unmatched(subject: str) -> bytes:
    """An RFC 3464 failure report for a message this installation never sent: the receipt stage quarantines it."""
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\n"
        "To: support@example.com\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@mx.example.org>\r\n"
        f"Date: {format_datetime(dt.datetime.now(dt.UTC))}\r\n"  # newest: its ticket tops the ticket list
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
        f"Message-ID: <{uuid.uuid4().hex}@spoofed.example.com>\r\nSubject: you won\r\n"
        "--b1--\r\n"
    ).encode()


def test_admin_releases_a_quarantined_report_into_a_ticket(
    page: Page, live_console: LiveConsole, screenshots: Path
) -> None:
    """
    GIVEN a delivery report for mail the installation never sent, imported into `postroom up` and quarantined
    WHEN the admin opens Quarantine from the navigation, filters by its cause, opens it and presses Release
    THEN its page shows it processed into a ticket, released by the admin, and the ticket list has that ticket
    """
    subject = f"Undelivered Mail Returned to Sender {uuid.uuid4().hex[:8]}"
    summary = live_console.import_mail(build_bounce_unmatched(subject))
    assert "1 quarantined" in summary

    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Quarantine").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Quarantine")
    page.get_by_label("Cause").select_option(label=BOUNCE_UNMATCHED)
    page.get_by_role("button", name="Filter").click()
    row = page.locator("table.quarantine tbody tr").filter(has_text=subject)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("MAILER-DAEMON@mx.example.org")
    expect(row).to_contain_text(BOUNCE_UNMATCHED)
    page.screenshot(path=screenshots / "quarantine-list.png", full_page=True)

    row.get_by_role("link", name=subject).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(subject)
    expect(page.locator("dl.facts")).to_contain_text("Quarantined")
    expect(page.locator("ol.trace")).to_contain_text("for mail we did not send")
    expect(page.locator("table.headers")).to_contain_text("multipart/report")
    page.screenshot(path=screenshots / "quarantine-detail.png", full_page=True)

    page.get_by_role("button", name="Release").click()  # the pipeline runs in the request, then back here
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("Processed", timeout=15_000)
    expect(facts).to_contain_text("by admin")
    expect(page.locator("ol.trace")).to_contain_text("released by admin")
    ticket_link = facts.get_by_role("link", name="PR-")
    reference = ticket_link.inner_text()
    page.screenshot(path=screenshots / "quarantine-released.png", full_page=True)

    page.goto("/")
    tickets = page.locator("table.tickets tbody")
    tickets.get_by_role("link", name=subject).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(subject)
    expect(page.locator("dl.facts")).to_contain_text("MAILER-DAEMON@mx.example.org")
    assert page.url.endswith(f"/tickets/{reference}/")  # the very ticket the release page named


def test_a_visitor_is_sent_to_sign_in(anonymous_page: Page, live_console: LiveConsole) -> None:
    """GIVEN a signed-out visitor WHEN the quarantine page is opened THEN the sign-in page is shown instead."""
    anonymous_page.goto("/quarantine/")
    expect(anonymous_page.get_by_role("heading", name="Sign in")).to_be_visible()
