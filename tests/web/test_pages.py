"""The first console pages: sign in, ticket list per queue, ticket detail, trace, raw headers."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from ingesting import ingest_raw
from mailfactory import build_mail
from postroom.inbound.routes import add_route

pytestmark = pytest.mark.django_db


ingest = ingest_raw


def test_pages_need_sign_in() -> None:
    """GIVEN no session WHEN the ticket list is opened THEN redirect to the sign-in page."""
    response = Client().get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_sign_in_with_password() -> None:
    """GIVEN an agent WHEN signing in with the right password THEN redirected to the tickets; wrong one stays."""
    get_user_model().objects.create_user("agent", password="correct horse battery")
    client = Client()
    bad = client.post("/login/", {"username": "agent", "password": "wrong"})
    assert bad.status_code == 200 and b"didn't match" in bad.content
    good = client.post("/login/", {"username": "agent", "password": "correct horse battery"})
    assert good.status_code == 302


def test_ticket_list_per_queue(agent_client: Client) -> None:
    """GIVEN tickets in Support and Sales WHEN the Support list is opened THEN only Support's ticket is listed."""
    add_route("support@example.com", "Support")
    add_route("sales@example.com", "Sales")
    ingest(build_mail(subject="Support question", to="support@example.com"))
    ingest(build_mail(subject="Sales question", to="sales@example.com"))
    page = agent_client.get("/", {"queue": "support"}).content.decode()
    assert "Support question" in page and "Sales question" not in page


def test_ticket_detail_trace_and_headers(agent_client: Client) -> None:
    """GIVEN an ingested mail with a script in its body WHEN its pages are opened THEN text, trace and headers show,
    and the script is escaped."""
    row = ingest(build_mail(subject="Hello", body="<script>alert(1)</script> please help\n"))
    ticket = row.message.ticket
    detail = agent_client.get(f"/tickets/{ticket.reference}/").content.decode()
    assert "please help" in detail
    assert "<script>alert(1)</script>" not in detail and "&lt;script&gt;" in detail
    trace = agent_client.get(f"/inbound/{row.tracking_id}/").content.decode()
    assert "new_ticket" in trace and "Why this ticket" in trace
    headers = agent_client.get(f"/messages/{row.message.pk}/headers/").content.decode()
    assert "Message-ID" in headers


def test_unknown_ticket_is_a_404_page(agent_client: Client) -> None:
    """GIVEN no such ticket WHEN opened THEN a 404 page, not a traceback."""
    response = agent_client.get("/tickets/PR-999999/")
    assert response.status_code == 404
    assert b"Not found" in response.content
