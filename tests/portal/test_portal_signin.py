"""Portal sign-in: one-time links by mail through the portal's outbox, neutral answers, limits, sessions."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from collections.abc import Callable
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from postroom.conf.env import ConfigError, parse_public_url
from postroom.portal.conf import get_portal_settings
from postroom.portal.links import issue_link
from postroom.portal.models import SignInLink, SignInRequest, SignInRequestStatus
from postroom.portal.outbox import SEND_TASK, process_sign_in_request, send_due_sign_in_requests
from postroom.portal.ratelimits import build_client_bucket
from postroom.portal.sessions import CONTACT_KEY, SIGNED_IN_AT_KEY
from postroom.tickets.models import Contact, Ticket
from smtpcapture import CaptureServer
from staff import make_staff

pytestmark = pytest.mark.django_db

LINK = re.compile(r"(\S+)/portal/link/([A-Za-z0-9_-]{43})/")


def _ask(client: Client, email: str, **extra: str) -> Any:
    return client.post("/portal/", {"email": email}, **extra)


def _mail(outbox: CaptureServer, index: int = 0) -> EmailMessage:
    message = message_from_bytes(outbox.messages[index].data, policy=default)
    assert isinstance(message, EmailMessage)
    return message


def _token_from(message: EmailMessage, _origin: str = "http://testserver") -> str:
    body = message.get_body(("plain",))
    assert body is not None
    found = LINK.search(body.get_content())
    assert found, "no sign-in link in the mail"
    assert found.group(1) == _origin
    return found.group(2)


def _limits(settings: Any, **changes: object) -> None:
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, **changes)


def test_a_known_address_gets_a_one_time_link_through_the_outbox(
    client: Client, jane_ticket: Ticket, outbox: CaptureServer, django_capture_on_commit_callbacks: Any
) -> None:
    """
    GIVEN Jane, who wrote to Support
    WHEN she asks for a link (her address in another case) and the worker sends what is due
    THEN the request was queued with its task on commit; one automatic mail (RFC 3834 auto-generated) from Support's
         address reached her with a link whose token is stored only as its SHA-256, and the queue row is gone
    """
    with django_capture_on_commit_callbacks() as callbacks:
        response = _ask(client, "Jane.Doe@Example.org")
    assert response.status_code == 200 and "If we know this address" in response.content.decode()
    queued = SignInRequest.objects.get()
    assert queued.email_key == "jane.doe@example.org" and queued.status == SignInRequestStatus.QUEUED
    assert len(callbacks) == 1  # the worker is told once the row is committed
    assert send_due_sign_in_requests() == 1
    assert len(outbox.messages) == 1 and outbox.messages[0].rcpt_tos == ["jane.doe@example.org"]
    mail = _mail(outbox)
    assert mail["Auto-Submitted"] == "auto-generated" and mail["X-Auto-Response-Suppress"] == "All"
    assert mail["To"].addresses[0].addr_spec == "jane.doe@example.org"
    assert mail["From"].addresses[0].addr_spec.startswith("support@")
    token = _token_from(mail)
    link = SignInLink.objects.get()
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in link.token_hash
    assert link.contact_id == jane_ticket.requester_id and link.used_at is None
    assert dt.timedelta(minutes=14) < link.expires_at - timezone.now() <= dt.timedelta(minutes=15)
    assert not SignInRequest.objects.exists()


def test_the_task_is_registered_under_its_name() -> None:
    """GIVEN the Celery app WHEN its tasks are listed THEN the sign-in task is there (workers call it by name)."""
    from postroom.celery import app

    assert SEND_TASK in app.tasks


def test_links_start_with_the_configured_public_url(
    client: Client, jane_ticket: Ticket, outbox: CaptureServer, settings: Any
) -> None:
    """
    GIVEN POSTROOM_PORTAL_PUBLIC_URL with a path prefix
    WHEN Jane asks for a link through a request with another Host
    THEN the mailed link starts with the configured URL, not the request's host
    """
    _limits(
        settings, portal_public_url=parse_public_url("POSTROOM_PORTAL_PUBLIC_URL", "https://help.example.com/desk/")
    )
    _ask(client, "jane.doe@example.org")
    send_due_sign_in_requests()
    assert _token_from(_mail(outbox), "https://help.example.com/desk")


@pytest.mark.parametrize("raw", ["ftp://help.example.com", "help.example.com", "https://h.example.com/?a=1"])
def test_a_public_url_that_cannot_be_a_link_stops_start_up(raw: str) -> None:
    """GIVEN a POSTROOM_PORTAL_PUBLIC_URL that is not an absolute http(s) URL WHEN parsed THEN ConfigError names it."""
    with pytest.raises(ConfigError, match="POSTROOM_PORTAL_PUBLIC_URL"):
        parse_public_url("POSTROOM_PORTAL_PUBLIC_URL", raw)


def test_an_unknown_address_gets_the_same_answer_and_no_mail(
    client: Client, jane_ticket: Ticket, outbox: CaptureServer
) -> None:
    """
    GIVEN Jane is known and nobody at stranger@example.com wrote to us
    WHEN both addresses ask for a link and the worker runs
    THEN both pages are byte for byte the same, both were queued alike, only Jane gets mail, and no trace of the
         unknown address is left
    """
    known = _ask(client, "jane.doe@example.org")
    unknown = _ask(client, "stranger@example.com")
    assert (known.status_code, known.content) == (unknown.status_code, unknown.content)
    assert SignInRequest.objects.count() == 2
    rows = {row.email_key: row.pk for row in SignInRequest.objects.all()}
    assert process_sign_in_request(rows["stranger@example.com"]) == "nobody"
    assert process_sign_in_request(rows["jane.doe@example.org"]) == "sent"
    assert [m.rcpt_tos for m in outbox.messages] == [["jane.doe@example.org"]]
    assert not SignInRequest.objects.exists() and SignInLink.objects.count() == 1


def test_a_malformed_address_is_asked_again(client: Client) -> None:
    """GIVEN the sign-in page WHEN something that is no address is sent THEN 422 with a hint, nothing queued."""
    response = _ask(client, "not an address")
    assert response.status_code == 422 and "Please enter an email address" in response.content.decode()
    assert not SignInRequest.objects.exists()


def test_the_link_page_spends_nothing_on_get_and_signs_in_once_on_post(
    jane_ticket: Ticket, outbox: CaptureServer
) -> None:
    """
    GIVEN a link mailed to Jane
    WHEN a mail scanner fetches it twice, then Jane presses Continue, then someone posts it again
    THEN the fetches show a Continue button and leave the link unused; Jane's post signs her in; the second post
         answers "not valid" and signs nobody in
    """
    scanner, jane, replay = Client(), Client(), Client()
    _ask(jane, "jane.doe@example.org")
    send_due_sign_in_requests()
    url = f"/portal/link/{_token_from(_mail(outbox))}/"
    for _ in range(2):
        page = scanner.get(url)
        assert page.status_code == 200 and ">Continue</button>" in page.content.decode()
        assert page["Referrer-Policy"] == "no-referrer" and "no-store" in page["Cache-Control"]
    assert SignInLink.objects.get().used_at is None
    assert jane.post(url)["Location"] == "/portal/tickets/"
    assert jane_ticket.subject in jane.get("/portal/tickets/").content.decode()
    again = replay.post(url)
    assert again.status_code == 404 and "This link does not work" in again.content.decode()
    assert replay.get("/portal/tickets/")["Location"] == "/portal/"


def test_an_expired_link_and_a_wrong_token_do_not_sign_in(jane_ticket: Ticket) -> None:
    """
    GIVEN a link of Jane's that expired a second ago, a made-up token and an overlong one
    WHEN they are opened and posted
    THEN each answers "not valid" (404) and the browser is not signed in
    """
    token = issue_link(jane_ticket.requester, timezone.now(), get_portal_settings().link_lifetime)
    SignInLink.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    client = Client()
    for candidate in (token, "A" * 43, "A" * 500):
        assert client.get(f"/portal/link/{candidate}/").status_code == 404
        assert client.post(f"/portal/link/{candidate}/").status_code == 404
    assert client.get("/portal/tickets/")["Location"] == "/portal/"
    assert SignInLink.objects.get().used_at is None


def test_signing_in_rotates_the_session_and_revokes_other_links(jane_ticket: Ticket) -> None:
    """
    GIVEN a browser with a session already, and two links of Jane's in flight
    WHEN she signs in with the first
    THEN the session key changed, the portal key names her, and the second link no longer works
    """
    client = Client()
    before = client.session.session_key
    lifetime = get_portal_settings().link_lifetime
    first = issue_link(jane_ticket.requester, timezone.now(), lifetime)
    second = issue_link(jane_ticket.requester, timezone.now(), lifetime)
    assert client.post(f"/portal/link/{first}/").status_code == 302
    session = client.session
    assert session.session_key != before and session[CONTACT_KEY] == jane_ticket.requester_id
    assert Client().post(f"/portal/link/{second}/").status_code == 404


def test_the_portal_session_ends_after_its_lifetime_and_on_sign_out(
    jane_ticket: Ticket, sign_in: Callable[[Contact], Client]
) -> None:
    """
    GIVEN Jane signed in
    WHEN her sign-in is older than POSTROOM_PORTAL_SESSION_HOURS, and (signed in again) she signs out
    THEN her tickets page sends her to the sign-in page each time and the portal keys are gone
    """
    client = sign_in(jane_ticket.requester)
    assert client.get("/portal/tickets/").status_code == 200
    assert client.get("/portal/")["Location"] == "/portal/tickets/"  # signed in: no form, her requests
    session = client.session
    hours = get_portal_settings().session_lifetime + dt.timedelta(seconds=1)
    session[SIGNED_IN_AT_KEY] = int((timezone.now() - hours).timestamp())
    session.save()
    assert client.get("/portal/tickets/")["Location"] == "/portal/"
    assert CONTACT_KEY not in client.session
    client = sign_in(jane_ticket.requester)
    assert client.post("/portal/sign-out/")["Location"] == "/portal/"
    assert client.get("/portal/tickets/")["Location"] == "/portal/"
    assert CONTACT_KEY not in client.session


def test_links_per_address_are_limited_with_the_same_answer(client: Client, settings: Any) -> None:
    """
    GIVEN at most 2 links per address and hour
    WHEN the same address asks 3 times
    THEN all three answers are the same neutral page, and only 2 requests were queued
    """
    _limits(settings, portal_links_per_address=2)
    answers = [_ask(client, "jane.doe@example.org") for _ in range(3)]
    assert {(a.status_code, a.content) for a in answers} == {(answers[0].status_code, answers[0].content)}
    assert answers[0].status_code == 200 and SignInRequest.objects.count() == 2


def test_requests_per_client_are_limited(client: Client, settings: Any) -> None:
    """
    GIVEN at most 2 sign-in requests per client and hour
    WHEN one client asks for 3 different addresses, and another client then asks
    THEN the third answer is 429 with Retry-After and queues nothing; the other client is not affected
    """
    _limits(settings, portal_links_per_client=2)
    assert [_ask(client, f"person{n}@example.org").status_code for n in range(3)] == [200, 200, 429]
    limited = _ask(client, "person9@example.org")
    assert limited.status_code == 429 and limited["Retry-After"] == "3600"
    assert SignInRequest.objects.count() == 2
    assert _ask(Client(), "person3@example.org", REMOTE_ADDR="198.51.100.7").status_code == 200


def test_clients_are_counted_by_ipv4_address_and_ipv6_slash_64() -> None:
    """GIVEN client addresses WHEN bucketed THEN IPv4 as is, IPv6 by its /64, mapped IPv4 as IPv4, junk apart."""
    assert build_client_bucket("192.0.2.10") == "192.0.2.10"
    assert build_client_bucket("2001:db8:1:2:aaaa::1") == build_client_bucket("2001:db8:1:2:bbbb::9")
    assert build_client_bucket("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert build_client_bucket("2001:db8:1:3::1") != build_client_bucket("2001:db8:1:2::1")
    assert build_client_bucket("::ffff:192.0.2.10") == "192.0.2.10"
    assert build_client_bucket("") == "unknown"


def test_a_deferred_mail_is_retried_by_the_sweeper(
    client: Client, jane_ticket: Ticket, outbox: CaptureServer, settings: Any
) -> None:
    """
    GIVEN no SMTP relay configured when Jane asks for a link
    WHEN the worker tries, the relay is configured, and the sweeper runs when the retry is due
    THEN the first try is deferred (row kept with the reason, nothing sent), the retry sends one mail, the row is gone
    """
    relay = settings.POSTROOM.outbound_smtp_url
    _limits(settings, outbound_smtp_url="")
    _ask(client, "jane.doe@example.org")
    row = SignInRequest.objects.get()
    assert process_sign_in_request(row.pk) == "deferred"
    row.refresh_from_db()
    assert row.status == SignInRequestStatus.DEFERRED and "POSTROOM_OUTBOUND_SMTP_URL" in row.last_reply
    assert row.next_attempt_at > timezone.now() and outbox.messages == []
    assert send_due_sign_in_requests() == 0  # not due yet
    _limits(settings, outbound_smtp_url=relay)
    assert send_due_sign_in_requests(now=row.next_attempt_at) == 1
    assert len(outbox.messages) == 1 and not SignInRequest.objects.exists()


def test_a_request_older_than_a_link_is_dropped(client: Client, jane_ticket: Ticket, outbox: CaptureServer) -> None:
    """GIVEN a queued request WHEN the worker first gets to it after a link's lifetime THEN no mail, row gone."""
    _ask(client, "jane.doe@example.org")
    row = SignInRequest.objects.get()
    late = row.requested_at + get_portal_settings().link_lifetime
    assert process_sign_in_request(row.pk, now=late) == "expired"
    assert outbox.messages == [] and not SignInRequest.objects.exists() and not SignInLink.objects.exists()


def test_posts_without_a_csrf_token_are_refused(jane_ticket: Ticket) -> None:
    """GIVEN a browser enforcing CSRF WHEN the sign-in form and a link are posted without the token THEN 403."""
    client = Client(enforce_csrf_checks=True)
    assert _ask(client, "jane.doe@example.org").status_code == 403
    token = issue_link(jane_ticket.requester, timezone.now(), get_portal_settings().link_lifetime)
    assert client.post(f"/portal/link/{token}/").status_code == 403
    assert not SignInRequest.objects.exists() and SignInLink.objects.get().used_at is None
    page = client.get(f"/portal/link/{token}/").content.decode()
    csrf = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    assert client.post(f"/portal/link/{token}/", {"csrfmiddlewaretoken": csrf}).status_code == 302


def test_console_and_portal_sessions_do_not_open_each_other(
    jane_ticket: Ticket, sign_in: Callable[[Contact], Client]
) -> None:
    """
    GIVEN an admin signed in to the console, and Jane signed in to the portal
    WHEN the admin opens portal pages and Jane opens console pages and the API
    THEN the admin is sent to the portal's sign-in page, Jane to the console's sign-in page (the API: 401)
    """
    from postroom.accounts.models import Role
    from postroom.tenants.services import get_default_tenant

    admin = Client()
    admin.force_login(make_staff(Role.ADMIN, get_default_tenant()))
    for url in ("/portal/tickets/", f"/portal/tickets/{jane_ticket.reference}/"):
        assert admin.get(url)["Location"] == "/portal/"
    assert admin.get("/portal/").status_code == 200  # the sign-in form, not a ticket list
    jane = sign_in(jane_ticket.requester)
    for url in ("/", f"/tickets/{jane_ticket.reference}/"):
        assert jane.get(url)["Location"].startswith("/login/")
    assert jane.get(f"/api/v1/tickets/{jane_ticket.reference}/messages").status_code == 401
