"""The console in a real browser against `postroom up`: sign in, queues, timeline, trace, reply, note, conflict."""

from __future__ import annotations

import time
import uuid
from email import message_from_bytes, policy
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from liveconsole import LiveConsole

from mailfactory import build_mail

sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need playwright: pip install -e '.[test]'")
expect = sync_api.expect

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = [pytest.mark.live, pytest.mark.slow, pytest.mark.xdist_group("browser")]

CUSTOMER = "jane.doe@example.org"


def reload_until(page: Page, locator: Locator, *, timeout: float = 30.0) -> None:
    """Reload until `locator` shows: for state a background worker changes (Playwright waits within each load)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            expect(locator).to_be_visible(timeout=1_000)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            page.reload()
        else:
            return


def open_new_ticket(page: Page, live_console: LiveConsole, *, subject: str, body: str) -> str:
    """Import a fresh customer mail to support@ through the pipeline and open its ticket; return its Message-ID."""
    message_id = f"{uuid.uuid4().hex}@mail.example.org"
    live_console.import_mail(
        build_mail(sender=f"Jane Doe <{CUSTOMER}>", subject=subject, body=body, message_id=message_id)
    )
    page.goto("/")
    page.get_by_role("complementary", name="Queues").get_by_role("link", name="Support", exact=True).click()
    page.get_by_role("link", name=subject).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(subject)
    return message_id


def timeline_entry(page: Page, text: str) -> Locator:
    return page.locator("ol.timeline > li.entry").filter(has_text=text)


def test_sign_in_with_the_admin_login(anonymous_page: Page, live_console: LiveConsole) -> None:
    """GIVEN the login `postroom up` wrote to admin-credentials.txt WHEN the admin signs in THEN the queues show."""
    anonymous_page.goto("/")
    expect(anonymous_page.get_by_role("heading", name="Sign in")).to_be_visible()

    anonymous_page.get_by_label("User name").fill(live_console.username)
    anonymous_page.get_by_label("Password").fill("wrong password")
    anonymous_page.get_by_role("button", name="Sign in").click()
    expect(anonymous_page.get_by_role("alert")).to_contain_text("didn't match")

    anonymous_page.get_by_label("User name").fill(live_console.username)  # the failed attempt cleared it
    anonymous_page.get_by_label("Password").fill(live_console.password)
    anonymous_page.get_by_role("button", name="Sign in").click()
    expect(anonymous_page.get_by_role("heading", level=1)).to_have_text("All tickets")
    expect(anonymous_page.get_by_role("navigation", name="Main")).to_contain_text("Inbound log")
    expect(anonymous_page.get_by_role("button", name="Sign out")).to_be_visible()


def test_imported_mail_lands_in_its_queue(page: Page, screenshots: Path) -> None:
    """GIVEN the examples imported with routes per queue WHEN a queue is picked THEN it lists its mail only."""
    page.goto("/")
    queues = page.get_by_role("complementary", name="Queues")
    tickets = page.locator("table.tickets tbody")

    queues.get_by_role("link", name="Sales", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sales")
    expect(tickets.get_by_role("link", name="Quote for 250 seats (three new sites)")).to_be_visible()
    expect(tickets).not_to_contain_text("Payment for INV-88213")
    page.screenshot(path=screenshots / "ticket-list-sales.png", full_page=True)

    queues.get_by_role("link", name="Billing", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Billing")
    expect(tickets.get_by_role("link", name="Payment for INV-88213 still shown as open")).to_be_visible()
    expect(tickets).not_to_contain_text("Quote for 250 seats")

    queues.get_by_role("link", name="Support", exact=True).click()
    expect(tickets.get_by_role("link", name="cannot log in since this morning")).to_be_visible()
    expect(tickets).not_to_contain_text("Quote for 250 seats")

    queues.get_by_role("link", name="All queues").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("All tickets")
    expect(tickets.get_by_role("row")).not_to_have_count(0)
    page.screenshot(path=screenshots / "ticket-list.png", full_page=True)


def test_ticket_timeline_and_decision_trace(page: Page, live_console: LiveConsole, screenshots: Path) -> None:
    """GIVEN a mail imported to support@ WHEN its ticket is opened and the trace followed THEN every stage shows."""
    token = uuid.uuid4().hex[:8]
    subject = f"Printer on floor 3 is jammed {token}"
    open_new_ticket(page, live_console, subject=subject, body=f"Hello,\n\nthe printer is jammed ({token}).\n\nJane\n")

    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("Support")
    expect(facts).to_contain_text(CUSTOMER)
    entry = timeline_entry(page, token)
    expect(entry).to_have_count(1)
    expect(entry).to_have_class("entry entry-in")
    expect(entry.locator("pre.body").first).to_contain_text(f"the printer is jammed ({token})")
    page.screenshot(path=screenshots / "ticket-detail.png", full_page=True)

    entry.get_by_role("link", name="Why this ticket, this queue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Why this ticket, this queue")
    expect(page.locator("dl.facts")).to_contain_text("Processed")
    stages = page.locator("ol.trace > li .stage")
    expect(stages).not_to_have_count(0)
    for stage in ("parse", "route", "thread"):
        expect(stages.filter(has_text=stage).first).to_be_visible()
    expect(page.locator("ol.trace")).to_contain_text("Support")
    page.screenshot(path=screenshots / "trace.png", full_page=True)

    page.get_by_role("link", name="Inbound log").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Inbound log")
    expect(page.locator("table tbody tr")).not_to_have_count(0)
    page.screenshot(path=screenshots / "inbound-log.png", full_page=True)


def test_reply_is_sent_through_the_relay(page: Page, live_console: LiveConsole, screenshots: Path) -> None:
    """GIVEN an open ticket WHEN the agent sends a reply THEN the relay receives it and the page says "Sent"."""
    token = uuid.uuid4().hex[:8]
    subject = f"Invoice address wrong {token}"
    open_new_ticket(page, live_console, subject=subject, body="Please change our invoice address.\n")

    composer = page.locator("section.composer")
    expect(composer.get_by_label("Reply to the customer")).to_be_checked()
    expect(composer.get_by_role("textbox", name="To", exact=True)).to_have_value(CUSTOMER)
    composer.get_by_role("textbox", name="Message", exact=True).fill(f"Done, the new address is on file ({token}).")
    composer.get_by_role("button", name="Send", exact=True).click()

    sent = live_console.wait_for_sent(lambda m: token.encode() in m.data)
    assert sent.rcpt_tos == [CUSTOMER]
    mail = message_from_bytes(sent.data, policy=policy.default)
    assert subject in str(mail["Subject"])
    assert "[PR-" in str(mail["Subject"])
    assert mail["In-Reply-To"]

    reply = timeline_entry(page, f"Done, the new address is on file ({token}).")
    expect(reply).to_have_class("entry entry-out")
    reload_until(page, reply.locator(".delivery-sent .status").get_by_text("Sent", exact=True))
    expect(reply.get_by_role("list", name="Communication log")).to_be_visible()
    page.screenshot(path=screenshots / "ticket-detail-sent.png", full_page=True)


def test_internal_note_stays_inside(page: Page, live_console: LiveConsole) -> None:
    """GIVEN an open ticket WHEN the agent adds an internal note THEN it is on the timeline and never sent."""
    token = uuid.uuid4().hex[:8]
    open_new_ticket(page, live_console, subject=f"VPN drops every hour {token}", body="The VPN drops.\n")

    composer = page.locator("section.composer")
    composer.get_by_label("Internal note").check()
    message = composer.get_by_role("textbox", name="Message", exact=True)
    message.fill(f"Customer is on the legacy gateway {token}, escalate to network team")
    composer.get_by_role("button", name="Send", exact=True).click()

    note = timeline_entry(page, f"legacy gateway {token}")
    expect(note).to_have_class("entry entry-note")
    expect(note.locator(".direction")).to_have_text("Internal note")
    expect(note.locator(".delivery")).to_have_count(0)

    # A public reply sent after the note is the fence: once the relay has it, the note would have gone before it.
    composer.get_by_label("Reply to the customer").check()
    message.fill(f"We are looking into it ({token}-fence).")
    composer.get_by_role("button", name="Send", exact=True).click()
    live_console.wait_for_sent(lambda m: f"{token}-fence".encode() in m.data)
    assert not live_console.captured_containing("legacy gateway")


def test_reply_conflict_shows_what_arrived_then_sends_anyway(
    page: Page, live_console: LiveConsole, screenshots: Path
) -> None:
    """GIVEN an agent writing WHEN the customer replies by SMTP first THEN Send shows it and Send anyway sends."""
    token = uuid.uuid4().hex[:8]
    subject = f"Cannot print PDFs {token}"
    message_id = open_new_ticket(page, live_console, subject=subject, body="PDFs do not print.\n")
    composer = page.locator("section.composer")
    draft = composer.get_by_role("textbox", name="Message", exact=True)
    draft.fill(f"Please update the printer driver ({token}).")

    live_console.send_mail(
        build_mail(
            sender=f"Jane Doe <{CUSTOMER}>",
            subject=f"Re: {subject}",
            body=f"Never mind, it works again ({token}-arrived).\n",
            in_reply_to=message_id,
            references=f"<{message_id}>",
        ),
        sender=CUSTOMER,
        to="support@example.com",
    )
    watcher = page.context.new_page()
    watcher.goto(page.url)
    reload_until(watcher, timeline_entry(watcher, f"{token}-arrived"))
    watcher.close()

    composer.get_by_role("button", name="Send", exact=True).click()
    arrived = page.locator(".arrived")
    expect(arrived).to_contain_text("Arrived while you were writing")
    expect(arrived).to_contain_text(f"it works again ({token}-arrived)")
    expect(draft).to_have_value(f"Please update the printer driver ({token}).")
    page.screenshot(path=screenshots / "reply-conflict.png", full_page=True)
    assert not live_console.captured_containing(f"driver ({token})")

    composer.get_by_role("button", name="Send anyway").click()
    live_console.wait_for_sent(lambda m: f"driver ({token})".encode() in m.data)
    reply = timeline_entry(page, f"Please update the printer driver ({token}).")
    expect(reply).to_have_class("entry entry-out")
    expect(page.locator(".arrived")).to_have_count(0)
    reload_until(page, reply.locator(".delivery-sent .status").get_by_text("Sent", exact=True))
