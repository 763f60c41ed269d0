"""The ticket page: formatted view (sanitising, CSP, remote opt-in, inline images), files in replies and notes,
assignment, priority and queue changes with their permission checks."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import html
from email.message import EmailMessage
from typing import Any

import lxml.html
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from matrix_cases_ticket_view import PNG

from ingesting import ingest_raw
from mailfactory import build_mail
from postroom.accounts.models import Role
from postroom.accounts.services import remove_from_queue
from postroom.inbound.routes import add_route
from postroom.mail.compose import OutgoingAttachment, OutgoingMail, build_message
from postroom.mail.values import Address
from postroom.outbound.attachments import clean_content_type, clean_filename
from postroom.outbound.models import Delivery
from postroom.outbound.sender import send_due_deliveries
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import Attachment, Direction, Message, Queue, Ticket, TicketPriority
from postroom.web.safehtml import BLOCKED_IMAGE, sanitise_message_html
from smtpcapture import CaptureServer
from staff import make_staff

pytestmark = pytest.mark.django_db

HOSTILE_HTML = """<html><head>
<meta http-equiv="refresh" content="0;url=https://evil.example/">
<base href="https://evil.example/"><title>Newsletter</title>
<style>p { color: #235; }</style>
</head><body onload="steal()">
<script>document.title = "pwned"</script>
<p onclick="steal()">Dear customer, <b>please</b> see <a href="javascript:steal()">this</a> and
<a href="https://docs.example/guide">the guide</a>.</p>
<img src="x" onerror="document.body.innerHTML = 'pwned'">
<img src="https://tracker.example/open.gif?id=42" width="1" height="1">
<form action="https://evil.example/"><input name="password"><button>Log in</button></form>
<iframe src="https://evil.example/frame"></iframe><object data="https://evil.example/x.swf"></object>
<svg><script>alert(1)</script></svg>
</body></html>"""


def _ingest_html(html: str, *, to: str = "support@example.com", subject: str = "Newsletter") -> Message:
    add_route("support@example.com", "Support")
    add_route("sales@example.com", "Sales")
    row = ingest_raw(build_mail(to=to, subject=subject, body="Plain text version.\n", html=html))
    assert row.message is not None
    return row.message


def _ingest_with_inline_image() -> Message:
    """A multipart/related mail: HTML showing a logo by `cid:`, the logo as an inline part."""
    add_route("support@example.com", "Support")
    mail = EmailMessage()
    mail["From"] = "Jane Doe <jane.doe@example.org>"
    mail["To"] = "support@example.com"
    mail["Subject"] = "Logo attached inline"
    mail["Message-ID"] = "<inline-logo@mail.example.org>"
    mail.set_content("See our logo.\n")
    mail.add_alternative('<p>See our logo: <img src="cid:Logo.1%40mail.example.org" alt="logo"></p>', subtype="html")
    html_part = mail.get_payload()[1]  # type: ignore[index]
    html_part.add_related(PNG, "image", "png", cid="<Logo.1@mail.example.org>", filename="logo.png")
    row = ingest_raw(mail.as_bytes())
    assert row.message is not None
    return row.message


def _csp(response: Any) -> dict[str, str]:
    directives = (part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    return {pair[0]: pair[1] if len(pair) > 1 else "" for pair in directives}


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


# The formatted view


def test_formatted_view_is_sanitised_and_fenced_by_its_headers(agent_client: Client) -> None:
    """
    GIVEN a mail whose HTML carries scripts, event handlers, a form, frames, a meta refresh and a tracking pixel
    WHEN the agent opens its formatted view
    THEN the formatting stays, everything active is gone, the pixel is replaced, and the response forbids script,
         framing by others, sniffing and remote images
    """
    message = _ingest_html(HOSTILE_HTML)
    response = agent_client.get(f"/messages/{message.pk}/html/")

    assert response.status_code == 200 and response["Content-Type"] == "text/html; charset=utf-8"
    csp = _csp(response)
    assert csp["default-src"] == "'none'" and csp["style-src"] == "'unsafe-inline'"
    assert csp["frame-ancestors"] == "'self'" and "script-src" not in csp
    assert csp["img-src"] == f"data: http://testserver/messages/{message.pk}/html/images/"
    assert csp["sandbox"] == "allow-popups allow-popups-to-escape-sandbox"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert response["Referrer-Policy"] == "no-referrer"
    body = response.content.decode()
    document = lxml.html.document_fromstring(body)
    assert document.xpath("//script | //form | //input | //iframe | //object | //svg") == []
    assert document.xpath("//meta[@http-equiv] | //base[@href]") == []
    assert not [name for element in document.iter() for name in element.attrib if name.startswith("on")]
    assert "javascript:" not in body and "pwned" not in body and "Newsletter" not in body
    assert "<b>please</b>" in body and 'href="https://docs.example/guide"' in body and "color: #235" in body
    assert "tracker.example" not in body and document.xpath("//img/@src").count(BLOCKED_IMAGE) == 1


def test_remote_images_load_only_for_the_message_the_agent_allowed(agent_client: Client) -> None:
    """
    GIVEN a mail with a remote image
    WHEN the ticket page is opened, then the formatted view without and with ?remote=1
    THEN the page says one remote image was held back and links the opt-in; only the opted-in view keeps the
         image and lets https: images load
    """
    message = _ingest_html('<p>Hi</p><img src="https://cdn.example/banner.png" alt="banner">')
    page = agent_client.get(f"/tickets/{message.ticket.reference}/").content.decode()
    assert "1 remote image not loaded" in page
    assert f'href="/messages/{message.pk}/html/?remote=1" target="formatted-{message.pk}"' in page
    assert f'<iframe name="formatted-{message.pk}"' in page and 'sandbox="allow-popups' in page
    assert "allow-scripts" not in page and "allow-same-origin" not in page

    blocked = agent_client.get(f"/messages/{message.pk}/html/")
    allowed = agent_client.get(f"/messages/{message.pk}/html/?remote=1")

    assert "cdn.example" not in blocked.content.decode() and "https:" not in _csp(blocked)["img-src"]
    assert 'src="https://cdn.example/banner.png"' in allowed.content.decode()
    assert _csp(allowed)["img-src"].endswith(" https:")


def test_cid_images_are_served_from_the_messages_own_inline_parts(agent_client: Client) -> None:
    """
    GIVEN a mail whose HTML shows an inline part by cid: (percent-encoded, RFC 2392)
    WHEN the formatted view is opened and its image URL fetched without a session (as the sandboxed frame does)
    THEN the image is the inline part, served as an image with nosniff, by the signed capability in its URL;
         a forged or foreign capability and a session-less request without one are refused
    """
    message = _ingest_with_inline_image()
    logo = Attachment.objects.get(message=message, content_id="Logo.1@mail.example.org")
    body = agent_client.get(f"/messages/{message.pk}/html/").content.decode()
    [src] = lxml.html.document_fromstring(body).xpath("//img/@src")
    assert src.startswith(f"http://testserver/messages/{message.pk}/html/images/{logo.pk}/?t=")

    sandboxed = Client()  # the sandboxed document's requests carry no session cookie
    image = sandboxed.get(src.removeprefix("http://testserver"))
    assert image.status_code == 200 and image.content == PNG
    assert image["Content-Type"] == "image/png" and image["X-Content-Type-Options"] == "nosniff"

    token = src.split("?t=", 1)[1]
    forged = sandboxed.get(f"/messages/{message.pk}/html/images/{logo.pk}/?t={token[:-2]}xx")
    assert forged.status_code == 404
    other = Attachment.objects.create(
        tenant_id=logo.tenant_id, message=message, filename="b.png", content_type="image/png", size=1,
        md5="0" * 32, sha256=logo.sha256, inline=True, content_id="other@mail.example.org",
    )  # fmt: skip
    assert sandboxed.get(f"/messages/{message.pk}/html/images/{other.pk}/?t={token}").status_code == 404
    no_token = sandboxed.get(f"/messages/{message.pk}/html/images/{logo.pk}/")
    assert no_token.status_code == 302 and no_token["Location"].startswith("/login/")


def test_an_image_capability_stops_working_when_its_user_loses_the_queue(agent_client: Client) -> None:
    """GIVEN an inline image URL issued to an agent WHEN the agent leaves the ticket's queue THEN it answers 404."""
    message = _ingest_with_inline_image()
    body = agent_client.get(f"/messages/{message.pk}/html/").content.decode()
    [src] = lxml.html.document_fromstring(body).xpath("//img/@src")
    agent = message.ticket.queue.memberships.get().user
    remove_from_queue(agent, message.ticket.queue)
    assert Client().get(src.removeprefix("http://testserver")).status_code == 404


def test_the_formatted_view_is_as_hidden_as_its_ticket(agent_client: Client) -> None:
    """
    GIVEN a Sales mail with HTML and a Support mail without
    WHEN an agent of Support asks for their formatted views
    THEN both answer 404: the first is in a foreign queue, the second has no HTML
    """
    sales = _ingest_html("<p>Quote</p>", to="sales@example.com", subject="Quote")
    plain = ingest_raw(build_mail(subject="Plain only")).message
    assert plain is not None
    assert agent_client.get(f"/messages/{sales.pk}/html/").status_code == 404
    assert agent_client.get(f"/messages/{plain.pk}/html/").status_code == 404
    assert "Show formatted" not in agent_client.get(f"/tickets/{plain.ticket.reference}/").content.decode()


@pytest.mark.parametrize(
    "vector",
    [
        "<svg><style><img src=x onerror=alert(1)></style></svg>",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        "<noscript><style></noscript><img src=x onerror=alert(1)>",
        "<style><!--</style><img src=x onerror=alert(1)>-->",
        "<select><style></select><img src=x onerror=alert(1)></style>",
        '<a href="jav&#x09;ascript:alert(1)">x</a><a href="data:text/html,<script>alert(1)</script>">y</a>',
        '<img src="data:text/html;base64,PHNjcmlwdD4=">',
        '<div style="background:url(https://tracker.example/p.gif)">x</div>',
    ],
)
def test_sanitising_survives_mutation_vectors(vector: str) -> None:
    """GIVEN a known sanitiser-bypass vector WHEN sanitised and parsed again THEN no script, handler or active URL."""
    result = sanitise_message_html(vector, inline_images={}, allow_remote=False)
    document = lxml.html.document_fromstring(f"<html><body>{result.html}</body></html>")
    assert document.xpath("//script | //iframe | //object") == []
    assert not [name for element in document.iter() for name in element.attrib if name.startswith("on")]
    assert not [url for url in document.xpath("//@href | //@src") if url.lower().startswith(("javascript", "data:t"))]
    assert sanitise_message_html(result.html, inline_images={}, allow_remote=False).html == result.html
    if "tracker.example" in vector:
        assert result.remote_blocked == 1  # the CSP blocks it; the agent is told


# Files in replies and notes


@pytest.fixture
def ticket() -> Ticket:
    add_route("support@example.com", "Support")
    row = ingest_raw(build_mail(body="Hi,\n\nthe printer is jammed.\n"))
    assert row.message is not None
    return row.message.ticket


def _last_seen(client: Client, ticket: Ticket) -> str:
    page = client.get(f"/tickets/{ticket.reference}/").content.decode()
    return page.split('name="last_seen" value="')[1].split('"')[0]


def test_a_reply_with_files_is_sent_with_them_as_mime_attachments(
    agent_client: Client, ticket: Ticket, outbox: CaptureServer
) -> None:
    """
    GIVEN the ticket page
    WHEN the agent sends a reply with two files and the outbox runs
    THEN the reply's Attachment rows point at the blobs, the timeline links them, and the relay receives a
         multipart message carrying both files with their names and bytes
    """
    files = [
        SimpleUploadedFile("Invoice März.pdf", b"%PDF-1.4 invoice", content_type="application/pdf"),
        SimpleUploadedFile("C:\\Users\\al\\steps.txt", b"1. restart\n", content_type="text/plain; charset=utf-8"),
    ]
    response = agent_client.post(
        f"/tickets/{ticket.reference}/reply/",
        {"kind": "reply", "to": "jane.doe@example.org", "text": "See the attached files.",
         "last_seen": _last_seen(agent_client, ticket), "attachments": files},
    )  # fmt: skip
    assert response.status_code == 302

    reply = Message.objects.get(ticket=ticket, direction=Direction.OUTBOUND)
    rows = {a.filename: a for a in reply.attachments.all()}
    assert set(rows) == {"Invoice März.pdf", "steps.txt"} and rows["steps.txt"].content_type == "text/plain"
    page = agent_client.get(f"/tickets/{ticket.reference}/").content.decode()
    assert f'href="/attachments/{rows["steps.txt"].pk}/"' in page
    assert agent_client.get(f"/attachments/{rows['steps.txt'].pk}/").content == b"1. restart\n"

    assert send_due_deliveries() == 1
    [captured] = outbox.messages
    sent = email.message_from_bytes(captured.data, policy=email.policy.default)
    assert sent.get_content_type() == "multipart/mixed"
    attached = {part.get_filename(): part.get_content() for part in sent.iter_attachments()}  # type: ignore[attr-defined]
    assert attached == {"Invoice März.pdf": b"%PDF-1.4 invoice", "steps.txt": "1. restart\n"}


def test_a_note_keeps_its_files_and_sends_nothing(agent_client: Client, ticket: Ticket) -> None:
    """GIVEN the page WHEN the agent adds a note with a screenshot THEN the note holds it, and nothing is queued."""
    screenshot = SimpleUploadedFile("screen.png", PNG, content_type="image/png")
    agent_client.post(
        f"/tickets/{ticket.reference}/reply/", {"kind": "note", "text": "Screenshot.", "attachments": [screenshot]}
    )
    note = Message.objects.get(ticket=ticket, direction=Direction.NOTE)
    [attachment] = note.attachments.all()
    assert (
        attachment.filename == "screen.png" and attachment.size == len(PNG) and attachment.sniffed_type == "image/png"
    )
    assert not Delivery.objects.exists()


@pytest.mark.parametrize(
    "case",
    [
        ((1000, 5000), (1001,), 'the file "f0.bin" is 1001'),
        ((1000, 1500), (800, 800), "the files together are 1.6"),
    ],
    ids=["one file too large", "all files too large"],
)
def test_files_over_the_limits_are_refused_with_422_and_nothing_is_written(
    agent_client: Client, ticket: Ticket, settings: Any, case: tuple[tuple[int, int], tuple[int, ...], str]
) -> None:
    """
    GIVEN limits per file and for all files of a message
    WHEN a reply brings a file over the first, or files over the second
    THEN 422 with a message naming the problem, the agent's text kept, no message, no attachment, no delivery
    """
    limits, sizes, expected = case
    settings.POSTROOM = dataclasses.replace(
        settings.POSTROOM, reply_attachment_max_bytes=limits[0], reply_attachments_max_total_bytes=limits[1]
    )
    files = [SimpleUploadedFile(f"f{i}.bin", b"x" * size) for i, size in enumerate(sizes)]
    response = agent_client.post(
        f"/tickets/{ticket.reference}/reply/",
        {"kind": "reply", "to": "jane.doe@example.org", "text": "Files for you.", "attachments": files},
    )
    page = html.unescape(response.content.decode())
    assert response.status_code == 422
    assert expected in page and "attach the files again" in page and "Files for you." in page
    assert not Message.objects.filter(ticket=ticket, direction=Direction.OUTBOUND).exists()
    assert not Attachment.objects.filter(message__ticket=ticket, message__direction=Direction.OUTBOUND).exists()
    assert not Delivery.objects.exists()


def test_uploaded_names_and_types_are_cleaned() -> None:
    """GIVEN names with folders and controls, and odd types WHEN cleaned THEN plain names and leaf RFC 2045 types."""
    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename("C:\\temp\\re\x00port\n.pdf") == "re port .pdf"
    assert clean_filename("...") == "attachment"
    assert clean_filename("a" * 300 + ".pdf").endswith("a.pdf") and len(clean_filename("a" * 300 + ".pdf")) == 255
    assert clean_content_type("Text/Plain; charset=utf-8") == "text/plain"
    assert clean_content_type("multipart/mixed") == "application/octet-stream"
    assert clean_content_type("message/rfc822") == "application/octet-stream"
    assert clean_content_type("not a type") == "application/octet-stream"


def test_the_builder_sends_a_composite_type_as_opaque_bytes() -> None:
    """GIVEN an attachment declared multipart/mixed WHEN the message is built THEN it is an application part."""
    mail = OutgoingMail(
        from_=Address("Support", "support@example.com"), to=(Address("", "jane.doe@example.org"),),
        subject="s", text="t", message_id="1@example.com", date=dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC),
        attachments=(OutgoingAttachment("x.eml", "multipart/mixed", b"--b\r\n"),),
    )  # fmt: skip
    parsed = email.message_from_bytes(build_message(mail), policy=email.policy.default)
    [part] = parsed.iter_attachments()  # type: ignore[attr-defined]
    assert part.get_content_type() == "application/octet-stream" and part.get_content() == b"--b\r\n"


# Assignment, priority, queue


@pytest.fixture
def people(ticket: Ticket) -> dict[str, Any]:
    """A second agent of Support, an agent of Sales only, an admin."""
    tenant = get_default_tenant()
    support = Queue.objects.get(slug="support")
    sales, _ = Queue.objects.get_or_create(tenant=tenant, slug="sales", defaults={"name": "Sales"})
    return {
        "bob": make_staff(Role.AGENT, tenant, [support], username="bob"),
        "carol": make_staff(Role.AGENT, tenant, [sales], username="carol"),
        "admin": make_staff(Role.ADMIN, tenant, username="root"),
        "sales": sales,
        "support": support,
    }


def test_assign_to_me_to_a_member_and_to_nobody(agent_client: Client, ticket: Ticket, people: dict[str, Any]) -> None:
    """
    GIVEN a Support ticket and the page of an agent of Support
    WHEN the agent assigns it to themself, then to Bob of Support, then to nobody
    THEN each change is saved and confirmed; the page offers Support's members only
    """
    page = agent_client.get(f"/tickets/{ticket.reference}/").content.decode()
    assert f'<option value="{people["bob"].pk}">bob</option>' in page and ">carol<" not in page
    assert 'id="assign-me" aria-keyshortcuts="a"' in page

    response = agent_client.post(f"/tickets/{ticket.reference}/assign/", {"assignee": "me"}, follow=True)
    ticket.refresh_from_db()
    assert ticket.assignee is not None and ticket.assignee.username == "agent"
    assert f"{ticket.reference} is now assigned to you." in response.content.decode()

    agent_client.post(f"/tickets/{ticket.reference}/assign/", {"assignee": str(people["bob"].pk)})
    ticket.refresh_from_db()
    assert ticket.assignee == people["bob"]

    agent_client.post(f"/tickets/{ticket.reference}/assign/", {"assignee": ""})
    ticket.refresh_from_db()
    assert ticket.assignee is None


@pytest.mark.parametrize("assignee", ["carol", "nobody-id", "999999"])
def test_assigning_someone_outside_the_queue_is_refused(
    agent_client: Client, ticket: Ticket, people: dict[str, Any], assignee: str
) -> None:
    """GIVEN a Support ticket WHEN assigned to an agent of Sales only, or a non-user THEN 422 and unchanged."""
    value = str(people["carol"].pk) if assignee == "carol" else assignee
    response = agent_client.post(f"/tickets/{ticket.reference}/assign/", {"assignee": value})
    assert response.status_code == 422
    assert "only someone who works in Support can be assigned this ticket" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_agents_move_tickets_only_to_their_queues_and_admins_anywhere(
    agent_client: Client, ticket: Ticket, people: dict[str, Any]
) -> None:
    """
    GIVEN a Support ticket assigned to Bob (Support only), an agent of Support and Inbox, and an admin
    WHEN the agent moves it to Sales, then to Inbox with high priority; then the admin moves it to Sales
    THEN Sales is refused for the agent (422, not offered); Inbox and the priority are saved and Bob, who does
         not work in Inbox, is unassigned; the admin's move to Sales is saved
    """
    agent_client.post(f"/tickets/{ticket.reference}/assign/", {"assignee": str(people["bob"].pk)})
    page = agent_client.get(f"/tickets/{ticket.reference}/").content.decode()
    assert f'<option value="{people["sales"].pk}"' not in page

    refused = agent_client.post(f"/tickets/{ticket.reference}/fields/", {"queue": str(people["sales"].pk)})
    assert refused.status_code == 422 and "only to a queue you work in" in refused.content.decode()
    ticket.refresh_from_db()
    assert ticket.queue == people["support"]

    inbox = Queue.objects.get(slug="inbox")
    agent_client.post(f"/tickets/{ticket.reference}/fields/", {"queue": str(inbox.pk), "priority": "high"})
    ticket.refresh_from_db()
    assert ticket.queue == inbox and ticket.priority == TicketPriority.HIGH and ticket.assignee is None

    _client(people["admin"]).post(f"/tickets/{ticket.reference}/fields/", {"queue": str(people["sales"].pk)})
    ticket.refresh_from_db()
    assert ticket.queue == people["sales"] and ticket.priority == TicketPriority.HIGH


def test_an_unknown_priority_is_refused(agent_client: Client, ticket: Ticket) -> None:
    """GIVEN the page WHEN a made-up priority is posted THEN 422 beside the ticket's fields, unchanged."""
    response = agent_client.post(f"/tickets/{ticket.reference}/fields/", {"priority": "whenever"})
    assert response.status_code == 422 and "unknown priority" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.priority == TicketPriority.NORMAL


def test_view_only_users_get_no_controls_and_are_refused(ticket: Ticket, people: dict[str, Any]) -> None:
    """GIVEN an auditor WHEN they open the page and post an assignment THEN no controls, no shortcuts, 403."""
    auditor = _client(make_staff(Role.AUDITOR, get_default_tenant()))
    page = auditor.get(f"/tickets/{ticket.reference}/").content.decode()
    assert "Assign to me" not in page and 'name="priority"' not in page and "<kbd>a</kbd>" not in page
    assert auditor.post(f"/tickets/{ticket.reference}/assign/", {"assignee": "me"}).status_code == 403


def test_the_page_carries_its_shortcuts_and_labels(agent_client: Client, ticket: Ticket) -> None:
    """GIVEN the page WHEN rendered THEN the shortcuts script, help, labelled controls and a multipart composer."""
    page = agent_client.get(f"/tickets/{ticket.reference}/").content.decode()
    assert "/static/postroom/ticket.js" in page and 'id="shortcut-help"' in page
    for control in ("ticket-status", "ticket-priority", "ticket-queue", "ticket-assignee", "reply-text", "reply-files"):
        assert f'<label for="{control}">' in page and f'id="{control}"' in page
    assert 'enctype="multipart/form-data"' in page and 'name="attachments" multiple' in page


def test_the_composer_warns_about_an_address_that_bounced_hard() -> None:
    """GIVEN a ticket whose requester's address a hard bounce marked undeliverable WHEN an agent opens it THEN the
    reply box names the address, the bounce and until when; once the mark has expired the note is gone."""
    message = _ingest_html("<p>Hello</p>", subject="Bounced requester")
    ticket = message.ticket
    agent = make_staff(Role.ADMIN, get_default_tenant(), username="warned")
    client = Client()
    client.force_login(agent)
    contact = ticket.requester
    contact.undeliverable_until = dt.datetime.now(dt.UTC) + dt.timedelta(days=10)
    contact.undeliverable_reason = "userunknown 5.1.1 550 User unknown"
    contact.save()
    page = client.get(f"/tickets/{ticket.reference}/").content.decode()
    assert f"{contact.email} bounced:</strong> userunknown 5.1.1 550 User unknown" in page
    contact.undeliverable_until = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    contact.save()
    assert "bounced:</strong>" not in client.get(f"/tickets/{ticket.reference}/").content.decode()


def test_a_message_tagged_as_spam_says_so_with_its_score() -> None:
    message = _ingest_html("<p>Cheap watches</p>", subject="Offer")
    Message.objects.filter(pk=message.pk).update(probable_spam=True, spam_score=6.24)
    client = Client()
    client.force_login(make_staff(Role.ADMIN, get_default_tenant(), username="spamwatcher"))
    page = client.get(f"/tickets/{message.ticket.reference}/").content.decode()
    assert "<strong>Probable spam.</strong> The spam scanner scored this message 6.2" in page
    api = client.get(f"/api/v1/messages/{message.pk}").json()
    assert (api["probable_spam"], api["spam_score"], api["possible_spoof"]) == (True, 6.24, False)
