"""Fixtures of the portal tests: tickets of two requesters, and signing a contact in through a real link."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from ingesting import ingest_raw
from mailfactory import build_mail
from postroom.inbound.routes import add_route
from postroom.portal.conf import get_portal_settings
from postroom.portal.links import issue_link
from postroom.tickets.models import Contact, Ticket

JANE = "Jane Doe <jane.doe@example.org>"
BOB = "Bob Roe <bob.roe@example.net>"


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    """The limits count in Django's cache, which outlives a test's database: start and leave it empty."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def jane_ticket(db: None) -> Ticket:
    """Jane's ticket in Support, by mail."""
    add_route("support@example.com", "Support")
    inbound = ingest_raw(build_mail(sender=JANE, subject="Printer on floor 3 is jammed"))
    assert inbound.message is not None
    return inbound.message.ticket


@pytest.fixture
def bob_ticket(db: None) -> Ticket:
    """Bob's ticket in Support, by mail, with an attachment."""
    add_route("support@example.com", "Support")
    raw = build_mail(
        sender=BOB, subject="Invoice 4711 is wrong", attachments=[("invoice.pdf", "application/pdf", b"%PDF-1.4 bob")]
    )
    inbound = ingest_raw(raw)
    assert inbound.message is not None
    return inbound.message.ticket


@pytest.fixture
def sign_in() -> Callable[[Contact], Client]:
    """A browser signed in to the portal as `contact`, through a link as the mail would carry it."""

    def signed_in(contact: Contact) -> Client:
        client = Client()
        token = issue_link(contact, timezone.now(), get_portal_settings().link_lifetime)
        response = client.post(f"/portal/link/{token}/")
        assert response.status_code == 302 and response["Location"] == "/portal/tickets/"
        return client

    return signed_in
