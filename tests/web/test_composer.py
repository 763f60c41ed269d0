"""The ticket page's composer and the conversation API: reply, note, conflict prompt, problem responses."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from ingesting import ingest_raw
from mailfactory import build_mail
from postroom.inbound.routes import add_route
from postroom.outbound.models import Delivery
from postroom.tickets.models import Direction, Message, Ticket, TicketStatus

pytestmark = pytest.mark.django_db


ingest = ingest_raw


@pytest.fixture
def ticket() -> Ticket:
    add_route("support@example.com", "Support")
    return ingest(build_mail(body="Hi,\n\nthe printer is jammed.\n\nOn Mon, Bob wrote:\n> old stuff\n")).message.ticket


def _last_seen(client: Client, ticket: Ticket) -> str:
    page = client.get(f"/tickets/{ticket.reference}/").content.decode()
    return page.split('name="last_seen" value="')[1].split('"')[0]


def test_the_page_shows_new_text_first_and_the_composer(agent_client: Client, ticket: Ticket) -> None:
    """GIVEN a ticket whose mail quotes history WHEN opened THEN new text, full text behind a toggle, a reply form."""
    page = agent_client.get(f"/tickets/{ticket.reference}/").content.decode()
    assert "the printer is jammed" in page
    assert '<details class="full-text">' in page and "old stuff" in page
    assert 'name="last_seen"' in page and "jane.doe@example.org" in page


def test_reply_from_the_form_is_queued_and_shown_with_its_status(agent_client: Client, ticket: Ticket) -> None:
    """GIVEN the ticket page WHEN the agent sends a reply THEN redirect, queued delivery, status shown on the page."""
    response = agent_client.post(
        f"/tickets/{ticket.reference}/reply/",
        {"kind": "reply", "to": "jane.doe@example.org", "cc": "", "text": "Restart it.",
         "last_seen": _last_seen(agent_client, ticket)},
    )  # fmt: skip
    assert response.status_code == 302
    reply = Message.objects.get(ticket=ticket, direction=Direction.OUTBOUND)
    assert Delivery.objects.get(message=reply).recipients == ["jane.doe@example.org"]
    assert "Queued" in agent_client.get(f"/tickets/{ticket.reference}/").content.decode()


def test_a_conflict_shows_what_arrived_and_offers_send_anyway(agent_client: Client, ticket: Ticket) -> None:
    """GIVEN an agent's open page WHEN the customer writes before the agent sends THEN 409, what arrived, text kept."""
    seen = _last_seen(agent_client, ticket)
    ingest(build_mail(subject=f"Re: [{ticket.reference}]", body="It is on fire now."))
    response = agent_client.post(
        f"/tickets/{ticket.reference}/reply/",
        {"kind": "reply", "to": "jane.doe@example.org", "text": "Restart it.", "last_seen": seen},
    )
    page = response.content.decode()
    assert response.status_code == 409
    assert "It is on fire now." in page and "Restart it." in page and 'name="send_anyway"' in page
    assert not Message.objects.filter(ticket=ticket, direction=Direction.OUTBOUND).exists()
    response = agent_client.post(
        f"/tickets/{ticket.reference}/reply/",
        {"kind": "reply", "to": "jane.doe@example.org", "text": "Restart it.", "last_seen": seen, "send_anyway": "1"},
    )
    assert response.status_code == 302


def test_a_note_and_a_status_change(agent_client: Client, ticket: Ticket) -> None:
    """GIVEN the page WHEN a note is added and the ticket resolved THEN a note without delivery, status resolved."""
    agent_client.post(f"/tickets/{ticket.reference}/reply/", {"kind": "note", "text": "Called her."})
    agent_client.post(f"/tickets/{ticket.reference}/status/", {"status": "resolved"})
    note = Message.objects.get(ticket=ticket, direction=Direction.NOTE)
    assert not Delivery.objects.filter(message=note).exists()
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.RESOLVED and ticket.closed_at is not None
    bad = agent_client.post(f"/tickets/{ticket.reference}/status/", {"status": "exploded"})
    assert bad.status_code == 422


def test_api_reply_conflict_and_errors_are_problem_responses(agent_client: Client, ticket: Ticket) -> None:
    """
    GIVEN the API
    WHEN a reply is posted, one with a stale last-seen id, one without text, and one to a missing ticket
    THEN 201 with the queued message; 409, 422 and 404 as application/problem+json
    """
    url = f"/api/v1/tickets/{ticket.reference}/replies"
    seen = Message.objects.filter(ticket=ticket).latest("id").pk
    created = agent_client.post(url, {"text": "Restart it.", "last_seen_message_id": seen}, "application/json")
    assert created.status_code == 201 and created.json()["send_status"] == "queued"

    stale = agent_client.post(url, {"text": "Again", "last_seen_message_id": seen - 1}, "application/json")
    assert stale.status_code == 409 and stale["Content-Type"] == "application/problem+json"
    assert stale.json()["arrived"][0]["direction"] in {"in", "out"}

    empty = agent_client.post(url, {"text": "  "}, "application/json")
    assert empty.status_code == 422 and empty.json()["title"] == "Reply refused"
    missing = agent_client.post("/api/v1/tickets/PR-999999/replies", {"text": "x"}, "application/json")
    assert missing.status_code == 404 and missing["Content-Type"] == "application/problem+json"
    listed = agent_client.get(f"/api/v1/tickets/{ticket.reference}/messages").json()
    assert [m["direction"] for m in listed] == ["in", "out"]


def test_api_needs_sign_in(ticket: Ticket) -> None:
    """GIVEN no session WHEN the API is called THEN 401 problem response."""
    response = Client().get(f"/api/v1/tickets/{ticket.reference}/messages")
    assert response.status_code == 401 and json.loads(response.content)["title"] == "Sign in first"


def test_attachments_download_safely_and_survive_a_lost_blob(agent_client: Client) -> None:
    """
    GIVEN a ticket whose mail carries an HTML attachment, whose blob was then lost (blobs are not fsynced)
    WHEN the agent downloads it
    THEN the bytes come back (re-extracted from the raw message), as an attachment, opaque, nosniff, sandboxed
    """
    from postroom.core.blobs import get_blob_store
    from postroom.tickets.models import Attachment

    add_route("support@example.com", "Support")
    page = b"<html><script>alert(1)</script></html>"
    ingest(build_mail(attachments=[("page.html", "text/html", page)]))
    attachment = Attachment.objects.get()
    get_blob_store().path_for(attachment.sha256).unlink()

    response = agent_client.get(f"/attachments/{attachment.pk}/")

    assert response.status_code == 200 and response.content == page
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;") and "page.html" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith("sandbox")
    assert get_blob_store().exists(attachment.sha256)
