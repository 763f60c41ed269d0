"""Portal pages: a requester's tickets, their public messages and attachments, and replying from the web."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from ingesting import ingest_raw
from mailfactory import build_mail
from postroom.accounts.models import Role
from postroom.mail.values import Address
from postroom.outbound.services import ReplyDraft, send_reply
from postroom.portal.models import PortalReply
from postroom.portal.replies import SOURCE_HEADER, ReplyVerdict, decide_portal_reply
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import (
    Attachment,
    ClosedReplyPolicy,
    Contact,
    Direction,
    Message,
    Participant,
    Queue,
    Ticket,
    TicketStatus,
)
from postroom.tickets.services import set_ticket_status
from staff import make_staff

pytestmark = pytest.mark.django_db

SignIn = Callable[[Contact], Client]


def _page(client: Client, ticket: Ticket) -> str:
    response = client.get(f"/portal/tickets/{ticket.reference}/")
    assert response.status_code == 200
    return response.content.decode()


def _reply(client: Client, ticket: Ticket, text: str, **files: Any) -> Any:
    return client.post(f"/portal/tickets/{ticket.reference}/reply/", {"text": text, **files})


def _first_message(ticket: Ticket) -> Message:
    message = Message.objects.filter(ticket=ticket).order_by("id").first()
    assert message is not None
    return message


def test_the_list_shows_own_tickets_newest_first_with_status_in_words(
    jane_ticket: Ticket, bob_ticket: Ticket, sign_in: SignIn
) -> None:
    """
    GIVEN Jane's ticket (pending), a newer ticket of hers, and Bob's ticket
    WHEN Jane opens her requests
    THEN both of hers are listed, the newer first, with the status in words, and Bob's is not
    """
    set_ticket_status(jane_ticket.pk, TicketStatus.PENDING, timezone.now())
    ingest_raw(build_mail(sender="Jane Doe <jane.doe@example.org>", subject="Scanner makes noises"))
    page = sign_in(jane_ticket.requester).get("/portal/tickets/").content.decode()
    assert page.index("Scanner makes noises") < page.index(jane_ticket.subject)
    assert "Waiting for your answer" in page and "Received, not answered yet" in page
    assert bob_ticket.subject not in page and bob_ticket.reference not in page


def test_a_participant_sees_the_ticket_too(jane_ticket: Ticket, bob_ticket: Ticket, sign_in: SignIn) -> None:
    """GIVEN Bob as a participant on Jane's ticket WHEN Bob signs in THEN the ticket is listed and opens for him."""
    Participant.objects.create(tenant_id=jane_ticket.tenant_id, ticket=jane_ticket, contact=bob_ticket.requester)
    bob = sign_in(bob_ticket.requester)
    assert jane_ticket.subject in bob.get("/portal/tickets/").content.decode()
    assert "the printer on floor 3 is jammed again" in _page(bob, jane_ticket)


def test_another_contacts_ticket_is_not_found(jane_ticket: Ticket, bob_ticket: Ticket, sign_in: SignIn) -> None:
    """
    GIVEN Jane signed in, and Bob's ticket with an attachment
    WHEN Jane asks for Bob's ticket, its attachment, replies to it, and asks for a number that does not exist
    THEN every answer is the same "not found" (404) and nothing is added to Bob's ticket
    """
    jane = sign_in(jane_ticket.requester)
    attachment = Attachment.objects.get(message__ticket=bob_ticket)
    responses = [
        jane.get(f"/portal/tickets/{bob_ticket.reference}/"),
        jane.get(f"/portal/tickets/{bob_ticket.reference}/attachments/{attachment.pk}/"),
        _reply(jane, bob_ticket, "Mine now"),
        jane.get("/portal/tickets/PR-999999/"),
        jane.get(f"/portal/tickets/{jane_ticket.reference}/attachments/{attachment.pk}/"),  # right ticket, wrong file
    ]
    assert [r.status_code for r in responses] == [404] * 5
    assert all("Not found" in r.content.decode() for r in responses)
    assert not Message.objects.filter(ticket=bob_ticket, text="Mine now").exists()


def test_internal_notes_and_their_files_never_show(jane_ticket: Ticket, sign_in: SignIn, agent: Any) -> None:
    """
    GIVEN Jane's ticket with an agent's note and a stranger's follow-up with a file (kept as an internal note)
    WHEN Jane opens the ticket and asks for the note's file
    THEN neither text is on the page and the file is not found
    """
    from postroom.outbound.services import add_note

    add_note(jane_ticket.pk, agent, "Customer is on the watch list")
    stranger = build_mail(
        sender="Mallory <mallory@example.com>",
        subject=f"Re: {jane_ticket.subject}",
        in_reply_to=_first_message(jane_ticket).message_id,
        body="Internal pricing attached.",
        attachments=[("prices.txt", "text/plain", b"secret prices")],
    )
    assert ingest_raw(stranger).message.direction == Direction.NOTE  # type: ignore[union-attr]
    jane = sign_in(jane_ticket.requester)
    page = _page(jane, jane_ticket)
    assert "watch list" not in page and "Internal pricing" not in page and "prices.txt" not in page
    note_file = Attachment.objects.get(filename="prices.txt")
    assert jane.get(f"/portal/tickets/{jane_ticket.reference}/attachments/{note_file.pk}/").status_code == 404


def test_replies_to_the_requester_show_and_mail_to_a_third_party_does_not(
    jane_ticket: Ticket, sign_in: SignIn, agent: Any
) -> None:
    """
    GIVEN an agent's reply to Jane and an agent's mail from the ticket to a supplier only
    WHEN Jane opens the ticket
    THEN she reads the reply (without the thread marker) and not the supplier's mail
    """
    send_reply(jane_ticket.pk, agent, ReplyDraft(text="Please switch it off and on."))
    supplier = (Address("", "parts@vendor.example"),)
    send_reply(jane_ticket.pk, agent, ReplyDraft(text="Your part 8812 failed again.", to=supplier))
    page = _page(sign_in(jane_ticket.requester), jane_ticket)
    assert "Please switch it off and on." in page and "Support" in page
    assert "part 8812" not in page


def test_message_text_is_shown_escaped_and_html_is_never_rendered(sign_in: SignIn, db: None) -> None:
    """
    GIVEN a mail whose text has markup in it and whose HTML part has a script
    WHEN its sender opens the ticket in the portal
    THEN the text shows escaped, and neither the markup nor the HTML part's content is on the page as HTML
    """
    raw = build_mail(
        sender="Jane Doe <jane.doe@example.org>",
        body='Look: <img src=x onerror="alert(1)"> broke it\n',
        html="<p>Look</p><script>alert('html part')</script>",
    )
    ticket = ingest_raw(raw).message.ticket  # type: ignore[union-attr]
    page = _page(sign_in(ticket.requester), ticket)
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "<img" not in page and "<script" not in page and "html part" not in page


@pytest.mark.parametrize("status", [TicketStatus.PENDING, TicketStatus.RESOLVED, TicketStatus.CLOSED])
def test_a_reply_is_added_as_her_inbound_message_and_reopens_the_ticket(
    jane_ticket: Ticket, sign_in: SignIn, status: str
) -> None:
    """
    GIVEN Jane's ticket set to pending, resolved or closed (the queue reopens on late replies, the default)
    WHEN she replies from the portal with a file
    THEN she is sent to her message on the ticket; it is an inbound message authored by her, marked as from the
         portal (PortalReply row, X-Postroom-Source header, subject note), with the file; the ticket is open again
    """
    set_ticket_status(jane_ticket.pk, status, timezone.now())
    jane = sign_in(jane_ticket.requester)
    photo = SimpleUploadedFile("jam.png", b"\x89PNG\r\n\x1a\nfake", content_type="image/png")
    response = _reply(jane, jane_ticket, "  It jams on every second page.  ", files=photo)
    message = Message.objects.get(ticket=jane_ticket, text="It jams on every second page.")
    assert response.status_code == 302
    assert response["Location"] == f"/portal/tickets/{jane_ticket.reference}/#m{message.pk}"
    assert message.direction == Direction.INBOUND and message.author_id == jane_ticket.requester_id
    assert PortalReply.objects.get(message=message).contact_id == jane_ticket.requester_id
    assert list(SOURCE_HEADER) in message.headers and "via the portal" in message.subject
    assert [(a.filename, a.content_type) for a in message.attachments.all()] == [("jam.png", "image/png")]
    jane_ticket.refresh_from_db()
    assert jane_ticket.status == TicketStatus.OPEN and jane_ticket.last_message_at == message.sent_at
    assert "It jams on every second page." in _page(jane, jane_ticket)


def test_agents_see_the_portal_marker_on_the_ticket(jane_ticket: Ticket, sign_in: SignIn) -> None:
    """GIVEN Jane's portal reply WHEN an agent of Support opens the ticket THEN the console says "via the portal"."""
    _reply(sign_in(jane_ticket.requester), jane_ticket, "Any news?")
    agent = Client()
    agent.force_login(make_staff(Role.AGENT, get_default_tenant(), [jane_ticket.queue]))
    page = agent.get(f"/tickets/{jane_ticket.reference}/").content.decode()
    assert "Any news?" in page and "via the portal" in page


def test_a_queue_that_rejects_late_replies_refuses_one_from_the_portal(jane_ticket: Ticket, sign_in: SignIn) -> None:
    """
    GIVEN Jane's closed ticket in a queue that rejects late replies
    WHEN she opens it and replies anyway
    THEN the page says why and has no reply form; the reply answers 409, nothing is added, the ticket stays closed
    """
    Queue.objects.filter(pk=jane_ticket.queue_id).update(closed_reply_policy=ClosedReplyPolicy.REJECT)
    set_ticket_status(jane_ticket.pk, TicketStatus.CLOSED, timezone.now())
    jane = sign_in(jane_ticket.requester)
    page = _page(jane, jane_ticket)
    assert "please write us a new message" in page and 'name="text"' not in page
    response = _reply(jane, jane_ticket, "Still broken")
    assert response.status_code == 409 and "please write us a new message" in response.content.decode()
    assert not Message.objects.filter(text="Still broken").exists()
    jane_ticket.refresh_from_db()
    assert jane_ticket.status == TicketStatus.CLOSED


def test_a_queue_that_opens_linked_tickets_does_so_for_a_portal_reply(jane_ticket: Ticket, sign_in: SignIn) -> None:
    """
    GIVEN Jane's resolved ticket in a queue that opens a new linked ticket for late replies
    WHEN she replies from the portal
    THEN a new ticket of hers, linked to the old one, holds the reply and she is sent there; the old one stays resolved
    """
    Queue.objects.filter(pk=jane_ticket.queue_id).update(closed_reply_policy=ClosedReplyPolicy.NEW_LINKED)
    set_ticket_status(jane_ticket.pk, TicketStatus.RESOLVED, timezone.now())
    jane = sign_in(jane_ticket.requester)
    assert "your reply opens a new one" in _page(jane, jane_ticket)
    response = _reply(jane, jane_ticket, "It is back")
    follow_up = Ticket.objects.get(linked_from=jane_ticket)
    assert response["Location"].startswith(f"/portal/tickets/{follow_up.reference}/#m")
    assert follow_up.requester_id == jane_ticket.requester_id and follow_up.queue_id == jane_ticket.queue_id
    assert Message.objects.get(text="It is back").ticket_id == follow_up.pk
    jane_ticket.refresh_from_db()
    assert jane_ticket.status == TicketStatus.RESOLVED


def test_empty_and_oversized_replies_are_refused_with_the_text_kept(
    jane_ticket: Ticket, sign_in: SignIn, settings: Any
) -> None:
    """
    GIVEN files may be at most 10 bytes each
    WHEN Jane sends an empty reply, then a reply with an 11-byte file, then a body larger than all files may be
    THEN 422, 422 (naming the file, her text kept in the form) and 413; nothing is added
    """
    settings.POSTROOM = dataclasses.replace(
        settings.POSTROOM, portal_upload_max_bytes=10, portal_uploads_max_total_bytes=10
    )
    jane = sign_in(jane_ticket.requester)
    count = Message.objects.filter(ticket=jane_ticket).count()
    assert _reply(jane, jane_ticket, "   ").status_code == 422
    big = SimpleUploadedFile("log.txt", b"x" * 11, content_type="text/plain")
    refused = _reply(jane, jane_ticket, "See the log", files=big)
    page = refused.content.decode()
    assert refused.status_code == 422 and "log.txt" in page and "See the log</textarea>" in page
    huge = SimpleUploadedFile("dump.bin", b"x" * (1024 * 1024 + 100), content_type="application/octet-stream")
    assert _reply(jane, jane_ticket, "Dump", files=huge).status_code == 413
    assert Message.objects.filter(ticket=jane_ticket).count() == count


def test_attachments_download_with_the_consoles_safe_headers(bob_ticket: Ticket, sign_in: SignIn) -> None:
    """
    GIVEN Bob's ticket with a PDF, and an HTML file he added from the portal
    WHEN he downloads both
    THEN both are attachments with nosniff and a sandbox CSP; the PDF keeps its type, the HTML is opaque bytes
    """
    bob = sign_in(bob_ticket.requester)
    page = SimpleUploadedFile("page.html", b"<script>alert(1)</script>", content_type="text/html")
    _reply(bob, bob_ticket, "Also this page", files=page)
    for filename, expected_type in (("invoice.pdf", "application/pdf"), ("page.html", "application/octet-stream")):
        attachment = Attachment.objects.get(message__ticket=bob_ticket, filename=filename)
        response = bob.get(f"/portal/tickets/{bob_ticket.reference}/attachments/{attachment.pk}/")
        assert response.status_code == 200 and response["Content-Type"] == expected_type
        assert response["Content-Disposition"].startswith("attachment;") and filename in response["Content-Disposition"]
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"


def test_a_reply_without_a_csrf_token_is_refused(jane_ticket: Ticket, sign_in: SignIn) -> None:
    """GIVEN Jane's portal session in a browser enforcing CSRF WHEN a reply is posted without the token THEN 403."""
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = sign_in(jane_ticket.requester).cookies
    assert _reply(strict, jane_ticket, "Forged").status_code == 403
    assert not Message.objects.filter(text="Forged").exists()


def test_pages_are_private_and_scriptless(jane_ticket: Ticket, sign_in: SignIn) -> None:
    """GIVEN Jane signed in WHEN she opens her ticket THEN not cached, no Referer, a CSP allowing no script."""
    response = sign_in(jane_ticket.requester).get(f"/portal/tickets/{jane_ticket.reference}/")
    assert "no-store" in response["Cache-Control"] and response["Referrer-Policy"] == "no-referrer"
    assert (
        "default-src 'none'" in response["Content-Security-Policy"]
        and "script-src" not in response["Content-Security-Policy"]
    )


@pytest.mark.parametrize(
    ("status", "policy", "closed_days_ago", "verdict"),
    [
        (TicketStatus.OPEN, ClosedReplyPolicy.REJECT, None, ReplyVerdict.APPEND),
        (TicketStatus.PENDING, ClosedReplyPolicy.NEW_LINKED, None, ReplyVerdict.APPEND),
        (TicketStatus.RESOLVED, ClosedReplyPolicy.REOPEN, 400, ReplyVerdict.APPEND),
        (TicketStatus.RESOLVED, ClosedReplyPolicy.NEW_AFTER_DAYS, 13, ReplyVerdict.APPEND),
        (TicketStatus.CLOSED, ClosedReplyPolicy.NEW_AFTER_DAYS, 15, ReplyVerdict.NEW_LINKED),
        (TicketStatus.CLOSED, ClosedReplyPolicy.NEW_LINKED, 0, ReplyVerdict.NEW_LINKED),
        (TicketStatus.RESOLVED, ClosedReplyPolicy.REJECT, 0, ReplyVerdict.REFUSED),
    ],
)
def test_the_reply_decision_follows_the_queues_late_reply_policy(
    status: str, policy: str, closed_days_ago: int | None, verdict: ReplyVerdict
) -> None:
    """
    GIVEN a ticket in a status, its queue's late-reply policy (new tickets after 14 days) and when it was closed
    WHEN the requester would reply from the portal
    THEN the reply is added, opens a linked ticket, or is refused, as an emailed reply would be
    """
    now = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
    closed_at = now - dt.timedelta(days=closed_days_ago) if closed_days_ago is not None else None
    queue = Queue(name="Support", closed_reply_policy=policy, reopen_within_days=14)
    ticket = Ticket(status=status, queue=queue, closed_at=closed_at, last_message_at=now - dt.timedelta(days=30))
    assert decide_portal_reply(ticket, now).verdict is verdict
