"""The outbound relay signs in to a mailbox's own submission server with that mailbox's OAuth tokens: XOAUTH2 and
OAUTHBEARER against an aiosmtpd server that checks each token with the test provider (tests/oauthserver.py)."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from oauthserver import OAuthTestServer, serve_oauth
from postroom.connectors.oauth.store import read_tokens
from postroom.mail.transport.sasl_oauth import build_client_response
from postroom.mailboxes.models import ConnectorKind, Mailbox
from postroom.outbound.relay import close_pools, find_relay_settings, get_pool
from postroom.tenants.services import get_default_tenant
from postroom.tickets.services import ensure_default_queue
from smtpcapture import find_free_port

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_ID = "smtp-app"
USER = "sender@example.test"
RAW = b"From: sender@example.test\r\nTo: c@example.org\r\nSubject: hi\r\n\r\nhello\r\n"


class OAuthSubmission:
    """aiosmtpd handler: AUTH XOAUTH2 / OAUTHBEARER accepted when the provider says the token is USER's and live."""

    def __init__(self, oauth: OAuthTestServer) -> None:
        self.oauth = oauth
        self.attempts: list[tuple[str, bool]] = []
        self.received: list[bytes] = []
        self.port = 0

    def _check(self, mechanism: str, blob: bytes) -> bool:
        token = next(
            (part[len("auth=Bearer ") :] for part in blob.decode().split("\x01") if part.startswith("auth=")), ""
        )
        ok = self.oauth.is_access_token_active(token) and blob == build_client_response(
            "oauthbearer" if mechanism == "OAUTHBEARER" else "xoauth2", USER, token, "127.0.0.1", self.port
        )
        self.attempts.append((mechanism, ok))
        return ok

    async def _auth(self, server: SMTP, args: list[str], mechanism: str) -> AuthResult:
        blob = base64.b64decode(args[1]) if len(args) > 1 else b""
        if self._check(mechanism, blob):
            return AuthResult(success=True, auth_data=LoginPassword(USER.encode(), b""))
        await server.challenge_auth(base64.b64encode(b'{"status":"invalid_token"}').decode(), encode_to_b64=False)
        return AuthResult(success=False, handled=False)

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:  # noqa: N802 (aiosmtpd's name)
        return await self._auth(server, args, "XOAUTH2")

    async def auth_OAUTHBEARER(self, server: SMTP, args: list[str]) -> AuthResult:  # noqa: N802 (aiosmtpd's name)
        return await self._auth(server, args, "OAUTHBEARER")

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.received.append(bytes(envelope.original_content or b""))
        return "250 OK"


@pytest.fixture(scope="module")
def oauth() -> Iterator[OAuthTestServer]:
    yield from serve_oauth()


@pytest.fixture
def submission(oauth: OAuthTestServer, settings: Any) -> Iterator[OAuthSubmission]:
    settings.POSTROOM = dataclasses.replace(settings.POSTROOM, allow_private_hosts=True)
    oauth.add_client(CLIENT_ID, "smtp-secret")
    handler = OAuthSubmission(oauth)
    handler.port = find_free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port, auth_require_tls=False)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()
        close_pools()


def sending_mailbox(oauth: OAuthTestServer, port: int, mechanism: str, **secrets: str) -> Mailbox:
    tenant = get_default_tenant()
    return Mailbox.objects.create(
        tenant=tenant,
        name=f"Sender {mechanism}",
        address=USER,
        kind=ConnectorKind.SMTP,
        settings={
            "outbound": {
                "host": "127.0.0.1",
                "port": port,
                "tls": "none",
                "username": USER,
                "auth_mechanism": mechanism,
            },
            "oauth": {"provider": "google", "client_id": CLIENT_ID, "token_url": oauth.token_url},
        },
        secrets={"oauth_client_secret": "smtp-secret", **secrets},
        default_queue=ensure_default_queue(tenant),
    )


@pytest.mark.parametrize("mechanism", ["xoauth2", "oauthbearer"])
def test_the_relay_authenticates_with_the_mailboxs_refreshed_token(
    oauth: OAuthTestServer, submission: OAuthSubmission, mechanism: str
) -> None:
    """GIVEN a mailbox whose outbound server takes OAuth WHEN a reply is sent from its address THEN the token is
    refreshed from the mailbox's refresh token, AUTH succeeds with the mechanism, and the message arrives."""
    sending_mailbox(oauth, submission.port, mechanism, oauth_refresh_token=oauth.issue_refresh_token(USER, CLIENT_ID))
    smtp = find_relay_settings(get_default_tenant(), USER)
    result = get_pool(smtp).send(USER, ["c@example.org"], RAW)
    assert result.is_sent, result.reply
    assert submission.attempts == [(mechanism.upper(), True)]
    assert submission.received and submission.received[0].endswith(b"hello\r\n")


def test_a_refused_token_is_replaced_once_then_sending_works(
    oauth: OAuthTestServer, submission: OAuthSubmission
) -> None:
    """GIVEN a stored access token that looks fresh but was revoked WHEN a message is sent THEN the first AUTH is
    refused (535), the token source is invalidated, a new token is refreshed, and the second AUTH sends it."""
    import datetime as dt

    revoked = oauth.issue_access_token(USER, CLIENT_ID, lifetime=3600)
    oauth.revoke(revoked)
    mailbox = sending_mailbox(
        oauth,
        submission.port,
        "xoauth2",
        oauth_refresh_token=oauth.issue_refresh_token(USER, CLIENT_ID),
        oauth_access_token=revoked,
        oauth_expires_at=(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat(),
    )
    result = get_pool(find_relay_settings(get_default_tenant(), USER)).send(USER, ["c@example.org"], RAW)
    assert result.is_sent, result.reply
    assert submission.attempts == [("XOAUTH2", False), ("XOAUTH2", True)]
    assert read_tokens(Mailbox.objects.get(pk=mailbox.pk).secrets).access_token != revoked


def test_a_revoked_refresh_token_fails_the_delivery_with_the_sign_in_page(
    oauth: OAuthTestServer, submission: OAuthSubmission
) -> None:
    """GIVEN a revoked refresh token WHEN a message is sent THEN it FAILS (retrying cannot help) naming the sign-in."""
    dead = oauth.issue_refresh_token(USER, CLIENT_ID)
    oauth.revoke(dead)
    mailbox = sending_mailbox(oauth, submission.port, "xoauth2", oauth_refresh_token=dead)
    result = get_pool(find_relay_settings(get_default_tenant(), USER)).send(USER, ["c@example.org"], RAW)
    assert result.status.value == "failed"
    assert f"an admin must sign in again at /admin/mailboxes/{mailbox.pk}/oauth/" in result.reply
    assert submission.attempts == [] and submission.received == []
