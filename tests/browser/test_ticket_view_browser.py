"""The ticket page in a real browser against `postroom up`: files in replies, notes and shortcuts, who may open
which ticket, the formatted view's sandbox, and the phone layout."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from liveconsole import VIEWPORT, LiveConsole

from mailfactory import build_mail

sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need playwright: pip install -e '.[test]'")
expect = sync_api.expect

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, Response

pytestmark = [pytest.mark.live, pytest.mark.slow, pytest.mark.xdist_group("browser")]

CUSTOMER = "jane.doe@example.org"
PHONE: dict[str, int] = {"width": 390, "height": 844}
PNG_HEADER = b"\x89PNG\r\n\x1a\n"
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
AGENT_PASSWORD = "correct horse battery staple"  # a throwaway user of the test installation
# Creates an agent of Support only, in the live installation, as an admin would with a shell.
CREATE_AGENT = """
from django.contrib.auth import get_user_model
from postroom.accounts.models import Role
from postroom.accounts.services import add_to_queue, assign_role
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import Queue
tenant = get_default_tenant()
user, _ = get_user_model().objects.get_or_create(username="sam.support")
user.set_password({password!r})
user.save()
assign_role(user, Role.AGENT, tenant)
add_to_queue(user, Queue.objects.get(tenant=tenant, slug="support"))
"""


def open_ticket(page: Page, live_console: LiveConsole, raw: bytes, *, subject: str, queue: str = "support") -> str:
    """Import one mail through `postroom import`, open its ticket from its queue's list, return the page's URL."""
    live_console.import_mail(raw)
    page.goto(f"/?queue={queue}&status=")
    page.get_by_role("link", name=subject).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(subject)
    return page.url


def timeline_entry(page: Page, text: str) -> Locator:
    return page.locator("ol.timeline > li.entry").filter(has_text=text)


@pytest.fixture(scope="module")
def support_agent(live_console: LiveConsole) -> str:
    """GIVEN an agent of Support only in the live installation; their user name."""
    live_console.run("manage", "shell", "-c", CREATE_AGENT.format(password=AGENT_PASSWORD))
    return "sam.support"


@pytest.fixture
def agent_page(browser: Browser, live_console: LiveConsole, support_agent: str) -> Iterator[Page]:
    """A tab signed in through the login form as the agent of Support."""
    context = browser.new_context(base_url=live_console.base_url, viewport=VIEWPORT)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    tab.goto("/login/")
    tab.get_by_label("User name").fill(support_agent)
    tab.get_by_label("Password").fill(AGENT_PASSWORD)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url(f"{live_console.base_url}/")
    yield tab
    context.close()


@pytest.fixture
def phone_page(browser: Browser, live_console: LiveConsole, signed_in_state: dict[str, Any]) -> Iterator[Page]:
    """The admin on a 390 x 844 phone screen."""
    context = browser.new_context(
        base_url=live_console.base_url, viewport=PHONE, storage_state=signed_in_state, is_mobile=True, has_touch=True
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors in the console: {errors}"


def test_reply_with_an_attachment_reaches_the_relay_with_the_file(
    page: Page, live_console: LiveConsole, screenshots: Path
) -> None:
    """
    GIVEN an open ticket
    WHEN the agent attaches a file to a reply and sends it
    THEN the relay receives a multipart message whose MIME carries the file, and the timeline links the file
    """
    token = uuid.uuid4().hex[:8]
    subject = f"Need the signed contract {token}"
    open_ticket(page, live_console, build_mail(sender=f"Jane Doe <{CUSTOMER}>", subject=subject), subject=subject)
    contract = f"%PDF-1.4 contract {token}\n".encode()

    composer = page.locator("section.composer")
    composer.get_by_role("textbox", name="Message", exact=True).fill(f"Here it is ({token}).")
    composer.get_by_label("Attach files").set_input_files(
        {"name": f"contract-{token}.pdf", "mimeType": "application/pdf", "buffer": contract}
    )
    composer.get_by_role("button", name="Send", exact=True).click()

    sent = live_console.wait_for_sent(lambda m: f"Here it is ({token})".encode() in m.data)
    mail = message_from_bytes(sent.data, policy=policy.default)
    assert mail.get_content_type() == "multipart/mixed"
    [attached] = list(mail.iter_attachments())  # type: ignore[attr-defined]
    assert attached.get_filename() == f"contract-{token}.pdf"
    assert attached.get_content_type() == "application/pdf" and attached.get_content() == contract

    reply = timeline_entry(page, f"Here it is ({token}).")
    expect(reply).to_have_class("entry entry-out")
    expect(reply.get_by_role("list", name="Attachments").get_by_role("link")).to_have_text(f"contract-{token}.pdf")
    page.screenshot(path=screenshots / "ticket-view-reply-attachment.png", full_page=True)


def test_keyboard_note_assign_and_help(page: Page, live_console: LiveConsole, screenshots: Path) -> None:
    """
    GIVEN an open ticket and no field focused
    WHEN the agent presses n, types a note and sends it; then a, ?, Esc, s, j and k; and r inside the message field
    THEN the note is on the timeline and never sent; the ticket is assigned to them; the help opens and closes;
         s focuses the status; j and k walk the messages; r typed in a field is just a letter
    """
    token = uuid.uuid4().hex[:8]
    subject = f"Badge reader broken {token}"
    open_ticket(page, live_console, build_mail(sender=f"Jane Doe <{CUSTOMER}>", subject=subject), subject=subject)
    composer = page.locator("section.composer")
    message = composer.get_by_role("textbox", name="Message", exact=True)

    page.locator("body").press("n")
    expect(composer.get_by_label("Internal note")).to_be_checked()
    expect(message).to_be_focused()
    page.keyboard.type(f"Reader on floor 2 replaced {token} r")  # r in a field is a letter, not "reply"
    expect(composer.get_by_label("Internal note")).to_be_checked()
    composer.get_by_role("button", name="Send", exact=True).click()
    note = timeline_entry(page, f"Reader on floor 2 replaced {token} r")
    expect(note).to_have_class("entry entry-note")
    expect(note.locator(".attachments")).to_have_count(0)

    page.locator("body").press("a")
    expect(page.get_by_role("status")).to_contain_text("assigned to you")
    expect(page.locator("dl.facts")).to_contain_text("(you)")

    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_visible()
    page.screenshot(path=screenshots / "ticket-view-shortcuts.png")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()

    page.keyboard.press("s")
    expect(page.get_by_label("Status", exact=True)).to_be_focused()
    page.keyboard.press("Escape")  # leaves the field, so the next keys are shortcuts again
    entries = page.locator("ol.timeline > li.entry")
    page.keyboard.press("j")
    expect(entries.nth(0)).to_be_focused()
    page.keyboard.press("j")
    expect(entries.nth(1)).to_be_focused()
    expect(entries.nth(1)).to_have_attribute("aria-current", "true")
    page.keyboard.press("k")
    expect(entries.nth(0)).to_be_focused()
    assert not live_console.captured_containing(f"replaced {token}")


def test_an_agent_cannot_open_another_queues_ticket_by_url(
    page: Page, agent_page: Page, live_console: LiveConsole
) -> None:
    """
    GIVEN a Sales ticket, an agent of Support only and the admin
    WHEN the agent opens the ticket's URL, and the admin opens the same URL
    THEN the agent gets the 404 page and no trace of the ticket; the admin gets the ticket
    """
    token = uuid.uuid4().hex[:8]
    subject = f"Quote for 40 licences {token}"
    raw = build_mail(sender=f"Jane Doe <{CUSTOMER}>", to="sales@example.com", subject=subject)
    url = open_ticket(page, live_console, raw, subject=subject, queue="sales")

    response = agent_page.goto(url)
    assert response is not None and response.status == 404
    expect(agent_page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(agent_page.locator("body")).not_to_contain_text(token)

    again = page.goto(url)
    assert again is not None and again.status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text(subject)


def test_script_in_a_mail_does_not_run_in_the_formatted_view(
    page: Page, live_console: LiveConsole, screenshots: Path
) -> None:
    """
    GIVEN a mail whose HTML has a script changing the titles and adding an element, and an onerror handler
    WHEN the agent shows it formatted
    THEN the formatting shows in the sandboxed frame, no element was added there, and neither the frame's nor the
         page's title changed
    """
    token = uuid.uuid4().hex[:8]
    subject = f"Newsletter with tricks {token}"
    html = (
        f"<p>Formatted hello <b>bold {token}</b></p>"
        "<script>document.title = 'pwned'; try { parent.document.title = 'pwned'; } catch (e) {}"
        "document.body.insertAdjacentHTML('beforeend', '<p id=\"pwned\">script ran</p>');</script>"
        "<img src=\"x\" onerror=\"document.body.insertAdjacentHTML('beforeend', '<p id=pwned2>handler ran</p>');"
        "document.title = 'pwned'\">"
    )
    raw = build_mail(sender=f"Jane Doe <{CUSTOMER}>", subject=subject, body="Formatted hello (text).\n", html=html)
    open_ticket(page, live_console, raw, subject=subject)
    title = page.title()

    entry = timeline_entry(page, "Formatted hello (text).")
    entry.get_by_text("Show formatted").click()
    frame_element = entry.locator("iframe.formatted-frame")
    expect(frame_element).to_be_visible()
    assert frame_element.get_attribute("sandbox") == "allow-popups allow-popups-to-escape-sandbox"
    frame = entry.frame_locator("iframe.formatted-frame")
    expect(frame.locator("b")).to_have_text(f"bold {token}")
    expect(frame.locator("#pwned, #pwned2, script")).to_have_count(0)
    expect(frame.locator("body")).not_to_contain_text("ran")
    content = frame_element.element_handle().content_frame()
    assert content is not None and content.title() != "pwned"
    assert page.title() == title and "pwned" not in page.title()
    expect(page.locator("#pwned, #pwned2")).to_have_count(0)
    entry.screenshot(path=screenshots / "ticket-view-formatted.png")


def build_mail_with_inline_logo(subject: str, token: str) -> bytes:
    """HTML showing an inline logo by cid: and a remote banner; the logo as a multipart/related part."""
    mail = EmailMessage()
    mail["From"] = f"Jane Doe <{CUSTOMER}>"
    mail["To"] = "support@example.com"
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{token}@mail.example.org>"
    mail.set_content("Our logo and a banner (text).\n")
    mail.add_alternative(
        f'<p>Logo: <img src="cid:logo-{token}@mail.example.org" alt="logo"></p>'
        '<p>Banner: <img src="https://images.invalid/banner.png" alt="banner"></p>',
        subtype="html",
    )
    mail.get_payload()[1].add_related(PNG_1X1, "image", "png", cid=f"<logo-{token}@mail.example.org>")  # type: ignore[index]
    return mail.as_bytes()


def test_inline_images_show_and_remote_ones_wait_for_the_opt_in(page: Page, live_console: LiveConsole) -> None:
    """
    GIVEN a mail showing an inline logo (cid:) and a remote banner
    WHEN the agent shows it formatted, then follows "Load remote images for this message"
    THEN the sandboxed frame (which sends no session cookie) loads the logo through its signed same-origin URL;
         the banner is a placeholder until the opt-in, then points at its remote address
    """
    token = uuid.uuid4().hex[:8]
    subject = f"Logo in the signature {token}"
    images: list[tuple[int, str]] = []  # what the inline-image endpoint answered the frame

    def record(response: Response) -> None:
        if "/html/images/" in response.url:
            images.append((response.status, response.headers.get("content-type", "")))

    page.on("response", record)
    open_ticket(page, live_console, build_mail_with_inline_logo(subject, token), subject=subject)

    entry = timeline_entry(page, "Our logo and a banner (text).")
    expect(entry.locator(".remote-notice")).to_contain_text("1 remote image not loaded")
    entry.get_by_text("Show formatted").click()
    frame = entry.frame_locator("iframe.formatted-frame")
    logo = frame.get_by_role("img", name="logo")
    expect(logo).to_have_attribute("src", re.compile(r"^http://127\.0\.0\.1:\d+/messages/\d+/html/images/\d+/\?t="))
    deadline = time.monotonic() + 15
    while logo.evaluate("image => image.complete && image.naturalWidth") != 1:
        assert time.monotonic() < deadline, f"the inline logo did not load: {images}"
        time.sleep(0.05)
    assert (200, "image/png") in images
    expect(frame.get_by_role("img", name="banner")).to_have_attribute("src", re.compile(r"^data:image/svg"))

    entry.get_by_role("link", name="Load remote images for this message").click()
    expect(frame.get_by_role("img", name="banner")).to_have_attribute("src", "https://images.invalid/banner.png")
    expect(entry.locator(".remote-notice")).to_have_text("Remote images are loaded for this message.")


def test_ticket_page_fits_a_phone_and_a_desktop(
    page: Page, phone_page: Page, live_console: LiveConsole, screenshots: Path
) -> None:
    """
    GIVEN a ticket with a long unbroken link, a participant, an attachment and an HTML part
    WHEN it is shown at 1280 px and on a 390 x 844 phone (formatted view open)
    THEN the phone page scrolls only vertically; screenshots of both go to test-artifacts/screenshots/
    """
    token = uuid.uuid4().hex[:8]
    subject = f"Portal link does not work on my phone {token}"
    long_link = "https://portal.example.com/" + "x" * 180 + f"?ticket={token}"
    raw = build_mail(
        sender=f"Jane Doe <{CUSTOMER}>",
        subject=subject,
        body=f"Hello,\n\nthis link fails: {long_link}\n\nJane\n",
        html=f"<table width='640'><tr><td>This link fails: <a href='{long_link}'>{long_link}</a></td></tr></table>",
        extra_headers={"Cc": "Bob Partner <bob@partner.example>"},
        attachments=[
            (f"screenshot-with-a-rather-long-name-{token}.png", "image/png", b"\x89PNG\r\n\x1a\n" + b"0" * 64)
        ],
    )
    url = open_ticket(page, live_console, raw, subject=subject)
    page.screenshot(path=screenshots / "ticket-view-desktop.png", full_page=True)
    columns = page.locator(".ticket-layout").evaluate("e => getComputedStyle(e).gridTemplateColumns")
    assert len(columns.split()) == 2  # properties beside the conversation at 1280 px

    phone_page.goto(url)
    expect(phone_page.get_by_role("heading", level=1)).to_have_text(subject)
    phone_page.get_by_text("Show formatted").click()
    expect(phone_page.frame_locator("iframe.formatted-frame").locator("a")).to_contain_text("portal.example.com")
    widths = phone_page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,"
        " body: document.body.scrollWidth})"
    )
    assert widths["scroll"] <= widths["client"] and widths["body"] <= widths["client"], widths
    assert re.fullmatch(r"\d+(\.\d+)?px", phone_page.locator(".ticket-layout").evaluate(
        "e => getComputedStyle(e).gridTemplateColumns"
    ))  # fmt: skip  # one column on the phone
    phone_page.screenshot(path=screenshots / "ticket-view-phone.png", full_page=True)
